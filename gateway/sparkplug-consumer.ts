/**
 * Sparkplug B host-side state for the gateway: per edge node and device, the alias → name map and
 * the datatypes from the births, so DDATA (which carries aliases only) can become plc_tags points.
 * Pure logic: no MQTT, no clock unless given; the gateway feeds it decoded messages.
 *
 * Mapping to the schema of ARCHITECTURE.md: site = group id, node = edge node id, asset/tag from
 * the metric name `<asset>/<tag>` (the first `/` splits; our agent names metrics so). A name
 * without `/` (other senders) gives asset = device id, tag = name. Sparkplug carries no area or
 * line: those tags are left empty, so the line protocol has no area/line tag for these points.
 *
 * Values of DBIRTH and DDATA are both stored (a birth carries current values). Timestamps: the
 * metric's, else the payload's, else the receive time; historical metrics keep theirs like any
 * other. Quality from the "Quality" property: absent or 192 good, 500 (STALE) uncertain, other
 * codes by the OPC ranges (< 64 bad, < 192 uncertain); a null value is stored as bad.
 *
 * DDATA before a birth, or with an alias the birth did not define, is dropped and counted
 * (`sparkplug-no-birth`, `sparkplug-unknown-alias`), and the result asks for a rebirth (NCMD
 * "Node Control/Rebirth") at most once per edge node per `rebirthIntervalMs`.
 */
import {
  QUALITY_CODE,
  QUALITY_PROPERTY,
  REBIRTH_METRIC,
  encodePayload,
  sparkplugTopic,
  type DataType,
  type DecodedMetric,
  type DecodedPayload,
  type SparkplugTopic,
} from '../protocols/mqtt/sparkplug.js';
import type { Quality, TagValue } from '../protocols/types.js';
import { seriesOf, type TagPoint } from './points.js';

export const NO_BIRTH = 'sparkplug-no-birth';
export const UNKNOWN_ALIAS = 'sparkplug-unknown-alias';
export const DEFAULT_REBIRTH_INTERVAL_MS = 10_000;

interface MetricDef {
  name: string;
  type?: DataType;
  /** Asset, tag and series text of its points, made at its first point (see `point`). */
  target?: { asset: string; tag: string; series: string };
}

interface DeviceState {
  byAlias: Map<number, MetricDef>;
  byName: Map<string, MetricDef>;
}

interface NodeState {
  /** bdSeq of the NBIRTH, to ignore a late NDEATH (the Will of an older connection). */
  bdSeq?: number;
  born: boolean;
  devices: Map<string, DeviceState>;
  lastRebirthRequest?: number;
}

export interface SparkplugProblem {
  reason: string;
  detail: string;
}

export interface SparkplugResult {
  points: TagPoint[];
  problems: SparkplugProblem[];
  /** An NCMD rebirth request to publish, when one is due. */
  rebirth?: { topic: string; payload: Buffer };
}

export interface SparkplugConsumerOptions {
  rebirthIntervalMs?: number;
  /** Clock for receive times and the rebirth limit; Date.now by default. */
  now?: () => number;
}

export class SparkplugConsumer {
  private readonly nodes = new Map<string, NodeState>();
  private readonly rebirthIntervalMs: number;
  private readonly now: () => number;

