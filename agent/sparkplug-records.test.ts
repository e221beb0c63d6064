import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import { describe, expect, it } from 'vitest';
import type { QueueRecord } from '../core/durable-queue.js';
import { silentLogger } from '../core/logger.js';
import { decodePayload, type DecodedPayload } from '../protocols/mqtt/sparkplug.js';
import {
  decodeSamples,
  encodeSamples,
  finalizeSparkplug,
  type StoredSample,
} from './sparkplug-records.js';
import { SparkplugSession, type SparkplugSessionOptions } from './sparkplug-session.js';

const TS = 1732480000123;
const GROUP = 'plant1';
const NODE = 'edge-01';
const RawPayload = proto.org.eclipse.tahu.protobuf.Payload;

const DEVICES: SparkplugSessionOptions['devices'] = [
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
/** Aliases as the session numbers them: metrics 1..N in device order. */
const ALIAS: Record<string, number> = {
  'press1/temperature': 1,
  'press1/running': 2,
  'press1/mode': 3,
  'press2/pressure': 4,
};
/** NBIRTH is seq 0 and each DBIRTH takes one, so the first DATA after a birth is seq 3. */
const FIRST_DATA_SEQ = 1 + DEVICES.length;

/**
 * The parts of an mqtt.js client the session uses. finalizeSparkplug never touches the network,
 * so a birth on this stand-in is enough to give the session a current birth sequence.
 */
class FakeClient extends EventEmitter {
  connected = false;
  readonly options: { will?: { topic: string } };
  readonly published: { topic: string; payload: Buffer }[] = [];

  constructor(will: { topic: string }) {
    super();
    this.options = { will };
  }

  async subscribeAsync(): Promise<unknown[]> {
    return [];
  }

  publish(topic: string, payload: Buffer): this {
    this.published.push({ topic, payload });
    return this;
  }
}

function newSession(): { session: SparkplugSession; client: FakeClient } {
  const session = new SparkplugSession(
    { groupId: GROUP, edgeNode: NODE, devices: DEVICES },
    silentLogger,
  );
  const client = new FakeClient(session.will());
  return { session, client };
}

async function bornSession(): Promise<{ session: SparkplugSession; client: FakeClient }> {
  const { session, client } = newSession();
  const born = new Promise<void>((resolve) =>
    session.attach(
      client as unknown as MqttClient,
      () => undefined,
      () => resolve(),
      () => undefined,
    ),
  );
  client.connected = true;
  client.emit('connect');
  await born;
  return { session, client };
}

function record(topic: string, payload: string | Buffer): QueueRecord {
  return { id: 1, ts: TS, topic, payload, samples: 1 };
}

const ddataTopic = (device: string, group = GROUP, node = NODE) =>
  `spBv1.0/${group}/DDATA/${node}/${device}`;

function decoded(payload: string | Buffer): DecodedPayload {
  expect(Buffer.isBuffer(payload)).toBe(true);
  const d = decodePayload(payload as Buffer);
  if (!d.ok) throw new Error(`not a Sparkplug payload: ${d.detail}`);
  return d.value;
}

/** The seq the session gives its next DDATA (finalizing a record takes one). */
function nextSeq(session: SparkplugSession): number {
  const message = session.data(
    'press2',
    [{ name: 'press2/pressure', value: 1, quality: 'good', ts: TS }],
    false,
  );
  if (!message) throw new Error('no birth is current');
  return decoded(message.payload).seq!;
}

describe('encodeSamples / decodeSamples', () => {
  it.each<[string, StoredSample[], string]>([
    [
      'a number',
      [['press1/temperature', 21.5, 'good', TS]],
      `[["press1/temperature",21.5,"good",${TS}]]`,
    ],
    [
      'a boolean',
      [['press1/running', false, 'good', TS]],
      `[["press1/running",false,"good",${TS}]]`,
    ],
    [
      'a string',
      [['press1/mode', 'Auto "2"', 'uncertain', TS]],
      `[["press1/mode","Auto \\"2\\"","uncertain",${TS}]]`,
    ],
    [
      'a bad null',
      [['press1/temperature', null, 'bad', TS]],
      `[["press1/temperature",null,"bad",${TS}]]`,
    ],
    [
      'several',
      [
        ['a', 1, 'good', TS],
        ['b', -0.5, 'uncertain', TS + 1],
      ],
      `[["a",1,"good",${TS}],["b",-0.5,"uncertain",${TS + 1}]]`,
    ],
    ['none', [], '[]'],
  ])('stores %s compactly and reads it back', (_what, samples, json) => {
    expect(encodeSamples(samples)).toBe(json);
    expect(decodeSamples(json)).toEqual(
      samples.map(([name, value, quality, ts]) => ({ name, value, quality, ts })),
    );
  });

  it.each([
    ['not JSON', 'press1/temperature=1'],
    ['an object', `{"name":"a","value":1,"quality":"good","ts":${TS}}`],
    ['null', 'null'],
    ['a bare sample', `["a",1,"good",${TS}]`],
    ['a sample of 3 fields', '[["a",1,"good"]]'],
    ['a sample of 5 fields', `[["a",1,"good",${TS},"x"]]`],
    ['a numeric metric name', `[[7,1,"good",${TS}]]`],
    ['an object value', `[["a",{"v":1},"good",${TS}]]`],
    ['an array value', `[["a",[1],"good",${TS}]]`],
    ['an unknown quality', `[["a",1,"ok",${TS}]]`],
    ['a null quality', `[["a",1,null,${TS}]]`],
    ['a string timestamp', '[["a",1,"good","2024-11-24T20:26:40Z"]]'],
    ['a null timestamp', '[["a",1,"good",null]]'],
    ['one bad sample among good ones', `[["a",1,"good",${TS}],["b",1,"fine",${TS}]]`],
  ])('refuses %s', (_what, text) => {
    expect(() => decodeSamples(text)).toThrow();
  });

  it('names what a record should look like', () => {
    expect(() => decodeSamples('[[1,2]]')).toThrow(
      'stored Sparkplug record is not a list of [metric, value, quality, ts]',
    );
  });
});

describe('finalizeSparkplug', () => {
  it.each<[string, string | Buffer]>([
    ['a JSON tag record', '{"v":1,"ts":1732480000123,"q":"good"}'],
    ['a Buffer payload', Buffer.from('{"v":true,"ts":1732480000123,"q":"good"}')],
  ])(
    'sends %s accepted before the switch to Sparkplug as it was stored',
    async (_what, payload) => {
      const { session } = await bornSession();
      const before = nextSeq(session);
      const r = record('factorylm/plant1/packaging/line1/press1/temperature', payload);
      expect(finalizeSparkplug(session, r, false)).toBe(payload);
      expect(finalizeSparkplug(session, r, true)).toBe(payload);
      // It took no seq.
      expect(nextSeq(session)).toBe(before + 1);
    },
  );

  it('passes non-Sparkplug records through even without a birth', () => {
    const { session } = newSession();
    const r = record('factorylm/plant1/_nodes/edge-01/status', 'online');
    expect(finalizeSparkplug(session, r, false)).toBe('online');
  });

  it.each([false, true])(
    'turns a DDATA record into protobuf by alias with the next seq (historical: %s)',
    async (historical) => {
      const { session } = await bornSession();
      const samples: StoredSample[] = [
        ['press1/temperature', 21.5, 'good', TS - 2000],
        ['press1/running', true, 'uncertain', TS - 1000],
        ['press1/mode', null, 'bad', TS],
      ];
      const payload = finalizeSparkplug(
        session,
        record(ddataTopic('press1'), encodeSamples(samples)),
        historical,
      );
      const p = decoded(payload);
      expect(p.seq).toBe(FIRST_DATA_SEQ);
      expect(p.metrics).toEqual([
        {
          alias: ALIAS['press1/temperature'],
          timestamp: TS - 2000,
          type: 'Double',
          value: 21.5,
          isHistorical: historical,
          properties: {},
        },
        {
          alias: ALIAS['press1/running'],
          timestamp: TS - 1000,
          type: 'Boolean',
          value: true,
          isHistorical: historical,
          properties: { Quality: { type: 'Int32', value: 500 } },
        },
        {
          alias: ALIAS['press1/mode'],
          timestamp: TS,
          type: 'String',
          value: null,
          isHistorical: historical,
          properties: { Quality: { type: 'Int32', value: 0 } },
        },
      ]);
      // DATA goes by alias only, and is_historical is on the wire only when it is true.
      const wire = RawPayload.decode(payload as Buffer);
      for (const m of wire.metrics) {
        expect(Object.hasOwn(m, 'name')).toBe(false);
        expect(Object.hasOwn(m, 'isHistorical')).toBe(historical);
      }
    },
  );

  it('numbers successive records 0-255 on from the birth, wrapping to 0', async () => {
    const { session } = await bornSession();
    const text = encodeSamples([['press2/pressure', 3, 'good', TS]]);
    const seqs: number[] = [];
    for (let i = 0; i < 300; i++)
      seqs.push(
        decoded(finalizeSparkplug(session, record(ddataTopic('press2'), text), i % 2 === 0)).seq!,
      );
    expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => (FIRST_DATA_SEQ + i) % 256));
  });

  it('refuses a DDATA record while no birth is current: before the first, and after the connection closed', async () => {
    const text = encodeSamples([['press2/pressure', 3, 'good', TS]]);
    const { session: unattached } = newSession();
    expect(() => finalizeSparkplug(unattached, record(ddataTopic('press2'), text), false)).toThrow(
      /no Sparkplug birth is current/,
    );
    const { session, client } = await bornSession();
    expect(() =>
      finalizeSparkplug(session, record(ddataTopic('press2'), text), false),
    ).not.toThrow();
    client.connected = false;
    client.emit('close');
    expect(() => finalizeSparkplug(session, record(ddataTopic('press2'), text), true)).toThrow(
      /no Sparkplug birth is current/,
    );
  });

  it.each([
    ['another edge node', ddataTopic('press1', GROUP, 'edge-02')],
    ['another group', ddataTopic('press1', 'plant2', NODE)],
    ['another group and node', ddataTopic('press2', 'plant2', 'edge-02')],
  ])('refuses a record of %s without taking a seq', async (_what, topic) => {
    const { session } = await bornSession();
    const before = nextSeq(session);
    const text = encodeSamples([['press1/temperature', 1, 'good', TS]]);
    expect(() => finalizeSparkplug(session, record(topic, text), false)).toThrow(
      /belongs to another edge node or group/,
    );
    // A seq taken by a message that is never sent would be a gap hosts answer with a rebirth.
    expect(nextSeq(session)).toBe(before + 1);
  });

  it.each([
    `spBv1.0/${GROUP}/NDATA/${NODE}`,
    `spBv1.0/${GROUP}/DBIRTH/${NODE}/press1`,
    `spBv1.0/${GROUP}/DCMD/${NODE}/press1`,
    `spBv1.0/${GROUP}/DDEATH/${NODE}/press1`,
    `spBv1.0/${GROUP}/DDATA/${NODE}`,
    `spBv1.0/${GROUP}/DDATA/${NODE}/press1/extra`,
    'spBv1.0/STATE/scada',
  ])('refuses a record on %s as not DDATA', async (topic) => {
    const { session } = await bornSession();
    const text = encodeSamples([['press1/temperature', 1, 'good', TS]]);
    expect(() => finalizeSparkplug(session, record(topic, text), false)).toThrow(/is not DDATA/);
  });

  it.each<[string, string, string | Buffer, RegExp]>([
    [
      'a device the session does not have',
      'press9',
      encodeSamples([['press9/x', 1, 'good', TS]]),
      /unknown Sparkplug device "press9"/,
    ],
    [
      'a metric the device does not have',
      'press1',
      encodeSamples([['press2/pressure', 1, 'good', TS]]),
      /unknown Sparkplug metric "press2\/pressure"/,
    ],
    [
      'a value of the wrong type',
      'press1',
      encodeSamples([['press1/running', 1, 'good', TS]]),
      /is boolean, got number/,
    ],
    ['a payload that is not samples', 'press1', '{"v":1}', /not a list of/],
    ['samples as a Buffer that is not JSON', 'press1', Buffer.from([0x0a, 0x01]), /JSON/],
  ])('refuses %s without taking a seq', async (_what, device, payload, error) => {
    const { session } = await bornSession();
    const before = nextSeq(session);
    expect(() => finalizeSparkplug(session, record(ddataTopic(device), payload), false)).toThrow(
      error,
    );
    expect(nextSeq(session)).toBe(before + 1);
  });

  it('reads samples stored as a Buffer', async () => {
    const { session } = await bornSession();
    const text = encodeSamples([['press2/pressure', 7.25, 'good', TS]]);
    const p = decoded(
      finalizeSparkplug(session, record(ddataTopic('press2'), Buffer.from(text)), false),
    );
    expect(p.metrics.map((m) => [m.alias, m.value])).toEqual([[ALIAS['press2/pressure'], 7.25]]);
  });

  it('publishes nothing itself: the outbox sends what it returns', async () => {
    const { session, client } = await bornSession();
    const births = client.published.length;
    expect(births).toBe(1 + DEVICES.length);
    finalizeSparkplug(
      session,
      record(ddataTopic('press2'), encodeSamples([['press2/pressure', 1, 'good', TS]])),
      false,
    );
    expect(client.published).toHaveLength(births);
  });
});
