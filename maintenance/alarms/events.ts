import { escape } from '@influxdata/influxdb-client';
import { ROOT } from '../../protocols/mqtt/topics.js';
import type { AlarmEvent, AlarmSnapshot } from './types.js';

/** InfluxDB measurement of alarm events (ARCHITECTURE.md). */
export const ALARM_MEASUREMENT = 'alarms';
/** Topic level under a site for retained alarm states, beside `_nodes`. */
export const ALARMS_LEVEL = '_alarms';

/** `factorylm/<site>/_alarms/<asset>/<rule>`: the alarm's retained state. */
export function alarmTopic(site: string, asset: string, rule: string): string {
  return `${ROOT}/${site}/${ALARMS_LEVEL}/${asset}/${rule}`;
}

/** The alarm's value as a float field: bits as 0/1; text and missing values have none. */
function floatOf(v: AlarmSnapshot['value']): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * InfluxDB line protocol for one alarm event, millisecond precision: measurement `alarms`,
 * tags site, area, line, asset, rule, severity (empty ones left out, as line protocol needs);
 * fields `state` (ISA-18.2 state after the event), `event` (raised, cleared …), `text`,
 * `value` (a float, as in plc_tags, left out when the value is text or missing) and
 * `work_order` (the CMMS order, when the caller knows it).
 */
export function alarmLine(event: AlarmEvent, workOrder?: string): string {
  const tags: [string, string][] = [
    ['area', event.area],
    ['asset', event.asset],
    ['line', event.line],
    ['rule', event.rule],
    ['severity', event.severity],
    ['site', event.site],
  ];
  let line = ALARM_MEASUREMENT;
  for (const [k, v] of tags) if (v) line += `,${k}=${escape.tag(v)}`;
  let fields = `event=${escape.quoted(event.kind)},state=${escape.quoted(event.state)},text=${escape.quoted(event.text)}`;
  const value = floatOf(event.value);
  if (value !== undefined) fields += `,value=${value}`;
  if (workOrder) fields += `,work_order=${escape.quoted(workOrder)}`;
  return `${line} ${fields} ${event.ts}`;
}

/**
 * The retained MQTT payload of an alarm's state (JSON), for n8n, dashboards and other gateways.
 * A normal alarm is published too (state `normal`), so a subscriber sees it return; `workOrder`
 * is the CMMS order when the caller knows it.
 */
export function alarmStatePayload(snapshot: AlarmSnapshot, workOrder?: string): string {
  return JSON.stringify(workOrder ? { ...snapshot, workOrder } : snapshot);
}
