import type { MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  BDSEQ_METRIC,
  commandFilters,
  decodePayload,
  encodePayload,
  QUALITY_CODE,
  QUALITY_PROPERTY,
  REBIRTH_METRIC,
  parseSparkplugTopic,
  sparkplugIdProblem,
  sparkplugTopic,
  type DataType,
  type DecodedMetric,
  type DeviceVerb,
  type Metric,
  type NodeVerb,
} from '../protocols/mqtt/sparkplug.js';
import type { Quality, TagValue } from '../protocols/types.js';

export type SparkplugValueType = 'number' | 'boolean' | 'string';

export interface SparkplugSessionOptions {
  groupId: string;
  edgeNode: string;
  /** Each becomes a Sparkplug device; metric names are the caller's `<asset>/<tag>`. */
  devices: { name: string; metrics: { name: string; type: SparkplugValueType }[] }[];
}

export interface SparkplugSample {
  name: string;
  value: TagValue | null;
  /** Milliseconds since the epoch when the value was read. */
  ts: number;
  quality: Quality;
}

export interface SparkplugMessage {
  topic: string;
  payload: Buffer;
}

export interface SparkplugStats {
  /** Birth sequences (NBIRTH and every DBIRTH) published, on connect and on rebirth requests. */
  births: number;
  /** NCMD and DCMD messages carried out. */
  commands: number;
  /** NCMD and DCMD messages refused as a whole; each refusal is logged with its reason. */
  invalidCommands: number;
}

export type CurrentSample = (device: string, metric: string) => SparkplugSample | undefined;
export type WriteHandler = (
  device: string,
  metric: string,
  value: TagValue,
) => void | Promise<void>;

interface MetricDef {
  name: string;
  alias: number;
  type: DataType;
  valueType: SparkplugValueType;
}

interface DeviceDef {
  name: string;
  metrics: MetricDef[];
  byName: Map<string, MetricDef>;
  byAlias: Map<number, MetricDef>;
}

const DATA_TYPE: Record<SparkplugValueType, DataType> = {
  number: 'Double',
  boolean: 'Boolean',
  string: 'String',
};

/**
 * One Sparkplug B 3.0 edge node on one MQTT client: NDEATH as the Will of every CONNECT, a bdSeq
 * that moves on with each CONNECT, the birth sequence once the command subscriptions are
 * acknowledged, rebirth on request, writes from DCMD, and the node-wide seq of everything it sends.
 *
 * Aliases: device metrics get 1..N in device order, then bdSeq N+1. "Node Control/Rebirth" has
 * none because Sparkplug forbids one.
 *
 * Quality: a good sample is sent as is, with no property (absent means GOOD). A bad sample is sent
 * as is_null with the Int32 property "Quality" = 0 (BAD). An uncertain sample keeps its value and
 * carries "Quality" = 500 (STALE), the only other code Sparkplug allows. A metric never read yet is
 * born as is_null with "Quality" = 0.
 */
export class SparkplugSession {
  private devices = new Map<string, DeviceDef>();
  private bdSeqAlias: number;
  /** Publishes the birth sequence again; set once attached. */
  private rebirth?: () => void;
  private bdSeq = 0;
  /** The seq the next NBIRTH-or-later message gets; an NBIRTH restarts it at 0. */
  private seq = 0;
  /** From the birth sequence of a connection until that connection closes. */
  private born = false;
  /** Changes on every connect, close and close(), so a birth awaiting its SUBACK can tell it is stale. */
  private connection = 0;
  private client: MqttClient | undefined;
  private readonly counts: SparkplugStats = { births: 0, commands: 0, invalidCommands: 0 };

  constructor(
    private readonly options: SparkplugSessionOptions,
    private readonly log: Logger,
  ) {
    this.bdSeqAlias = this.define(options.devices, [
      ...idProblem('group id', options.groupId),
      ...idProblem('edge node id', options.edgeNode),
    ]);
  }

  /**
   * New devices and metrics (after a config reload). Aliases are assigned afresh; while a birth
   * sequence is current it is published again, so hosts learn the new definitions before any DATA
   * uses them. Throws, keeping the old definitions, when the new ones are invalid.
   */
  redefine(devices: SparkplugSessionOptions['devices']): void {
    this.bdSeqAlias = this.define(devices, []);
    if (this.born) this.rebirth?.();
  }

