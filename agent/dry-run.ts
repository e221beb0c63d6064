/**
 * `factorylm agent --test`: Telegraf's `--test` for this agent. Every device is connected once and
 * every tag read once; what the agent would publish is shown, and nothing is: no broker
 * connection, no outbox. Built from the agent's public pieces (config, device sources, tag model,
 * payload encoders), so it reads and encodes exactly as the service does.
 */
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { AREAS } from '../protocols/modbus/address.js';
import { hintFor } from '../protocols/modbus/hints.js';
import { sparkplugTopic } from '../protocols/mqtt/sparkplug-topic.js';
import { qualityCode, SampleFrame } from '../protocols/sample-frame.js';
import type { Quality, Reading, TagSource, TagValue } from '../protocols/types.js';
import { tagId } from '../protocols/driver.js';
import { driverFor, openSources } from '../protocols/registry.js';
import { agentStateDir, type AgentConfig, type DeviceConfig } from './config.js';
import { buildTags } from './device-runtime.js';
import { publishCycle, publisherFor } from './publishers.js';
import { toEngineering } from '../protocols/tag-values.js';

export interface DryRunTag {
  /** `<asset>/<name>`, as in the agent's logs and the tag manifest. */
  id: string;
  /** Where it lives: the Modbus address in the config's grammar, or the OPC UA node. */
  address?: string;
  /** As read, before scale and offset. */
  raw: TagValue | null;
  /** What would be published (engineering units). */
  value: TagValue | null;
  unit?: string;
  quality: Quality;
  reason?: string;
  /** What to do about a bad reading. */
  hint?: string;
}

export interface DryRunDevice {
  name: string;
  protocol: DeviceConfig['protocol'];
  /** `tcp://10.0.0.5:502 unit 1`, `rtu:/dev/ttyUSB0@9600 unit 3`, `opc.tcp://…`. */
  endpoint: string;
  /** Every tag read good. */
  ok: boolean;
  /** The device answered at all (even if only with exceptions). */
  answered: boolean;
  latencyMs: number;
  /** Why the device as a whole is bad. */
  reason?: string;
  hint?: string;
  /** Modbus: the read requests of one poll. */
  plan?: { area: string; start: number; count: number; tags: number }[];
  tags: DryRunTag[];
  /** What one poll would publish: topic and payload (a summary for Sparkplug). */
  messages: { topic: string; payload: string }[];
}

export interface DryRunReport {
  node: string;
  site: string;
  output: 'json' | 'sparkplug';
  qos: number;
  devices: DryRunDevice[];
  bad: { devices: number; tags: number };
}

export interface DryRunOptions {
  /** OPC UA: how long to wait for every tag's first value beyond the connect timeout, ms. */
  opcuaGraceMs: number;
}

