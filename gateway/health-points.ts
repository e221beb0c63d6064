import { Point } from '@influxdata/influxdb-client';
import type { Decoded } from '../protocols/mqtt/payload.js';

export const AGENT_HEALTH_MEASUREMENT = 'edge_agent_health';
export const DEVICE_HEALTH_MEASUREMENT = 'edge_device_health';
export const GATEWAY_HEALTH_MEASUREMENT = 'gateway_health';

/** Where a health message came from: its topic, `factorylm/<site>/_nodes/<node>/health`. */
export interface HealthSource {
  site: string;
  node: string;
}

const msTime = (v: string | number | Date | undefined) => (v === undefined ? undefined : String(v));

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function fail(detail: string): Decoded<string[]> {
  return { ok: false, reason: 'bad-health', detail };
}

/** A number at a dotted path of `o`, or undefined when any step is missing or not a number. */
function num(o: Json, path: string): number | undefined {
  let v: unknown = o;
  for (const key of path.split('.')) {
    if (!isObject(v)) return undefined;
    v = v[key];
  }
  return isNumber(v) ? v : undefined;
}

/**
 * Every numeric field is written as a float: InfluxDB fixes a field's type per shard, and an
 * integer that later arrives as 1.5 (or a count that arrives as 0 vs 0.0) would be refused.
 */
function floats(point: Point, fields: [string, number | undefined][]): void {
  for (const [name, value] of fields) if (value !== undefined) point.floatField(name, value);
}

/**
 * The agent's health JSON (`AgentHealth`, retained on `factorylm/<site>/_nodes/<node>/health`)
 * as InfluxDB lines, millisecond precision, at the health's own `ts`:
 *
 * - one `edge_agent_health` line, tags `site, node`; fields `rss` (MB), `poll_latency_ms` (p99
 *   since start; also `poll_latency_p50_ms`, `poll_latency_max_ms`), `queue_depth` (outbox
 *   samples not yet acknowledged; `queue_bytes`), `dropped` (outbox samples dropped since
 *   start), `status` (ok|degraded|down), `up` (1 while the node reports), `uptime_sec`,
 *   `broker_connected` (0/1), `samples_read`, `samples_published`, `event_loop_lag_ms` (p99),
 *   `devices_connected`, `devices`. ARCHITECTURE.md also names `cpu`, but the agent's health
 *   has no CPU figure yet, so no `cpu` field is written.
 * - one `edge_device_health` line per device, tags `site, node, device`; fields `connected`
 *   (0/1), `errors`, `requests`, `latency_ms` (when the device reported one), `timeouts`,
 *   `cycles`, `missed_cycles`, `status` (connected|disconnected|failing).
 *
 * Site and node come from the topic (what the broker's ACL vouches for); a payload naming
 * another node is refused. Never throws: a malformed health is a `bad-health` reason with a
 * detail naming the field, for the caller to count.
 */