  /** Validates and installs the device definitions; returns the alias of bdSeq (after all metrics). */
  private define(devices: SparkplugSessionOptions['devices'], problems: string[]): number {
    const defs = new Map<string, DeviceDef>();
    let alias = 0;
    for (const device of devices) {
      problems.push(...idProblem('device', device.name));
      if (defs.has(device.name)) problems.push(`device "${device.name}" appears twice`);
      const def: DeviceDef = {
        name: device.name,
        metrics: [],
        byName: new Map(),
        byAlias: new Map(),
      };
      for (const m of device.metrics) {
        if (m.name.length === 0)
          problems.push(`device "${device.name}" has a metric without a name`);
        if (def.byName.has(m.name))
          problems.push(`device "${device.name}" has metric "${m.name}" twice`);
        const metric = { name: m.name, alias: ++alias, type: DATA_TYPE[m.type], valueType: m.type };
        def.metrics.push(metric);
        def.byName.set(metric.name, metric);
        def.byAlias.set(metric.alias, metric);
      }
      defs.set(device.name, def);
    }
    if (problems.length > 0)
      throw new Error(`invalid Sparkplug session options: ${problems.join('; ')}`);
    this.devices = defs;
    return alias + 1;
  }

  get stats(): SparkplugStats {
    return { ...this.counts };
  }

  /**
   * NDEATH with the bdSeq the next NBIRTH will carry (while connected: the current one). Pass it as
   * `will` when creating the MQTT client; attach() keeps it current for every reconnect.
   */
  will(): { topic: string; payload: Buffer; qos: 1; retain: false } {
    const now = Date.now();
    const payload = encodePayload({
      timestamp: now,
      metrics: [{ name: BDSEQ_METRIC, timestamp: now, type: 'Int64', value: this.bdSeq }],
    });
    return { topic: this.nodeTopic('NDEATH'), payload, qos: 1, retain: false };
  }

  /**
   * Runs the session on `client`, which must have been created with `will: session.will()` and not
   * be connected yet. Before each reconnect the Will becomes the next NDEATH (bdSeq + 1, 255 → 0).
   * After each CONNACK: subscribe to NCMD and DCMD/+ at QoS 1, wait for the SUBACK, then publish
   * NBIRTH (seq 0) and one DBIRTH per device with every metric's current value (QoS 0), then call
   * `onBirthed`. An NCMD "Node Control/Rebirth" = true repeats the birth sequence and `onBirthed`.
   * DCMD metrics reach `onWrite` by metric name, all of a message or none of it. Errors thrown by
   * the callbacks are logged, never passed to mqtt.js.
   */
  attach(
    client: MqttClient,
    current: CurrentSample,
    onBirthed: () => void | Promise<void>,
    onWrite: WriteHandler,
  ): void {
    if (this.client) throw new Error('this Sparkplug session is already attached to a client');
    if (client.options.will?.topic !== this.nodeTopic('NDEATH'))
      throw new Error(
        `create the MQTT client with will: session.will(); Sparkplug needs the NDEATH (${this.nodeTopic('NDEATH')}) as the Will of its first CONNECT`,
      );
    if (client.connected)
      throw new Error('attach the Sparkplug session before the client connects');
    this.client = client;
    const birth = () => {
      if (this.publishBirths(client, current)) this.callSafely('onBirthed', onBirthed);
    };
    this.rebirth = birth;
    client.on('reconnect', () => {
      this.bdSeq = (this.bdSeq + 1) % 256;
      client.options.will = this.will();
    });
    client.on('connect', () => {
      this.connection += 1;
      void this.subscribeThenBirth(client, this.connection, birth);
    });
    client.on('close', () => {
      this.connection += 1;
      this.born = false;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload, birth, onWrite));
  }

  /**
   * DDATA for `device` with the given samples, each by alias with its own timestamp, taking the next
   * seq now: publish it (QoS 0, as Sparkplug asks) before building the next message. `historical`
   * marks every metric is_historical (backfill after a reconnect). Undefined when there is nothing to
   * send, or no birth sequence is current (before the first, or since the connection dropped):
   * Sparkplug allows no DATA outside a birth session, and the next DBIRTH carries current values.
   * Throws on a device, metric or value type the session was not built with, which is a caller bug.
   */
  data(
    device: string,
    samples: SparkplugSample[],
    historical: boolean,
  ): SparkplugMessage | undefined {
    const def = this.devices.get(device);
    if (!def) throw new Error(`unknown Sparkplug device "${device}"`);
    const metrics = samples.map((s): Metric => {
      const metric = def.byName.get(s.name);
      if (!metric) throw new Error(`unknown Sparkplug metric "${s.name}" on device "${device}"`);
      return {
        alias: metric.alias,
        type: metric.type,
        ...reading(device, metric, s, s.ts),
        ...(historical ? { isHistorical: true } : {}),
      };
    });
    if (!this.born || metrics.length === 0) return undefined;
    const payload = encodePayload({ timestamp: Date.now(), seq: this.nextSeq(), metrics });
    return { topic: this.deviceTopic('DDATA', device), payload };
  }