/** A polled OPC UA device delivers subscribed values when they arrive: read until all are in. */
async function readAll(
  source: TagSource,
  ids: string[],
  deadline: number,
): Promise<Map<string, Reading>> {
  const got = new Map<string, Reading>();
  for (;;) {
    for (const r of (await source.read()).readings()) got.set(r.id, r);
    const missing = ids.some((id) => got.get(id)?.quality !== 'good');
    if (!missing || Date.now() >= deadline) return got;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * What the first poll would publish: the agent's own publisher, fed each tag's reading in
 * config order. Sparkplug DDATA is binary, so it is summarised instead.
 */
function messagesOf(
  config: AgentConfig,
  device: DeviceConfig,
  source: TagSource,
  readings: readonly Reading[],
): DryRunDevice['messages'] {
  if (config.publish.output === 'sparkplug') {
    if (readings.length === 0) return [];
    const topic = sparkplugTopic({
      group: config.sparkplug.groupId ?? config.site,
      verb: 'DDATA',
      edgeNode: config.node,
      device: device.name,
    });
    const metrics = readings.map((r, i) => {
      const t = device.tags[i]!;
      const value = r.value === null ? null : toEngineering(r.value, t.scale, t.offset);
      return `${r.id}=${r.quality === 'good' ? String(value) : r.quality}`;
    });
    return [{ topic, payload: `Sparkplug B, ${readings.length} metrics: ${metrics.join(', ')}` }];
  }
  const frame = new SampleFrame(source.tagIds);
  frame.reset(readings.length);
  readings.forEach((r, i) =>
    frame.put(i, i, r.value, qualityCode(r.quality), r.reason, r.ts, r.sourceTs),
  );
  const messages: DryRunDevice['messages'] = [];
  const sink = {
    append: (topic: string, payload: string | Buffer) =>
      messages.push({ topic, payload: String(payload) }),
  };
  publishCycle(buildTags(config, device, source.tagIds), frame, publisherFor(config, device, sink));
  return messages;
}

export async function runDryRun(
  config: AgentConfig,
  log: Logger,
  options: DryRunOptions = { opcuaGraceMs: 5000 },
): Promise<DryRunReport> {
  // Same folder as the agent's own OPC UA certificate, so the server trusts the same one.
  const { sources, close } = await openSources(config.devices, {
    log,
    stateDir: agentStateDir(config),
  });
  const runOne = async (device: DeviceConfig, source: TagSource): Promise<DryRunDevice> => {
    const driver = driverFor(device);
    const endpoint = driver.endpoint(device);
    const addresses = new Map(
      device.tags.map((t) => [tagId(device, t), driver.canonicalAddress(device, t)]),
    );
    const ids = device.tags.map((t) => tagId(device, t));
    const started = Date.now();
    const settleMs = driver.settleMs?.(device);
    let readings: Map<string, Reading>;
    try {
      readings =
        settleMs === undefined
          ? new Map((await source.read()).readings().map((r) => [r.id, r]))
          : await readAll(source, ids, started + settleMs + options.opcuaGraceMs);
    } catch (err) {
      readings = new Map();
      source.status.lastError = errorMessage(err);
    }
    const latencyMs = Date.now() - started;
    const unitId = 'unitId' in device ? device.unitId : undefined;
    const read = device.tags.map(
      (t): Reading =>
        readings.get(tagId(device, t)) ?? {
          id: tagId(device, t),
          value: null,
          quality: 'bad',
          reason: source.status.lastError ?? `no value within ${latencyMs} ms`,
          ts: Date.now(),
        },
    );
    const tags = device.tags.map((t, i) => {
      const r = read[i]!;
      const id = r.id;
      const value = r.value === null ? null : toEngineering(r.value, t.scale, t.offset);
      const hint = r.reason ? hintFor(r.reason, unitId === undefined ? {} : { unitId }) : undefined;
      return {
        id,
        ...(addresses.get(id) ? { address: addresses.get(id) } : {}),
        raw: r.value,
        value,
        ...(t.unit ? { unit: t.unit } : {}),
        quality: r.quality,
        ...(r.reason ? { reason: r.reason } : {}),
        ...(hint ? { hint } : {}),
      };
    });
    const good = tags.filter((t) => t.quality === 'good').length;
    // Exception 10/11 come from a gateway in front: the device itself never answered.
    const gatewayOnly = tags.every((t) => /exception 1[01]\b/.test(t.reason ?? ''));
    const answered = good > 0 || (source.status.connected && !gatewayOnly);
    const reason = answered ? undefined : (source.status.lastError ?? tags[0]?.reason);
    const deviceHint = reason ? hintFor(reason, unitId === undefined ? {} : { unitId }) : undefined;
    return {
      name: device.name,
      protocol: device.protocol,
      endpoint,
      ok: good === tags.length,
      answered,
      latencyMs,
      ...(reason ? { reason } : {}),
      ...(deviceHint ? { hint: deviceHint } : {}),
      ...(source.planned ? { plan: [...source.planned] } : {}),
      tags,
      messages: messagesOf(config, device, source, read),
    };
  };
  try {
    const devices = await Promise.all(config.devices.map((d, i) => runOne(d, sources[i]!)));
    return {
      node: config.node,
      site: config.site,
      output: config.publish.output,
      qos: config.publish.qos,
      devices,
      bad: {
        devices: devices.filter((d) => !d.answered).length,
        tags: devices.reduce((n, d) => n + d.tags.filter((t) => t.quality !== 'good').length, 0),
      },
    };
  } finally {
    await close();
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function showValue(t: DryRunTag): string {
  if (t.quality !== 'good') return `${t.quality}: ${t.reason ?? 'no reason given'}`;
  const scaled = t.raw !== t.value ? ` (raw ${JSON.stringify(t.raw)})` : '';
  return `${JSON.stringify(t.value)}${t.unit ? ` ${t.unit}` : ''}${scaled}`;
}

/** The report as text for a terminal or a ticket: devices, plan, tags, messages. Pure. */
export function formatDryRun(report: DryRunReport, file: string): string {
  const out: string[] = [
    `Dry run of ${file}: node ${report.node}, site ${report.site}, output ${report.output}, QoS ${report.qos}.`,
    'Nothing was published and the outbox was not touched.',
  ];
  for (const d of report.devices) {
    out.push('');
    const mark = d.ok ? '✔' : '✖';
    const state = d.answered
      ? `answered in ${d.latencyMs} ms`
      : `no answer: ${d.reason ?? 'unknown'}`;
    out.push(`${mark} device ${d.name} (${d.protocol} ${d.endpoint}): ${state}`);
    if (d.hint && !d.answered) out.push(`    → ${d.hint}`);
    if (d.plan) {
      const ranges = d.plan.map((r) => {
        const bits = AREAS[r.area as keyof typeof AREAS].bits;
        const span =
          r.count === 1 ? `${r.area}:${r.start}` : `${r.area}:${r.start}..${r.start + r.count - 1}`;
        return `${span} (${plural(r.count, bits ? 'bit' : 'register')}, ${plural(r.tags, 'tag')})`;
      });
      out.push(`  plan: ${plural(d.plan.length, 'request')} per poll: ${ranges.join(', ')}`);
    }
    const width = Math.max(...d.tags.map((t) => t.id.length), 3);
    const addressWidth = Math.max(...d.tags.map((t) => (t.address ?? '').length), 7);
    for (const t of d.tags) {
      const tagMark = t.quality === 'good' ? '✔' : '✖';
      out.push(
        `  ${tagMark} ${t.id.padEnd(width)}  ${(t.address ?? '').padEnd(addressWidth)}  ${showValue(t)}`,
      );
      if (t.hint && d.answered) out.push(`      → ${t.hint}`);
    }
    if (d.messages.length > 0) {
      out.push(`  would publish (${plural(d.messages.length, 'message')}):`);
      for (const m of d.messages) out.push(`    ${m.topic}  ${m.payload}`);
    }
  }
  out.push('');
  const { devices, tags } = report.bad;
  out.push(
    devices + tags === 0
      ? `All ${plural(report.devices.length, 'device')} and ${plural(
          report.devices.reduce((n, d) => n + d.tags.length, 0),
          'tag',
        )} good.`
      : `${plural(devices, 'device')} not answering, ${plural(tags, 'bad tag')}.`,
  );
  return out.join('\n');
}