  constructor(options: SparkplugConsumerOptions = {}) {
    this.rebirthIntervalMs = options.rebirthIntervalMs ?? DEFAULT_REBIRTH_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Edge nodes known, with their born devices; for stats and tests. */
  get state(): Record<string, { born: boolean; devices: string[] }> {
    const out: Record<string, { born: boolean; devices: string[] }> = {};
    for (const [key, n] of this.nodes) out[key] = { born: n.born, devices: [...n.devices.keys()] };
    return out;
  }

  /** One decoded message on a Sparkplug topic. */
  handle(topic: SparkplugTopic, payload: DecodedPayload): SparkplugResult {
    const key = `${topic.group}/${topic.edgeNode}`;
    const result: SparkplugResult = { points: [], problems: [] };
    switch (topic.verb) {
      case 'NBIRTH': {
        const bdSeq = payload.metrics.find((m) => m.name === 'bdSeq')?.value;
        this.nodes.set(key, {
          born: true,
          devices: new Map(),
          ...(typeof bdSeq === 'number' ? { bdSeq } : {}),
          ...pick(this.nodes.get(key)),
        });
        return result;
      }
      case 'NDEATH': {
        const node = this.nodes.get(key);
        const bdSeq = payload.metrics.find((m) => m.name === 'bdSeq')?.value;
        if (node && (node.bdSeq === undefined || bdSeq === undefined || bdSeq === node.bdSeq)) {
          node.born = false;
          node.devices.clear();
        }
        return result;
      }
      case 'NDATA':
      case 'NCMD':
      case 'DCMD':
        // Node metrics (bdSeq, controls) and commands are not plant data.
        return result;
    }
    const node = this.nodes.get(key);
    const device = topic.device;
    if (!node?.born) {
      result.problems.push({
        reason: NO_BIRTH,
        detail: `${topic.verb} from ${key}/${device} before its NBIRTH`,
      });
      this.requestRebirth(topic, key, result);
      return result;
    }
    switch (topic.verb) {
      case 'DBIRTH': {
        const state: DeviceState = { byAlias: new Map(), byName: new Map() };
        for (const m of payload.metrics) {
          if (m.name === undefined) continue;
          const def: MetricDef = { name: m.name, ...(m.type ? { type: m.type } : {}) };
          state.byName.set(m.name, def);
          if (m.alias !== undefined) state.byAlias.set(m.alias, def);
        }
        node.devices.set(device, state);
        for (const m of payload.metrics)
          if (m.name !== undefined)
            result.points.push(this.point(topic, device, state.byName.get(m.name)!, m, payload));
        return result;
      }
      case 'DDEATH':
        node.devices.delete(device);
        return result;
      case 'DDATA': {
        const state = node.devices.get(device);
        if (!state) {
          result.problems.push({
            reason: NO_BIRTH,
            detail: `DDATA from ${key}/${device} before its DBIRTH`,
          });
          this.requestRebirth(topic, key, result);
          return result;
        }
        const unknown: string[] = [];
        for (const m of payload.metrics) {
          const def =
            m.alias !== undefined
              ? state.byAlias.get(m.alias)
              : m.name !== undefined
                ? state.byName.get(m.name)
                : undefined;
          if (!def) {
            unknown.push(m.alias !== undefined ? `alias ${m.alias}` : (m.name ?? '(unnamed)'));
            continue;
          }
          result.points.push(this.point(topic, device, def, m, payload));
        }
        if (unknown.length > 0) {
          result.problems.push({
            reason: UNKNOWN_ALIAS,
            detail: `DDATA from ${key}/${device}: ${unknown.join(', ')} not in its DBIRTH`,
          });
          this.requestRebirth(topic, key, result);
        }
        return result;
      }
    }
  }

  /** A point of `def`; its asset, tag and series text are worked out once per metric. */
  private point(
    topic: SparkplugTopic,
    device: string,
    def: MetricDef,
    m: DecodedMetric,
    payload: DecodedPayload,
  ): TagPoint {
    let target = def.target;
    if (!target) {
      const { name } = def;
      const slash = name.indexOf('/');
      const [asset, tag] =
        slash > 0 && slash < name.length - 1
          ? [name.slice(0, slash), name.slice(slash + 1)]
          : [device, name];
      const tags = { site: topic.group, area: '', line: '', asset, tag, node: topic.edgeNode };
      target = def.target = { asset, tag, series: seriesOf(tags) };
    }
    const value = tagValue(m.value);
    const q = metricQuality(m);
    return {
      site: topic.group,
      area: '',
      line: '',
      asset: target.asset,
      tag: target.tag,
      node: topic.edgeNode,
      value,
      quality: value === null ? 'bad' : q,
      ts: m.timestamp ?? payload.timestamp ?? this.now(),
      series: target.series,
    };
  }

  private requestRebirth(topic: SparkplugTopic, key: string, result: SparkplugResult): void {
    const now = this.now();
    let node = this.nodes.get(key);
    if (!node) {
      node = { born: false, devices: new Map() };
      this.nodes.set(key, node);
    }
    if (
      node.lastRebirthRequest !== undefined &&
      now - node.lastRebirthRequest < this.rebirthIntervalMs
    )
      return;
    node.lastRebirthRequest = now;
    result.rebirth = {
      topic: sparkplugTopic({ group: topic.group, verb: 'NCMD', edgeNode: topic.edgeNode }),
      payload: encodePayload({
        timestamp: now,
        metrics: [{ name: REBIRTH_METRIC, type: 'Boolean', value: true }],
      }),
    };
  }
}

/** Keeps the rebirth limit across a new NBIRTH, so a flapping node is not asked more often. */
function pick(node: NodeState | undefined): Partial<NodeState> {
  return node?.lastRebirthRequest !== undefined
    ? { lastRebirthRequest: node.lastRebirthRequest }
    : {};
}

function tagValue(v: DecodedMetric['value']): TagValue | null {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

/** Quality property: absent or 192 good, 500 (STALE) uncertain, 0 bad; others by OPC ranges. */
export function metricQuality(m: Pick<DecodedMetric, 'properties'>): Quality {
  const code = m.properties[QUALITY_PROPERTY]?.value;
  if (code === undefined || code === null) return 'good';
  const n = Number(code);
  if (n === QUALITY_CODE.good) return 'good';
  if (n === QUALITY_CODE.stale) return 'uncertain';
  if (!Number.isFinite(n) || n < 64) return 'bad';
  return n < 192 ? 'uncertain' : 'good';
}
