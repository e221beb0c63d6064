/**
 * The harness of the SparkplugSession tests (agent/sparkplug-session.*.test.ts): every session
 * runs on a real Mosquitto, seen from a host application that subscribes to spBv1.0/# and
 * decodes what arrives. Each test uses its own edge node id. A test file calls
 * `useSparkplugBroker()` once, at its top, to get the broker and the host.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  decodePayload,
  encodePayload,
  parseSparkplugTopic,
  type DecodedMetric,
  type DecodedPayload,
  type Metric,
} from '../../protocols/mqtt/sparkplug.js';
import type { TagValue } from '../../protocols/types.js';
import {
  SparkplugSession,
  type CurrentSample,
  type SparkplugSessionOptions,
  type WriteHandler,
} from '../../agent/sparkplug-session.js';
import { startMosquitto, type Service } from './services.js';
import { waitFor } from './wait.js';

export const GROUP = 'plant1';
export const TS = 1732480000123;
const RawPayload = proto.org.eclipse.tahu.protobuf.Payload;

export type Devices = SparkplugSessionOptions['devices'];

export const DEVICES: Devices = [
  {
    name: 'press1',
    metrics: [
      { name: 'press1/temperature', type: 'number' },
      { name: 'press1/running', type: 'boolean' },
      { name: 'press1/mode', type: 'string' },
    ],
  },
  { name: 'press2', metrics: [{ name: 'press2/pressure', type: 'number' }] },
];
/** Metrics 1..N in device order, then bdSeq. */
export const ALIAS = {
  'press1/temperature': 1,
  'press1/running': 2,
  'press1/mode': 3,
  'press2/pressure': 4,
  bdSeq: 5,
};

export interface Seen {
  topic: string;
  verb: string;
  node: string;
  device?: string;
  payload: DecodedPayload;
}

export type LogLine = Record<string, unknown> & { msg: string; level: number };

export interface Node {
  id: string;
  session: SparkplugSession;
  client: MqttClient;
  /** onBirthed calls. */
  birthed: number;
  writes: [device: string, metric: string, value: TagValue][];
  lines: LogLine[];
  /** What the host received from this node, in order. */
  seen: (verb?: string) => Seen[];
}

export let broker: Service;
export let host: MqttClient;
export const seen: Seen[] = [];
/** Clients of the running test, ended after it. */
export const clients: MqttClient[] = [];
/** Clients shared by the tests of a describe block (and the host), ended at the end. */
export const kept: MqttClient[] = [];
let nodes = 0;

function record(into: Seen[], topic: string, payload: Buffer): void {
  const t = parseSparkplugTopic(topic);
  // The host's own commands (some of them garbage on purpose) are not recorded.
  if (!t || t.verb === 'NCMD' || t.verb === 'DCMD') return;
  const d = decodePayload(payload);
  if (!d.ok) throw new Error(`host got an undecodable payload on ${topic}: ${d.detail}`);
  into.push({
    topic,
    verb: t.verb,
    node: t.edgeNode,
    ...('device' in t ? { device: t.device } : {}),
    payload: d.value,
  });
}

export async function startHost(url: string, into: Seen[], list = clients): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 50 });
  list.push(client);
  let subscribed = false;
  client.on('connect', () => {
    subscribed = false;
    client.subscribe('spBv1.0/#', { qos: 1 }, () => (subscribed = true));
  });
  client.on('message', (topic, payload) => record(into, topic, payload));
  await waitFor('host subscribed', () => subscribed, 10_000, 5);
  return client;
}

export interface NodeOptions {
  id?: string;
  devices?: Devices;
  current?: CurrentSample;
  onWrite?: WriteHandler;
  mqtt?: IClientOptions;
  url?: string;
  into?: Seen[];
  /** Default true: connect and wait until the host has the whole birth sequence. */
  connect?: boolean;
  /** Shared by the tests of a describe block instead of ended after the test. */
  keep?: boolean;
}

