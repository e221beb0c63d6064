import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  commandFilters,
  decodePayload,
  encodePayload,
  parseSparkplugTopic,
  type DecodedMetric,
  type DecodedPayload,
  type Metric,
} from '../protocols/mqtt/sparkplug.js';
import type { Quality, TagValue } from '../protocols/types.js';
import { startMosquitto, type Service } from '../test/support/services.js';
import { waitFor } from '../test/support/wait.js';
import {
  SparkplugSession,
  type CurrentSample,
  type SparkplugSample,
  type SparkplugSessionOptions,
  type SparkplugValueType,
  type WriteHandler,
} from './sparkplug-session.js';

// Every session here runs on a real Mosquitto, seen from a host application that subscribes to
// spBv1.0/# and decodes what arrives. Each test uses its own edge node id.

const GROUP = 'plant1';
const TS = 1732480000123;
const RawPayload = proto.org.eclipse.tahu.protobuf.Payload;

type Devices = SparkplugSessionOptions['devices'];

const DEVICES: Devices = [
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
const ALIAS = {
  'press1/temperature': 1,
  'press1/running': 2,
  'press1/mode': 3,
  'press2/pressure': 4,
  bdSeq: 5,
};

interface Seen {
  topic: string;
  verb: string;
  node: string;
  device?: string;
  payload: DecodedPayload;
}

type LogLine = Record<string, unknown> & { msg: string; level: number };

interface Node {
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

let broker: Service;
let host: MqttClient;
const seen: Seen[] = [];
/** Clients of the running test, ended after it. */
const clients: MqttClient[] = [];
/** Clients shared by the tests of a describe block (and the host), ended at the end. */
const kept: MqttClient[] = [];
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

async function startHost(url: string, into: Seen[], list = clients): Promise<MqttClient> {
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

interface NodeOptions {
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

async function startNode(o: NodeOptions = {}): Promise<Node> {
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
async function birthSeen(node: Node, n: number, devices: number): Promise<Seen> {
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

function metric(s: Seen | undefined, name: string): DecodedMetric {
  const m = s?.payload.metrics.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name} in ${s?.topic}`);
  return m;
}

const bdSeqOf = (s: Seen) => metric(s, 'bdSeq').value;

function willBdSeq(will: { payload: Buffer | string } | undefined): unknown {
  const d = decodePayload(Buffer.from(will!.payload));
  if (!d.ok) throw new Error(d.detail);
  return d.value.metrics.find((m) => m.name === 'bdSeq')?.value;
}

function decoded(payload: Buffer): DecodedPayload {
  const d = decodePayload(payload);
  if (!d.ok) throw new Error(d.detail);
  return d.value;
}

const command = (metrics: Metric[]) => encodePayload({ timestamp: Date.now(), metrics });
/** A command built field by field, as a host that leaves out datatypes sends it. */
const rawCommand = (metrics: Record<string, unknown>[]) =>
  Buffer.from(RawPayload.encode(RawPayload.fromObject({ timestamp: TS, metrics })).finish());
const REBIRTH: Metric = { name: 'Node Control/Rebirth', type: 'Boolean', value: true };

/**
 * Publishes a command to the node and waits until the session has counted it, carried out or
 * refused; returns how the counters moved.
 */
async function send(node: Node, topic: string, payload: Buffer) {
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

const ncmdTopic = (node: Node) => `spBv1.0/${GROUP}/NCMD/${node.id}`;
const dcmdTopic = (node: Node, device: string) => `spBv1.0/${GROUP}/DCMD/${node.id}/${device}`;

function lastRefusal(node: Node): string {
  const line = node.lines.filter((l) => l.msg === 'refused Sparkplug command').at(-1);
  return String(line?.reason);
}

/** With DISCONNECT, so the broker discards the Wills. */
const endAll = (list: MqttClient[]) => Promise.all(list.splice(0).map((c) => c.endAsync()));

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

describe('SparkplugSession options', () => {
  it.each<[string, Partial<SparkplugSessionOptions>, RegExp]>([
    ['an empty group id', { groupId: '' }, /group id "" must not be empty/],
    ['a group id with /', { groupId: 'plant/1' }, /group id "plant\/1" must not contain/],
    ['an edge node id with +', { edgeNode: 'edge+1' }, /edge node id "edge\+1" must not contain/],
    ['an edge node id with #', { edgeNode: '#' }, /edge node id "#" must not contain/],
    [
      'a device id with /',
      { devices: [{ name: 'a/b', metrics: [] }] },
      /device "a\/b" must not contain/,
    ],
    ['an empty device id', { devices: [{ name: '', metrics: [] }] }, /device "" must not be empty/],
    [
      'a device twice',
      {
        devices: [
          { name: 'd', metrics: [] },
          { name: 'd', metrics: [{ name: 'm', type: 'number' }] },
        ],
      },
      /device "d" appears twice/,
    ],
    [
      'a metric twice on one device',
      {
        devices: [
          {
            name: 'd',
            metrics: [
              { name: 'm', type: 'number' },
              { name: 'm', type: 'string' },
            ],
          },
        ],
      },
      /device "d" has metric "m" twice/,
    ],
    [
      'a metric without a name',
      { devices: [{ name: 'd', metrics: [{ name: '', type: 'boolean' }] }] },
      /device "d" has a metric without a name/,
    ],
  ])('refuses %s', (_what, options, message) => {
    const make = () =>
      new SparkplugSession(
        { groupId: 'g', edgeNode: 'n', devices: DEVICES, ...options },
        pino({ level: 'silent' }),
      );
    expect(make).toThrow(message);
    expect(make).toThrow(/^invalid Sparkplug session options: /);
  });

  it('lists every problem at once', () => {
    expect(
      () =>
        new SparkplugSession(
          {
            groupId: '',
            edgeNode: 'a/b',
            devices: [
              { name: 'x', metrics: [] },
              { name: 'x', metrics: [] },
            ],
          },
          pino({ level: 'silent' }),
        ),
    ).toThrow(/group id "" .*; edge node id "a\/b" .*; device "x" appears twice/);
  });

  it('accepts the same metric name on two devices, metric names with / and no devices', () => {
    const log = pino({ level: 'silent' });
    const same = [
      { name: 'a', metrics: [{ name: 'line/speed', type: 'number' as const }] },
      { name: 'b', metrics: [{ name: 'line/speed', type: 'number' as const }] },
    ];
    expect(
      () => new SparkplugSession({ groupId: 'g', edgeNode: 'n', devices: same }, log),
    ).not.toThrow();
    expect(
      () => new SparkplugSession({ groupId: 'g', edgeNode: 'n', devices: [] }, log),
    ).not.toThrow();
  });
});

describe('will()', () => {
  it('is the NDEATH: QoS 1, not retained, bdSeq 0 as Int64, no seq', () => {
    const session = new SparkplugSession(
      { groupId: GROUP, edgeNode: 'edge-will', devices: DEVICES },
      pino({ level: 'silent' }),
    );
    const before = Date.now();
    const will = session.will();
    expect(will).toMatchObject({
      topic: `spBv1.0/${GROUP}/NDEATH/edge-will`,
      qos: 1,
      retain: false,
    });
    const p = decoded(will.payload);
    expect(p.seq).toBeUndefined();
    expect(p.timestamp).toBeGreaterThanOrEqual(before);
    expect(p.metrics).toEqual([
      {
        name: 'bdSeq',
        timestamp: p.timestamp,
        type: 'Int64',
        value: 0,
        isHistorical: false,
        properties: {},
      },
    ]);
  });
});

describe('attach()', () => {
  const make = (edgeNode = 'edge-attach') =>
    new SparkplugSession({ groupId: GROUP, edgeNode, devices: DEVICES }, pino({ level: 'silent' }));
  const noop = () => undefined;

  it.each<[string, (s: SparkplugSession) => IClientOptions]>([
    ['no Will', () => ({})],
    ['the Will of another edge node', () => ({ will: make('edge-other').will() })],
    [
      'a status Will',
      () => ({
        will: {
          topic: 'factorylm/plant1/_nodes/x/status',
          payload: Buffer.from('offline'),
          qos: 1,
          retain: true,
        },
      }),
    ],
  ])('refuses a client created with %s', (_what, options) => {
    const session = make();
    // Never connected, so never ended (mqtt.js cannot end a client that never had a stream).
    const client = mqtt.connect(broker.url, { manualConnect: true, ...options(session) });
    expect(() => session.attach(client, noop, noop, noop)).toThrow(/will: session\.will\(\)/);
    // Still free to attach to a proper client.
    const good = mqtt.connect(broker.url, { manualConnect: true, will: session.will() });
    expect(() => session.attach(good, noop, noop, noop)).not.toThrow();
  });

  it('refuses a client that is already connected', async () => {
    const session = make();
    const client = await mqtt.connectAsync(broker.url, { will: session.will() });
    clients.push(client);
    expect(() => session.attach(client, noop, noop, noop)).toThrow(/before the client connects/);
  });

  it('refuses a second client', () => {
    const session = make();
    const a = mqtt.connect(broker.url, { manualConnect: true, will: session.will() });
    const b = mqtt.connect(broker.url, { manualConnect: true, will: session.will() });
    session.attach(a, noop, noop, noop);
    expect(() => session.attach(b, noop, noop, noop)).toThrow(/already attached/);
    expect(() => session.attach(a, noop, noop, noop)).toThrow(/already attached/);
  });
});

describe('birth sequence', () => {
  it('subscribes to NCMD and DCMD/+ at QoS 1 and publishes the births only after the SUBACK', async () => {
    const order: string[] = [];
    const node = await startNode({ connect: false });
    const { client } = node;
    const subscribe = client.subscribeAsync.bind(client) as (
      topics: string[],
      opts: { qos: number },
    ) => Promise<unknown>;
    const publish = client.publish.bind(client) as (
      topic: string,
      payload: Buffer,
      opts: { qos: number; retain: boolean },
    ) => MqttClient;
    const subscriptions: unknown[] = [];
    Object.assign(client, {
      subscribeAsync: async (topics: string[], opts: { qos: number }) => {
        subscriptions.push([topics, opts]);
        order.push('SUBSCRIBE');
        const granted = await subscribe(topics, opts);
        order.push('SUBACK');
        return granted;
      },
      publish: (topic: string, payload: Buffer, opts: { qos: number; retain: boolean }) => {
        order.push(`${parseSparkplugTopic(topic)?.verb} qos ${opts.qos} retain ${opts.retain}`);
        return publish(topic, payload, opts);
      },
    });
    client.connect();
    await birthSeen(node, 1, 2);
    expect(subscriptions).toEqual([[commandFilters(GROUP, node.id), { qos: 1 }]]);
    expect(order).toEqual([
      'SUBSCRIBE',
      'SUBACK',
      'NBIRTH qos 0 retain false',
      'DBIRTH qos 0 retain false',
      'DBIRTH qos 0 retain false',
    ]);
  });

  it('births the node and each device with every metric, alias and current value', async () => {
    const samples: Record<string, SparkplugSample> = {
      'press1/temperature': { name: 'press1/temperature', value: 21.5, quality: 'good', ts: TS },
      'press1/running': { name: 'press1/running', value: true, quality: 'good', ts: TS + 1 },
      'press2/pressure': { name: 'press2/pressure', value: 6.25, quality: 'good', ts: TS + 2 },
    };
    const asked: string[] = [];
    const node = await startNode({
      current: (device, name) => {
        asked.push(`${device}:${name}`);
        return samples[name];
      },
    });
    expect(asked).toEqual([
      'press1:press1/temperature',
      'press1:press1/running',
      'press1:press1/mode',
      'press2:press2/pressure',
    ]);
    const [nbirth, press1, press2, ...rest] = node.seen();
    expect(rest).toEqual([]);
    expect(nbirth).toMatchObject({
      topic: `spBv1.0/${GROUP}/NBIRTH/${node.id}`,
      payload: { seq: 0 },
    });
    const now = nbirth!.payload.timestamp!;
    expect(nbirth!.payload.metrics).toEqual([
      {
        name: 'bdSeq',
        alias: ALIAS.bdSeq,
        timestamp: now,
        type: 'Int64',
        value: 0,
        isHistorical: false,
        properties: {},
      },
      // Sparkplug forbids an alias on the rebirth metric.
      {
        name: 'Node Control/Rebirth',
        timestamp: now,
        type: 'Boolean',
        value: false,
        isHistorical: false,
        properties: {},
      },
    ]);
    expect(press1).toMatchObject({
      topic: `spBv1.0/${GROUP}/DBIRTH/${node.id}/press1`,
      payload: { seq: 1 },
    });
    expect(press1!.payload.metrics).toEqual([
      {
        name: 'press1/temperature',
        alias: 1,
        timestamp: TS,
        type: 'Double',
        value: 21.5,
        isHistorical: false,
        properties: {},
      },
      {
        name: 'press1/running',
        alias: 2,
        timestamp: TS + 1,
        type: 'Boolean',
        value: true,
        isHistorical: false,
        properties: {},
      },
      // Never read: born null and BAD, stamped with the birth.
      {
        name: 'press1/mode',
        alias: 3,
        timestamp: press1!.payload.timestamp,
        type: 'String',
        value: null,
        isHistorical: false,
        properties: { Quality: { type: 'Int32', value: 0 } },
      },
    ]);
    expect(press2).toMatchObject({
      topic: `spBv1.0/${GROUP}/DBIRTH/${node.id}/press2`,
      payload: { seq: 2 },
    });
    expect(press2!.payload.metrics).toEqual([
      {
        name: 'press2/pressure',
        alias: 4,
        timestamp: TS + 2,
        type: 'Double',
        value: 6.25,
        isHistorical: false,
        properties: {},
      },
    ]);
    expect(node.birthed).toBe(1);
    expect(node.session.stats).toEqual({ births: 1, commands: 0, invalidCommands: 0 });
  });

  it('keeps every seq of a birth sequence of more than 255 devices within 0-255', async () => {
    const devices: Devices = Array.from({ length: 300 }, (_, i) => ({
      name: `d${i}`,
      metrics: [{ name: `d${i}/v`, type: 'number' }],
    }));
    const node = await startNode({ devices });
    const seqs = node.seen().map((s) => s.payload.seq);
    expect(seqs).toEqual(Array.from({ length: 301 }, (_, i) => i % 256));
    const next = node.session.data(
      'd0',
      [{ name: 'd0/v', value: 1, quality: 'good', ts: TS }],
      false,
    );
    expect(decoded(next!.payload).seq).toBe(301 % 256);
  });

  it('does not call onBirthed when the birth cannot be built, and logs why', async () => {
    const node = await startNode({
      connect: false,
      current: (_device, name) => ({ name, value: 'not a number', quality: 'good', ts: TS }),
    });
    node.client.connect();
    await waitFor(
      'the error',
      () => node.lines.some((l) => l.msg === 'could not build the Sparkplug birth sequence'),
      5_000,
      5,
    );
    expect(node.birthed).toBe(0);
    expect(node.seen()).toEqual([]);
    expect(node.session.stats.births).toBe(0);
    // No birth is current, so no DATA either.
    expect(
      node.session.data(
        'press2',
        [{ name: 'press2/pressure', value: 1, quality: 'good', ts: TS }],
        false,
      ),
    ).toBeUndefined();
  });
});

interface QualityCase {
  what: string;
  type: SparkplugValueType;
  sample?: { value: TagValue | null; quality: Quality };
  value: DecodedMetric['value'];
  quality?: number;
}

const QUALITY_CASES: QualityCase[] = [
  { what: 'good number', type: 'number', sample: { value: 21.5, quality: 'good' }, value: 21.5 },
  { what: 'good zero', type: 'number', sample: { value: 0, quality: 'good' }, value: 0 },
  {
    what: 'good boolean',
    type: 'boolean',
    sample: { value: false, quality: 'good' },
    value: false,
  },
  {
    what: 'good string',
    type: 'string',
    sample: { value: 'auto', quality: 'good' },
    value: 'auto',
  },
  {
    what: 'bad without value',
    type: 'number',
    sample: { value: null, quality: 'bad' },
    value: null,
    quality: 0,
  },
  {
    what: 'bad with a value',
    type: 'number',
    sample: { value: 7, quality: 'bad' },
    value: null,
    quality: 0,
  },
  {
    what: 'bad boolean',
    type: 'boolean',
    sample: { value: true, quality: 'bad' },
    value: null,
    quality: 0,
  },
  {
    what: 'uncertain number',
    type: 'number',
    sample: { value: 4.5, quality: 'uncertain' },
    value: 4.5,
    quality: 500,
  },
  {
    what: 'uncertain string',
    type: 'string',
    sample: { value: 'x', quality: 'uncertain' },
    value: 'x',
    quality: 500,
  },
  {
    what: 'uncertain without value',
    type: 'number',
    sample: { value: null, quality: 'uncertain' },
    value: null,
    quality: 500,
  },
];

describe('quality mapping', () => {
  const device = 'q';
  const devices: Devices = [
    {
      name: device,
      metrics: [
        ...QUALITY_CASES.map((c) => ({ name: c.what, type: c.type })),
        { name: 'never read', type: 'number' as const },
      ],
    },
  ];
  let node: Node;
  let dbirth: Seen;

  beforeAll(async () => {
    const byName = new Map(QUALITY_CASES.map((c) => [c.what, c]));
    node = await startNode({
      devices,
      keep: true,
      current: (_d, name) => {
        const c = byName.get(name);
        return c?.sample && { name, ...c.sample, ts: TS };
      },
    });
    dbirth = node.seen('DBIRTH')[0]!;
  });

  it.each(QUALITY_CASES)('$what: in DBIRTH and DDATA', (c) => {
    const expected = {
      type: c.type === 'number' ? 'Double' : c.type === 'boolean' ? 'Boolean' : 'String',
      value: c.value,
      timestamp: TS,
      properties: c.quality === undefined ? {} : { Quality: { type: 'Int32', value: c.quality } },
    };
    expect(metric(dbirth, c.what)).toMatchObject(expected);
    const ddata = node.session.data(device, [{ name: c.what, ...c.sample!, ts: TS }], false);
    const [m] = decoded(ddata!.payload).metrics;
    expect(m).toMatchObject(expected);
    expect(m).not.toHaveProperty('name');
    expect(m!.alias).toBe(metric(dbirth, c.what).alias);
  });

  it('births a metric never read as null with Quality 0 (BAD)', () => {
    expect(metric(dbirth, 'never read')).toMatchObject({
      type: 'Double',
      value: null,
      timestamp: dbirth.payload.timestamp,
      properties: { Quality: { type: 'Int32', value: 0 } },
    });
  });
});

describe('data()', () => {
  const sample = (
    name: string,
    value: TagValue | null,
    quality: Quality = 'good',
  ): SparkplugSample => ({
    name,
    value,
    quality,
    ts: TS,
  });

  it('returns undefined before the birth without taking a seq, and nothing for no samples', async () => {
    const node = await startNode({ connect: false });
    expect(node.session.data('press1', [sample('press1/temperature', 1)], false)).toBeUndefined();
    node.client.connect();
    await birthSeen(node, 1, 2);
    expect(node.session.data('press1', [], false)).toBeUndefined();
    const m = node.session.data(
      'press1',
      [sample('press1/temperature', 1), sample('press1/mode', 'auto')],
      false,
    )!;
    expect(m.topic).toBe(`spBv1.0/${GROUP}/DDATA/${node.id}/press1`);
    const p = decoded(m.payload);
    expect(p.seq).toBe(3);
    expect(p.metrics.map((x) => [x.alias, x.value, x.isHistorical])).toEqual([
      [1, 1, false],
      [3, 'auto', false],
    ]);
  });

  it('marks every metric is_historical when asked', async () => {
    const node = await startNode();
    const m = node.session.data(
      'press1',
      [sample('press1/running', true), sample('press1/temperature', null, 'bad')],
      true,
    )!;
    expect(decoded(m.payload).metrics.map((x) => x.isHistorical)).toEqual([true, true]);
  });

  it('numbers DATA 0-255 after the births, wrapping to 0, and restarts after a rebirth', async () => {
    const node = await startNode();
    const seqs = Array.from({ length: 600 }, () => {
      const m = node.session.data('press2', [sample('press2/pressure', 1)], false)!;
      return decoded(m.payload).seq;
    });
    expect(seqs).toEqual(Array.from({ length: 600 }, (_, i) => (3 + i) % 256));
    expect(await send(node, ncmdTopic(node), command([REBIRTH]))).toEqual({
      births: 1,
      commands: 1,
      invalidCommands: 0,
    });
    const rebirth = await birthSeen(node, 2, 2);
    const after = node.seen().slice(node.seen().indexOf(rebirth));
    expect(after.slice(0, 3).map((s) => [s.verb, s.payload.seq])).toEqual([
      ['NBIRTH', 0],
      ['DBIRTH', 1],
      ['DBIRTH', 2],
    ]);
    const m = node.session.data('press2', [sample('press2/pressure', 1)], false)!;
    expect(decoded(m.payload).seq).toBe(3);
  });

  it.each<[string, string, SparkplugSample, RegExp]>([
    ['an unknown device', 'press9', sample('press9/x', 1), /unknown Sparkplug device "press9"/],
    [
      'an unknown metric',
      'press1',
      sample('press1/nope', 1),
      /unknown Sparkplug metric "press1\/nope"/,
    ],
    [
      'a metric of another device',
      'press1',
      sample('press2/pressure', 1),
      /unknown Sparkplug metric "press2\/pressure" on device "press1"/,
    ],
    [
      'a string for a number',
      'press1',
      sample('press1/temperature', '21.5'),
      /is number, got string/,
    ],
    [
      'a boolean for a number',
      'press1',
      sample('press1/temperature', true),
      /is number, got boolean/,
    ],
    ['a number for a boolean', 'press1', sample('press1/running', 1), /is boolean, got number/],
    [
      'a string for a boolean',
      'press1',
      sample('press1/running', 'true'),
      /is boolean, got string/,
    ],
    ['a number for a string', 'press1', sample('press1/mode', 2), /is string, got number/],
    [
      'an uncertain value of the wrong type',
      'press1',
      sample('press1/running', 'on', 'uncertain'),
      /is boolean, got string/,
    ],
  ])(
    'throws on %s, before and after the birth, without taking a seq',
    async (_what, device, bad, error) => {
      const node = await startNode({ connect: false });
      expect(() => node.session.data(device, [bad], false)).toThrow(error);
      node.client.connect();
      await birthSeen(node, 1, 2);
      expect(() =>
        node.session.data(device, [sample('press1/temperature', 1), bad], false),
      ).toThrow(error);
      const m = node.session.data('press2', [sample('press2/pressure', 1)], false)!;
      expect(decoded(m.payload).seq).toBe(3);
    },
  );

  it('returns undefined once the connection is gone', async () => {
    const node = await startNode();
    const closed = new Promise<void>((resolve) => node.client.once('close', () => resolve()));
    node.client.stream.destroy();
    await closed;
    expect(node.session.data('press2', [sample('press2/pressure', 1)], false)).toBeUndefined();
  });
});

describe('NCMD', () => {
  it('births again on Node Control/Rebirth = true with the same bdSeq and current values', async () => {
    let pressure = 1;
    const node = await startNode({
      current: (_d, name) =>
        name === 'press2/pressure' ? { name, value: pressure, quality: 'good', ts: TS } : undefined,
    });
    const first = node.seen('NBIRTH')[0]!;
    pressure = 2;
    expect(await send(node, ncmdTopic(node), command([REBIRTH]))).toEqual({
      births: 1,
      commands: 1,
      invalidCommands: 0,
    });
    const second = await birthSeen(node, 2, 2);
    expect(second.payload.seq).toBe(0);
    expect(bdSeqOf(second)).toBe(bdSeqOf(first));
    expect(metric(second, 'bdSeq').alias).toBe(ALIAS.bdSeq);
    const press2 = node.seen('DBIRTH').filter((s) => s.device === 'press2');
    expect(press2.map((s) => metric(s, 'press2/pressure').value)).toEqual([1, 2]);
    expect(node.birthed).toBe(2);
  });

  it('takes a rebirth request without datatype, as hosts may send it', async () => {
    const node = await startNode();
    const r = await send(
      node,
      ncmdTopic(node),
      rawCommand([{ name: 'Node Control/Rebirth', booleanValue: true }]),
    );
    expect(r).toEqual({ births: 1, commands: 1, invalidCommands: 0 });
  });

  it.each<[string, Buffer, RegExp]>([
    [
      'another node command',
      command([{ name: 'Node Control/Reboot', type: 'Boolean', value: true }]),
      /Node Control\/Reboot is not a node command/,
    ],
    [
      'rebirth = false',
      command([{ name: 'Node Control/Rebirth', type: 'Boolean', value: false }]),
      /must be true, got false/,
    ],
    [
      'rebirth = 1',
      command([{ name: 'Node Control/Rebirth', type: 'Int32', value: 1 }]),
      /must be true, got 1/,
    ],
    [
      'rebirth = "true"',
      command([{ name: 'Node Control/Rebirth', type: 'String', value: 'true' }]),
      /must be true, got true/,
    ],
    [
      'rebirth is_null',
      command([{ name: 'Node Control/Rebirth', type: 'Boolean', value: null }]),
      /must be true, got null/,
    ],
    [
      'rebirth without value',
      rawCommand([{ name: 'Node Control/Rebirth', datatype: 11 }]),
      /must be true, got null/,
    ],
    [
      'a metric by alias only',
      command([{ alias: ALIAS.bdSeq, type: 'Boolean', value: true }]),
      /alias 5 is not a node command/,
    ],
    [
      'rebirth along with another metric',
      command([REBIRTH, { name: 'bdSeq', type: 'Int64', value: 0 }]),
      /bdSeq is not a node command/,
    ],
    ['no metrics', command([]), /no metrics/],
    [
      'bytes that are not Sparkplug',
      Buffer.from('{"rebirth":true}'),
      /not a Sparkplug B protobuf payload/,
    ],
  ])('refuses %s as a whole', async (_what, payload, reason) => {
    const node = await startNode();
    expect(await send(node, ncmdTopic(node), payload)).toEqual({
      births: 0,
      commands: 0,
      invalidCommands: 1,
    });
    expect(lastRefusal(node)).toMatch(reason);
    expect(node.birthed).toBe(1);
  });

  it('ignores messages that are not its own commands', async () => {
    const node = await startNode();
    const others = [
      `spBv1.0/${GROUP}/NCMD/${node.id}-other`,
      `spBv1.0/${GROUP}/DCMD/${node.id}-other/press1`,
      `spBv1.0/plant2/NCMD/${node.id}`,
      `spBv1.0/${GROUP}/NDATA/${node.id}`,
      'spBv1.0/STATE/scada',
      'factorylm/plant1/x',
    ];
    await node.client.subscribeAsync(others, { qos: 1 });
    const before = node.session.stats;
    for (const topic of others) await host.publishAsync(topic, command([REBIRTH]), { qos: 1 });
    // Messages from one host reach the node in order: once this one is counted, so were those.
    await send(node, ncmdTopic(node), command([REBIRTH]));
    expect(node.session.stats).toEqual({
      births: before.births + 1,
      commands: before.commands + 1,
      invalidCommands: before.invalidCommands,
    });
  });

  it('refuses commands queued by the broker before the birth: an old write is not replayed', async () => {
    const id = `edge-${process.pid}-queued`;
    const clientId = `sp-${id}`;
    // An earlier session of the same client left its subscriptions behind.
    const earlier = await mqtt.connectAsync(broker.url, { clientId, clean: false });
    await earlier.subscribeAsync(commandFilters(GROUP, id), { qos: 1 });
    await earlier.endAsync();
    await host.publishAsync(
      `spBv1.0/${GROUP}/DCMD/${id}/press1`,
      command([{ alias: 2, type: 'Boolean', value: false }]),
      { qos: 1 },
    );
    await host.publishAsync(`spBv1.0/${GROUP}/NCMD/${id}`, command([REBIRTH]), { qos: 1 });
    const node = await startNode({ id, mqtt: { clientId, clean: false } });
    await waitFor('both refused', () => node.session.stats.invalidCommands === 2, 5_000, 5);
    expect(lastRefusal(node)).toMatch(/before this connection published its birth sequence/);
    expect(node.writes).toEqual([]);
    expect(node.session.stats).toEqual({ births: 1, commands: 0, invalidCommands: 2 });
    // The session works once born.
    expect(
      await send(
        node,
        dcmdTopic(node, 'press1'),
        command([{ alias: 2, type: 'Boolean', value: true }]),
      ),
    ).toEqual({
      births: 0,
      commands: 1,
      invalidCommands: 0,
    });
    expect(node.writes).toEqual([['press1', 'press1/running', true]]);
  });
});

describe('DCMD', () => {
  let node: Node;

  beforeAll(async () => {
    node = await startNode({ keep: true });
  });

  afterEach(() => {
    node.writes.length = 0;
  });

  it.each<[string, string, Buffer, [string, string, TagValue][]]>([
    [
      'by alias',
      'press1',
      command([{ alias: 1, type: 'Double', value: 12.5 }]),
      [['press1', 'press1/temperature', 12.5]],
    ],
    [
      'by name',
      'press1',
      command([{ name: 'press1/running', type: 'Boolean', value: true }]),
      [['press1', 'press1/running', true]],
    ],
    [
      'by alias and name',
      'press1',
      command([{ name: 'press1/mode', alias: 3, type: 'String', value: 'manual' }]),
      [['press1', 'press1/mode', 'manual']],
    ],
    [
      'without datatype, by alias',
      'press1',
      rawCommand([{ alias: 2, booleanValue: false }]),
      [['press1', 'press1/running', false]],
    ],
    [
      'without datatype, a double',
      'press2',
      rawCommand([{ alias: 4, doubleValue: 3.5 }]),
      [['press2', 'press2/pressure', 3.5]],
    ],
    [
      'an Int64 to a number',
      'press2',
      command([{ alias: 4, type: 'Int64', value: -7 }]),
      [['press2', 'press2/pressure', -7]],
    ],
    [
      'an Int32 to a number',
      'press2',
      command([{ alias: 4, type: 'Int32', value: 0 }]),
      [['press2', 'press2/pressure', 0]],
    ],
    [
      'an empty string',
      'press1',
      command([{ alias: 3, type: 'String', value: '' }]),
      [['press1', 'press1/mode', '']],
    ],
    [
      'several metrics, in order',
      'press1',
      command([
        { alias: 3, type: 'String', value: 'auto' },
        { name: 'press1/temperature', type: 'Double', value: -1 },
        { alias: 2, type: 'Boolean', value: true },
      ]),
      [
        ['press1', 'press1/mode', 'auto'],
        ['press1', 'press1/temperature', -1],
        ['press1', 'press1/running', true],
      ],
    ],
  ])('writes %s', async (_what, device, payload, writes) => {
    expect(await send(node, dcmdTopic(node, device), payload)).toEqual({
      births: 0,
      commands: 1,
      invalidCommands: 0,
    });
    expect(node.writes).toEqual(writes);
  });

  it.each<[string, string, Buffer, RegExp]>([
    [
      'an alias of another device',
      'press1',
      command([{ alias: 4, type: 'Double', value: 1 }]),
      /no metric with alias 4 on this device/,
    ],
    [
      'the alias of bdSeq',
      'press1',
      command([{ alias: ALIAS.bdSeq, type: 'Int64', value: 1 }]),
      /no metric with alias 5/,
    ],
    [
      'an unknown alias',
      'press1',
      command([{ alias: 99, type: 'Double', value: 1 }]),
      /no metric with alias 99/,
    ],
    [
      'an unknown name',
      'press1',
      command([{ name: 'press1/speed', type: 'Double', value: 1 }]),
      /no metric "press1\/speed"/,
    ],
    [
      'a name of another device',
      'press2',
      command([{ name: 'press1/temperature', type: 'Double', value: 1 }]),
      /no metric "press1\/temperature"/,
    ],
    [
      'alias and name of different metrics',
      'press1',
      command([{ name: 'press1/temperature', alias: 2, type: 'Double', value: 1 }]),
      /alias 2 is "press1\/running", not "press1\/temperature"/,
    ],
    [
      'neither name nor alias',
      'press1',
      command([{ type: 'Double', value: 1 }]),
      /neither name nor alias/,
    ],
    [
      'a string to a number',
      'press1',
      command([{ alias: 1, type: 'String', value: '12' }]),
      /"press1\/temperature" takes a finite number, got "12"/,
    ],
    [
      'a boolean to a number',
      'press1',
      command([{ alias: 1, type: 'Boolean', value: true }]),
      /takes a finite number, got true/,
    ],
    ['NaN', 'press1', command([{ alias: 1, type: 'Double', value: NaN }]), /takes a finite number/],
    [
      'Infinity',
      'press1',
      command([{ alias: 1, type: 'Double', value: Infinity }]),
      /takes a finite number/,
    ],
    [
      'is_null',
      'press1',
      command([{ alias: 1, type: 'Double', value: null }]),
      /takes a finite number, got null/,
    ],
    [
      'a typed value without a value',
      'press1',
      rawCommand([{ alias: 1, datatype: 3 }]),
      /takes a finite number, got null/,
    ],
    [
      'an Int64 beyond 2^53',
      'press1',
      rawCommand([{ alias: 1, datatype: 4, longValue: '9007199254740993' }]),
      /64-bit integer beyond 2\^53/,
    ],
    [
      'a number to a boolean',
      'press1',
      command([{ alias: 2, type: 'Int32', value: 1 }]),
      /"press1\/running" takes a boolean, got 1/,
    ],
    [
      'a string to a boolean',
      'press1',
      command([{ alias: 2, type: 'String', value: 'true' }]),
      /takes a boolean, got "true"/,
    ],
    [
      'a number to a string',
      'press1',
      command([{ alias: 3, type: 'Double', value: 1 }]),
      /"press1\/mode" takes a string, got 1/,
    ],
    [
      'one bad metric among good ones',
      'press1',
      command([
        { alias: 2, type: 'Boolean', value: false },
        { alias: 1, type: 'String', value: 'hot' },
        { alias: 3, type: 'String', value: 'auto' },
      ]),
      /takes a finite number, got "hot"/,
    ],
    [
      'an unknown device',
      'press9',
      command([{ alias: 1, type: 'Double', value: 1 }]),
      /no such device/,
    ],
    ['no metrics', 'press1', command([]), /no metrics/],
    [
      'bytes that are not Sparkplug',
      'press1',
      Buffer.from([0x0a, 0xff]),
      /not a Sparkplug B protobuf payload/,
    ],
    [
      'a DataSet value',
      'press1',
      rawCommand([
        {
          alias: 1,
          datatype: 16,
          datasetValue: { numOfColumns: 0, columns: [], types: [], rows: [] },
        },
      ]),
      /not a scalar/,
    ],
  ])('refuses %s as a whole and writes nothing', async (_what, device, payload, reason) => {
    expect(await send(node, dcmdTopic(node, device), payload)).toEqual({
      births: 0,
      commands: 0,
      invalidCommands: 1,
    });
    expect(node.writes).toEqual([]);
    expect(lastRefusal(node)).toMatch(reason);
  });

  it('logs a write handler that throws or rejects and goes on', async () => {
    const calls: TagValue[] = [];
    const failing = await startNode({
      onWrite: (_d, _m, value) => {
        calls.push(value);
        if (value === 1) throw new Error('PLC said no');
        if (value === 2) return Promise.reject(new Error('PLC timed out'));
      },
    });
    for (const value of [1, 2, 3])
      expect(
        await send(
          failing,
          dcmdTopic(failing, 'press2'),
          command([{ alias: 4, type: 'Double', value }]),
        ),
      ).toEqual({
        births: 0,
        commands: 1,
        invalidCommands: 0,
      });
    expect(calls).toEqual([1, 2, 3]);
    await waitFor(
      'both failures logged',
      () => failing.lines.filter((l) => l.msg === 'Sparkplug onWrite callback failed').length === 2,
      5_000,
      5,
    );
    expect(
      failing.lines.filter((l) => l.msg === 'Sparkplug onWrite callback failed').map((l) => l.err),
    ).toEqual(['PLC said no', 'PLC timed out']);
  });
});

describe('redefine()', () => {
  const NEW: Devices = [
    {
      name: 'press2',
      metrics: [
        { name: 'press2/pressure', type: 'number' },
        { name: 'press2/alarm', type: 'boolean' },
      ],
    },
    { name: 'press3', metrics: [{ name: 'press3/speed', type: 'number' }] },
  ];

  it('births again with the new devices, metrics and aliases, keeping bdSeq', async () => {
    const node = await startNode();
    const first = node.seen('NBIRTH')[0]!;
    node.session.redefine(NEW);
    const second = await birthSeen(node, 2, 2);
    expect(second.payload.seq).toBe(0);
    expect(bdSeqOf(second)).toBe(bdSeqOf(first));
    expect(metric(second, 'bdSeq').alias).toBe(4);
    const dbirths = node.seen().slice(node.seen().indexOf(second) + 1);
    expect(dbirths.map((s) => [s.verb, s.device, s.payload.seq])).toEqual([
      ['DBIRTH', 'press2', 1],
      ['DBIRTH', 'press3', 2],
    ]);
    expect(dbirths.map((s) => s.payload.metrics.map((m) => [m.name, m.alias, m.type]))).toEqual([
      [
        ['press2/pressure', 1, 'Double'],
        ['press2/alarm', 2, 'Boolean'],
      ],
      [['press3/speed', 3, 'Double']],
    ]);
    expect(node.birthed).toBe(2);
    expect(() =>
      node.session.data(
        'press1',
        [{ name: 'press1/temperature', value: 1, quality: 'good', ts: TS }],
        false,
      ),
    ).toThrow(/unknown Sparkplug device "press1"/);
    const m = node.session.data(
      'press3',
      [{ name: 'press3/speed', value: 9, quality: 'good', ts: TS }],
      false,
    )!;
    expect(decoded(m.payload)).toMatchObject({ seq: 3, metrics: [{ alias: 3, value: 9 }] });
    // Commands go by the new aliases.
    expect(
      await send(
        node,
        dcmdTopic(node, 'press2'),
        command([{ alias: 2, type: 'Boolean', value: true }]),
      ),
    ).toMatchObject({ commands: 1 });
    expect(node.writes).toEqual([['press2', 'press2/alarm', true]]);
    expect(
      await send(
        node,
        dcmdTopic(node, 'press1'),
        command([{ alias: 1, type: 'Double', value: 1 }]),
      ),
    ).toMatchObject({ invalidCommands: 1 });
  });

  it('refuses invalid definitions and keeps the old ones, without a birth', async () => {
    const node = await startNode();
    expect(() =>
      node.session.redefine([
        { name: 'press1', metrics: [{ name: 'press1/temperature', type: 'number' }] },
        { name: 'press1', metrics: [] },
      ]),
    ).toThrow(/device "press1" appears twice/);
    expect(() => node.session.redefine([{ name: 'a+b', metrics: [] }])).toThrow(/must not contain/);
    expect(node.session.stats.births).toBe(1);
    const m = node.session.data(
      'press1',
      [{ name: 'press1/mode', value: 'x', quality: 'good', ts: TS }],
      false,
    )!;
    expect(decoded(m.payload).metrics.map((x) => x.alias)).toEqual([ALIAS['press1/mode']]);
    // The next birth still carries the old definitions.
    await send(node, ncmdTopic(node), command([REBIRTH]));
    const second = await birthSeen(node, 2, 2);
    expect(metric(second, 'bdSeq').alias).toBe(ALIAS.bdSeq);
  });

  it('before the first birth, the birth carries the new definitions', async () => {
    const node = await startNode({ connect: false });
    node.session.redefine(NEW);
    node.client.connect();
    await birthSeen(node, 1, 2);
    expect(node.seen('DBIRTH').map((s) => s.device)).toEqual(['press2', 'press3']);
    expect(node.session.stats.births).toBe(1);
  });
});

describe('bdSeq', () => {
  it('moves on with every reconnect, 255 wrapping to 0, and the Will follows it', async () => {
    const node = await startNode({ connect: false });
    const will = () => node.client.options.will;
    expect(willBdSeq(will())).toBe(0);
    for (let i = 1; i <= 256; i++) {
      node.client.emit('reconnect');
      expect(willBdSeq(will())).toBe(i % 256);
      expect(willBdSeq(node.session.will())).toBe(i % 256);
      expect(will()).toMatchObject({
        topic: `spBv1.0/${GROUP}/NDEATH/${node.id}`,
        qos: 1,
        retain: false,
      });
    }
    node.client.connect();
    const nbirth = await birthSeen(node, 1, 2);
    expect(bdSeqOf(nbirth)).toBe(0);
  });

  it('is new after the broker restarts, and the Will the broker sends carries it', async () => {
    let own = await startMosquitto();
    const into: Seen[] = [];
    try {
      const sparkplugHost = await startHost(own.url, into);
      const node = await startNode({ url: own.url, into });
      expect(bdSeqOf(node.seen('NBIRTH')[0]!)).toBe(0);
      await own.kill('SIGKILL');
      await waitFor('the node to notice', () => !node.client.connected, 5_000, 5);
      expect(
        node.session.data(
          'press2',
          [{ name: 'press2/pressure', value: 1, quality: 'good', ts: TS }],
          false,
        ),
      ).toBeUndefined();
      own = await startMosquitto({ port: own.port, dir: own.dir });
      await waitFor(
        'the birth after the restart',
        () => node.session.stats.births === 2,
        10_000,
        5,
      );
      await waitFor('the host back', () => sparkplugHost.connected, 10_000, 5);
      const bdSeq = willBdSeq(node.session.will());
      // One per CONNECT attempt while the broker was down, at least one.
      expect(bdSeq).toBeGreaterThanOrEqual(1);
      expect(willBdSeq(node.client.options.will)).toBe(bdSeq);
      // The host may have missed that birth while it reconnected; a rebirth shows it.
      const births = node.seen('NBIRTH').length;
      await sparkplugHost.publishAsync(ncmdTopic(node), command([REBIRTH]), { qos: 1 });
      const nbirth = await birthSeen(node, births + 1, 2);
      expect(bdSeqOf(nbirth)).toBe(bdSeq);
      // The connection dies without DISCONNECT: the broker publishes the Will.
      node.client.stream.destroy();
      const death = await waitFor('NDEATH', () => node.seen('NDEATH')[0], 10_000, 5);
      expect(death.payload.seq).toBeUndefined();
      expect(death.payload.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
        ['bdSeq', 'Int64', bdSeq],
      ]);
      // And the next connection is a new one.
      await waitFor('the next birth', () => node.session.stats.births === 4, 10_000, 5);
      expect(willBdSeq(node.session.will())).toBe((bdSeq as number) + 1);
    } finally {
      await endAll(clients);
      await own.stop();
    }
  });
});

describe('close()', () => {
  it('publishes NDEATH with the bdSeq of the birth, then disconnects', async () => {
    const node = await startNode();
    const bdSeq = bdSeqOf(node.seen('NBIRTH')[0]!);
    await node.session.close();
    expect(node.client.connected).toBe(false);
    expect(node.client.disconnected).toBe(true);
    const death = await waitFor('NDEATH', () => node.seen('NDEATH')[0], 5_000, 5);
    expect(death.topic).toBe(`spBv1.0/${GROUP}/NDEATH/${node.id}`);
    expect(death.payload.seq).toBeUndefined();
    expect(death.payload.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
      ['bdSeq', 'Int64', bdSeq],
    ]);
    expect(
      node.session.data(
        'press2',
        [{ name: 'press2/pressure', value: 1, quality: 'good', ts: TS }],
        false,
      ),
    ).toBeUndefined();
    await node.session.close();
    // A clean DISCONNECT discards the Will: one NDEATH only.
    await new Promise((r) => setTimeout(r, 200));
    expect(node.seen('NDEATH')).toHaveLength(1);
  });

  it('does nothing on a session never attached', async () => {
    const session = new SparkplugSession(
      { groupId: GROUP, edgeNode: 'edge-never', devices: DEVICES },
      pino({ level: 'silent' }),
    );
    await expect(session.close()).resolves.toBeUndefined();
  });
});