  /** The DDATA topic of `device` on this session's group and edge node. */
  ddataTopic(device: string): string {
    return this.deviceTopic('DDATA', device);
  }

  /**
   * Ends the session as Sparkplug asks of an intentional shutdown: NDEATH (QoS 1, acknowledged),
   * then DISCONNECT. The broker discards the Will on a clean DISCONNECT, so without this NDEATH
   * host applications would go on showing the node online.
   */
  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.connection += 1;
    this.born = false;
    if (client.connected) {
      const death = this.will();
      try {
        await client.publishAsync(death.topic, death.payload, { qos: 1, retain: false });
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'could not publish NDEATH before disconnecting');
      }
    }
    await client.endAsync();
  }

  private async subscribeThenBirth(
    client: MqttClient,
    connection: number,
    birth: () => void,
  ): Promise<void> {
    try {
      await client.subscribeAsync(commandFilters(this.options.groupId, this.options.edgeNode), {
        qos: 1,
      });
    } catch (err) {
      if (connection !== this.connection) return;
      this.log.error(
        { err: errorMessage(err) },
        'broker refused the Sparkplug NCMD/DCMD subscriptions; publishing births anyway, but rebirth requests and writes will not arrive',
      );
    }
    // The connection may have dropped while the SUBACK was awaited; its successor births itself.
    if (connection !== this.connection || !client.connected) return;
    birth();
  }

  private publishBirths(client: MqttClient, current: CurrentSample): boolean {
    let messages: SparkplugMessage[];
    try {
      messages = this.birthMessages(current);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'could not build the Sparkplug birth sequence');
      return false;
    }
    for (const m of messages) client.publish(m.topic, m.payload, { qos: 0, retain: false });
    this.born = true;
    this.counts.births += 1;
    this.log.info(
      { bdSeq: this.bdSeq, devices: this.devices.size },
      'published Sparkplug NBIRTH and DBIRTHs',
    );
    return true;
  }

  /** Built in full before anything is sent, so a failure cannot leave an NBIRTH without its DBIRTHs. */
  private birthMessages(current: CurrentSample): SparkplugMessage[] {
    const now = Date.now();
    let seq = 0;
    const messages: SparkplugMessage[] = [
      {
        topic: this.nodeTopic('NBIRTH'),
        payload: encodePayload({
          timestamp: now,
          seq: seq++,
          metrics: [
            {
              name: BDSEQ_METRIC,
              alias: this.bdSeqAlias,
              timestamp: now,
              type: 'Int64',
              value: this.bdSeq,
            },
            { name: REBIRTH_METRIC, timestamp: now, type: 'Boolean', value: false },
          ],
        }),
      },
    ];
    for (const device of this.devices.values()) {
      const metrics = device.metrics.map((m): Metric => ({
        name: m.name,
        alias: m.alias,
        type: m.type,
        ...reading(device.name, m, current(device.name, m.name), now),
      }));
      messages.push({
        topic: this.deviceTopic('DBIRTH', device.name),
        // Past 255 devices the births wrap like any other message.
        payload: encodePayload({ timestamp: now, seq: seq++ % 256, metrics }),
      });
    }
    this.seq = seq % 256;
    return messages;
  }

  private onMessage(topic: string, payload: Buffer, birth: () => void, onWrite: WriteHandler) {
    const t = parseSparkplugTopic(topic);
    if (
      !t ||
      t.group !== this.options.groupId ||
      t.edgeNode !== this.options.edgeNode ||
      (t.verb !== 'NCMD' && t.verb !== 'DCMD')
    )
      return;
    const refuse = (reason: string) => {
      this.counts.invalidCommands += 1;
      this.log.warn({ topic, reason }, 'refused Sparkplug command');
    };
    // A command queued by the broker from an earlier session may be old; a write must not replay it.
    if (!this.born) return refuse('arrived before this connection published its birth sequence');
    const decoded = decodePayload(payload);
    if (!decoded.ok) return refuse(decoded.detail);
    const { metrics } = decoded.value;
    if (metrics.length === 0) return refuse('no metrics');
    if (t.verb === 'NCMD') {
      const problem = metrics.map(rebirthProblem).find((p) => p !== undefined);
      if (problem) return refuse(problem);
      this.counts.commands += 1;
      this.log.info({ topic }, 'Sparkplug rebirth requested');
      birth();
      return;
    }
    const device = 'device' in t ? this.devices.get(t.device) : undefined;
    if (!device) return refuse('no such device on this edge node');
    const writes: { metric: string; value: TagValue }[] = [];
    for (const m of metrics) {
      const resolved = resolveWrite(device, m);
      if (typeof resolved === 'string') return refuse(resolved);
      writes.push(resolved);
    }
    this.counts.commands += 1;
    for (const w of writes) {
      this.log.debug({ device: device.name, metric: w.metric, value: w.value }, 'Sparkplug write');
      this.callSafely('onWrite', () => onWrite(device.name, w.metric, w.value));
    }
  }

  private callSafely(what: string, fn: () => void | Promise<void>): void {
    const report = (err: unknown) =>
      this.log.error({ err: errorMessage(err) }, `Sparkplug ${what} callback failed`);
    try {
      Promise.resolve(fn()).catch(report);
    } catch (err) {
      report(err);
    }
  }

  private nextSeq(): number {
    const seq = this.seq;
    this.seq = (seq + 1) % 256;
    return seq;
  }

  private nodeTopic(verb: NodeVerb): string {
    return sparkplugTopic({ group: this.options.groupId, verb, edgeNode: this.options.edgeNode });
  }

  private deviceTopic(verb: DeviceVerb, device: string): string {
    return sparkplugTopic({
      group: this.options.groupId,
      verb,
      edgeNode: this.options.edgeNode,
      device,
    });
  }
}