export async function startNode(o: NodeOptions = {}): Promise<Node> {
  const id = o.id ?? `edge-${process.pid}-${++nodes}`;
  const devices = o.devices ?? DEVICES;
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const session = new SparkplugSession({ groupId: GROUP, edgeNode: id, devices }, log);
  const client = mqtt.connect(o.url ?? broker.url, {
    will: session.will(),
    manualConnect: true,
    reconnectPeriod: 50,
    ...o.mqtt,
  });
  (o.keep ? kept : clients).push(client);
  const into = o.into ?? seen;
  const node: Node = {
    id,
    session,
    client,
    birthed: 0,
    writes: [],
    lines,
    seen: (verb) => into.filter((s) => s.node === id && (!verb || s.verb === verb)),
  };
  session.attach(
    client,
    o.current ?? (() => undefined),
    () => {
      node.birthed += 1;
    },
    o.onWrite ??
      ((device, metric, value) => {
        node.writes.push([device, metric, value]);
      }),
  );
  if (o.connect !== false) {
    client.connect();
    await birthSeen(node, 1, devices.length);
  }
  return node;
}

/** Waits until the host has `n` NBIRTHs of the node and, after the last, `devices` DBIRTHs. */
export async function birthSeen(node: Node, n: number, devices: number): Promise<Seen> {
  return waitFor(
    `birth ${n} of ${node.id}`,
    () => {
      const all = node.seen();
      const births = all.filter((s) => s.verb === 'NBIRTH');
      if (births.length < n) return undefined;
      const last = births[n - 1]!;
      const after = all.slice(all.indexOf(last) + 1).filter((s) => s.verb === 'DBIRTH');
      return after.length >= devices && node.birthed >= n ? last : undefined;
    },
    10_000,
    5,
  );
}

export function metric(s: Seen | undefined, name: string): DecodedMetric {
  const m = s?.payload.metrics.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name} in ${s?.topic}`);
  return m;
}

export const bdSeqOf = (s: Seen) => metric(s, 'bdSeq').value;

export function willBdSeq(will: { payload: Buffer | string } | undefined): unknown {
  const d = decodePayload(Buffer.from(will!.payload));
  if (!d.ok) throw new Error(d.detail);
  return d.value.metrics.find((m) => m.name === 'bdSeq')?.value;
}

export function decoded(payload: Buffer): DecodedPayload {
  const d = decodePayload(payload);
  if (!d.ok) throw new Error(d.detail);
  return d.value;
}

export const command = (metrics: Metric[]) => encodePayload({ timestamp: Date.now(), metrics });
/** A command built field by field, as a host that leaves out datatypes sends it. */
export const rawCommand = (metrics: Record<string, unknown>[]) =>
  Buffer.from(RawPayload.encode(RawPayload.fromObject({ timestamp: TS, metrics })).finish());
export const REBIRTH: Metric = { name: 'Node Control/Rebirth', type: 'Boolean', value: true };

/**
 * Publishes a command to the node and waits until the session has counted it, carried out or
 * refused; returns how the counters moved.
 */
export async function send(node: Node, topic: string, payload: Buffer) {
  const before = node.session.stats;
  await host.publishAsync(topic, payload, { qos: 1 });
  await waitFor(
    `${topic} handled`,
    () => {
      const s = node.session.stats;
      return s.commands + s.invalidCommands > before.commands + before.invalidCommands;
    },
    5_000,
    5,
  );
  const after = node.session.stats;
  return {
    births: after.births - before.births,
    commands: after.commands - before.commands,
    invalidCommands: after.invalidCommands - before.invalidCommands,
  };
}

export const ncmdTopic = (node: Node) => `spBv1.0/${GROUP}/NCMD/${node.id}`;
export const dcmdTopic = (node: Node, device: string) =>
  `spBv1.0/${GROUP}/DCMD/${node.id}/${device}`;

export function lastRefusal(node: Node): string {
  const line = node.lines.filter((l) => l.msg === 'refused Sparkplug command').at(-1);
  return String(line?.reason);
}

/** With DISCONNECT, so the broker discards the Wills. */
export const endAll = (list: MqttClient[]) => Promise.all(list.splice(0).map((c) => c.endAsync()));

/**
 * Starts the broker and the host before the file's tests, ends the test's clients after each
 * test and everything at the end.
 */
export function useSparkplugBroker(): void {
  beforeAll(async () => {
    broker = await startMosquitto();
    host = await startHost(broker.url, seen, kept);
  });

  afterEach(() => endAll(clients));

  afterAll(async () => {
    await endAll(clients);
    await endAll(kept);
    await broker?.stop();
  });
}