export function healthLines(source: HealthSource, payload: Buffer | string): Decoded<string[]> {
  let data: unknown;
  try {
    data = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'not-json', detail: (err as Error).message };
  }
  if (!isObject(data))
    return { ok: false, reason: 'not-object', detail: 'health is not a JSON object' };
  const h = data;
  const ts = h.ts;
  if (
    typeof ts !== 'number' ||
    !Number.isInteger(ts) ||
    ts <= 946_684_800_000 ||
    ts >= 4_102_444_800_000
  )
    return fail(`"ts" must be epoch milliseconds, got ${JSON.stringify(ts)}`);
  if (h.node !== undefined && h.node !== source.node)
    return fail(
      `"node" is ${JSON.stringify(h.node)} but the topic is _nodes/${source.node}/health`,
    );
  if (h.status !== 'ok' && h.status !== 'degraded' && h.status !== 'down')
    return fail(`"status" must be ok|degraded|down, got ${JSON.stringify(h.status)}`);
  if (!Array.isArray(h.devices)) return fail('"devices" must be an array');

  const lines: string[] = [];
  let connected = 0;
  for (const [i, d] of (h.devices as unknown[]).entries()) {
    if (!isObject(d)) return fail(`"devices[${i}]" must be an object`);
    if (typeof d.name !== 'string' || d.name === '')
      return fail(`"devices[${i}].name" must be a non-empty string`);
    if (d.status !== 'connected' && d.status !== 'disconnected' && d.status !== 'failing')
      return fail(
        `"devices[${i}].status" must be connected|disconnected|failing, got ${JSON.stringify(d.status)}`,
      );
    for (const key of ['requests', 'errors'])
      if (!isNumber(d[key]))
        return fail(`"devices[${i}].${key}" must be a number, got ${JSON.stringify(d[key])}`);
    if (d.latencyMs !== undefined && !isNumber(d.latencyMs))
      return fail(`"devices[${i}].latencyMs" must be a number when present`);
    if (d.status === 'connected') connected += 1;
    const point = new Point(DEVICE_HEALTH_MEASUREMENT)
      .tag('site', source.site)
      .tag('node', source.node)
      .tag('device', d.name)
      .stringField('status', d.status)
      .timestamp(ts);
    floats(point, [
      ['connected', d.status === 'connected' ? 1 : 0],
      ['errors', num(d, 'errors')],
      ['requests', num(d, 'requests')],
      ['latency_ms', num(d, 'latencyMs')],
      ['timeouts', num(d, 'timeouts')],
      ['cycles', num(d, 'cycles')],
      ['missed_cycles', num(d, 'missedCycles')],
    ]);
    lines.push(point.toLineProtocol({ convertTime: msTime })!);
  }

  const agent = new Point(AGENT_HEALTH_MEASUREMENT)
    .tag('site', source.site)
    .tag('node', source.node)
    .stringField('status', h.status)
    .timestamp(ts);
  const broker = isObject(h.broker) ? h.broker.connected : undefined;
  floats(agent, [
    ['up', 1],
    ['rss', num(h, 'resources.rssMb')],
    ['poll_latency_ms', num(h, 'pollLatencyMs.p99')],
    ['poll_latency_p50_ms', num(h, 'pollLatencyMs.p50')],
    ['poll_latency_max_ms', num(h, 'pollLatencyMs.max')],
    ['queue_depth', num(h, 'outbox.depth.samples')],
    ['queue_bytes', num(h, 'outbox.depth.bytes')],
    ['dropped', num(h, 'outbox.dropped.samples')],
    ['uptime_sec', num(h, 'uptimeSec')],
    ['broker_connected', typeof broker === 'boolean' ? Number(broker) : undefined],
    ['samples_read', num(h, 'samples.read')],
    ['samples_published', num(h, 'samples.published')],
    ['event_loop_lag_ms', num(h, 'resources.eventLoopLagMs.p99')],
    ['devices', h.devices.length],
    ['devices_connected', connected],
  ]);
  lines.unshift(agent.toLineProtocol({ convertTime: msTime })!);
  return { ok: true, value: lines };
}

/** What the gateway reports about itself (a subset of `GatewayStats`, kept here to stay pure). */
export interface GatewaySnapshot {
  messages: number;
  points: number;
  invalid: Record<string, number>;
  nodes: Record<string, 'online' | 'offline'>;
  sink?: { written: number; dropped: number; pending: number; writeErrors: number };
  sequence?: { missing: number };
}

/**
 * One `gateway_health` line, tag `gateway` (the instance name): cumulative `messages`, `points`,
 * `invalid` (all reasons), `nodes_online`, and the sink's `written`, `dropped`, `pending`,
 * `write_errors` when there is one, and `sequence_missing` (messages lost after the broker
 * acknowledged them) when this gateway checks sequences.
 */
export function gatewayHealthLine(gateway: string, s: GatewaySnapshot, ts: number): string {
  const point = new Point(GATEWAY_HEALTH_MEASUREMENT).tag('gateway', gateway).timestamp(ts);
  floats(point, [
    ['messages', s.messages],
    ['points', s.points],
    ['invalid', Object.values(s.invalid).reduce((a, b) => a + b, 0)],
    ['nodes_online', Object.values(s.nodes).filter((n) => n === 'online').length],
    ['written', s.sink?.written],
    ['dropped', s.sink?.dropped],
    ['pending', s.sink?.pending],
    ['write_errors', s.sink?.writeErrors],
    ['sequence_missing', s.sequence?.missing],
  ]);
  return point.toLineProtocol({ convertTime: msTime })!;
}