function idProblem(what: string, id: string): string[] {
  const problem = sparkplugIdProblem(id);
  return problem ? [`${what} ${JSON.stringify(id)} ${problem}`] : [];
}

/** Value, timestamp and quality property of one metric, per the quality mapping on the class. */
function reading(
  device: string,
  metric: MetricDef,
  sample: SparkplugSample | undefined,
  fallbackTs: number,
): Pick<Metric, 'timestamp' | 'value' | 'properties'> {
  if (!sample) return { timestamp: fallbackTs, value: null, properties: quality('bad') };
  if (sample.value !== null && typeof sample.value !== metric.valueType)
    throw new TypeError(
      `Sparkplug metric "${metric.name}" on device "${device}" is ${metric.valueType}, got ${typeof sample.value}`,
    );
  switch (sample.quality) {
    case 'good':
      return { timestamp: sample.ts, value: sample.value };
    case 'bad':
      return { timestamp: sample.ts, value: null, properties: quality('bad') };
    case 'uncertain':
      return { timestamp: sample.ts, value: sample.value, properties: quality('stale') };
  }
}

function quality(code: 'bad' | 'stale'): Metric['properties'] {
  return { [QUALITY_PROPERTY]: { type: 'Int32', value: QUALITY_CODE[code] } };
}

function rebirthProblem(m: DecodedMetric): string | undefined {
  if (m.name !== REBIRTH_METRIC)
    return `metric ${m.name ?? `alias ${m.alias}`} is not a node command; only "${REBIRTH_METRIC}" is`;
  if (m.value !== true) return `"${REBIRTH_METRIC}" must be true, got ${String(m.value)}`;
  return undefined;
}

/** The configured metric a DCMD metric names (by alias, name or both) and its value, or why not. */
function resolveWrite(
  device: DeviceDef,
  m: DecodedMetric,
): { metric: string; value: TagValue } | string {
  if (m.alias === undefined && m.name === undefined) return 'a metric has neither name nor alias';
  const byAlias = m.alias !== undefined ? device.byAlias.get(m.alias) : undefined;
  const byName = m.name !== undefined ? device.byName.get(m.name) : undefined;
  if (m.alias !== undefined && !byAlias) return `no metric with alias ${m.alias} on this device`;
  if (m.name !== undefined && !byName) return `no metric "${m.name}" on this device`;
  if (byAlias && byName && byAlias !== byName)
    return `alias ${m.alias} is "${byAlias.name}", not "${m.name}"`;
  const def = (byAlias ?? byName) as MetricDef;
  const value = m.value;
  if (def.valueType === 'number' ? !Number.isFinite(value) : typeof value !== def.valueType)
    return `"${def.name}" takes a ${def.valueType === 'number' ? 'finite number' : def.valueType}, got ${typeof value === 'bigint' ? 'a 64-bit integer beyond 2^53' : JSON.stringify(value)}`;
  return { metric: def.name, value: value as TagValue };
}
