import { describe, expect, it } from 'vitest';
import {
  decodePayload,
  encodePayload,
  parseSparkplugTopic,
  type Metric,
  type Payload,
} from '../protocols/mqtt/sparkplug.js';
import { seriesOf, type TagPoint } from './points.js';
import {
  NO_BIRTH,
  SparkplugConsumer,
  UNKNOWN_ALIAS,
  metricQuality,
  type SparkplugResult,
} from './sparkplug-consumer.js';

const T0 = 1_764_000_000_000;

/** Encodes and decodes like the gateway does, so the tests cover the real wire format. */
function feed(c: SparkplugConsumer, topic: string, payload: Payload): SparkplugResult {
  const decoded = decodePayload(encodePayload(payload));
  if (!decoded.ok) throw new Error(decoded.detail);
  const parsed = parseSparkplugTopic(topic);
  if (!parsed) throw new Error(`not a Sparkplug topic: ${topic}`);
  return c.handle(parsed, decoded.value);
}

const NBIRTH = 'spBv1.0/plant1/NBIRTH/edge-01';
const DBIRTH = 'spBv1.0/plant1/DBIRTH/edge-01/micro820';
const DDATA = 'spBv1.0/plant1/DDATA/edge-01/micro820';

const nbirth = (bdSeq = 0): Payload => ({
  timestamp: T0,
  seq: 0,
  metrics: [
    { name: 'bdSeq', alias: 3, type: 'UInt64', value: bdSeq },
    { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
  ],
});

const dbirth: Payload = {
  timestamp: T0,
  seq: 1,
  metrics: [
    { name: 'conveyor1/motor_speed', alias: 1, type: 'Double', value: 1750, timestamp: T0 - 5 },
    { name: 'conveyor1/motor_running', alias: 2, type: 'Boolean', value: true, timestamp: T0 - 5 },
    { name: 'temperature', alias: 4, type: 'Float', value: 21.5, timestamp: T0 - 5 },
  ],
};

const ddata = (metrics: Metric[], timestamp = T0 + 1000): Payload => ({
  timestamp,
  seq: 2,
  metrics,
});

const point = (p: Partial<TagPoint>): TagPoint => ({
  site: 'plant1',
  area: '',
  line: '',
  asset: 'conveyor1',
  tag: 'motor_speed',
  node: 'edge-01',
  value: 1750,
  quality: 'good',
  ts: T0,
  ...p,
});

function born(now = () => T0): SparkplugConsumer {
  const c = new SparkplugConsumer({ now });
  feed(c, NBIRTH, nbirth());
  feed(c, DBIRTH, dbirth);
  return c;
}

describe('SparkplugConsumer: DDATA to points', () => {
  const cases: { name: string; metrics: Metric[]; payloadTs?: number; points: TagPoint[] }[] = [
    {
      name: 'by alias, metric timestamp kept',
      metrics: [{ alias: 1, type: 'Double', value: 1742.5, timestamp: T0 + 10 }],
      points: [point({ value: 1742.5, ts: T0 + 10 })],
    },
    {
      name: 'boolean by alias',
      metrics: [{ alias: 2, type: 'Boolean', value: false, timestamp: T0 + 11 }],
      points: [point({ tag: 'motor_running', value: false, ts: T0 + 11 })],
    },
    {
      name: 'by name, no alias',
      metrics: [{ name: 'conveyor1/motor_speed', type: 'Double', value: 3, timestamp: T0 + 12 }],
      points: [point({ value: 3, ts: T0 + 12 })],
    },
    {
      name: 'a name without "/": asset is the device id',
      metrics: [{ alias: 4, type: 'Float', value: 22.5, timestamp: T0 + 13 }],
      points: [point({ asset: 'micro820', tag: 'temperature', value: 22.5, ts: T0 + 13 })],
    },
    {
      name: 'no metric timestamp: the payload timestamp',
      metrics: [{ alias: 1, type: 'Double', value: 5 }],
      payloadTs: T0 + 77,
      points: [point({ value: 5, ts: T0 + 77 })],
    },
    {
      name: 'historical keeps its old timestamp',
      metrics: [
        { alias: 1, type: 'Double', value: 6, timestamp: T0 - 3_600_000, isHistorical: true },
      ],
      points: [point({ value: 6, ts: T0 - 3_600_000 })],
    },
    {
      name: 'Quality 192 is good',
      metrics: [
        {
          alias: 1,
          type: 'Double',
          value: 7,
          timestamp: T0 + 1,
          properties: { Quality: { type: 'Int32', value: 192 } },
        },
      ],
      points: [point({ value: 7, ts: T0 + 1 })],
    },
    {
      name: 'Quality 500 is uncertain and keeps its value',
      metrics: [
        {
          alias: 1,
          type: 'Double',
          value: 8,
          timestamp: T0 + 2,
          properties: { Quality: { type: 'Int32', value: 500 } },
        },
      ],
      points: [point({ value: 8, quality: 'uncertain', ts: T0 + 2 })],
    },
    {
      name: 'Quality 0 with is_null is bad without value',
      metrics: [
        {
          alias: 1,
          type: 'Double',
          value: null,
          timestamp: T0 + 3,
          properties: { Quality: { type: 'Int32', value: 0 } },
        },
      ],
      points: [point({ value: null, quality: 'bad', ts: T0 + 3 })],
    },
    {
      name: 'several metrics in one message',
      metrics: [
        { alias: 1, type: 'Double', value: 1, timestamp: T0 + 4 },
        { alias: 2, type: 'Boolean', value: true, timestamp: T0 + 4 },
      ],
      points: [
        point({ value: 1, ts: T0 + 4 }),
        point({ tag: 'motor_running', value: true, ts: T0 + 4 }),
      ],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const consumer = born();
      const r = feed(consumer, DDATA, ddata(c.metrics, c.payloadTs));
      expect(r.problems).toEqual([]);
      expect(r.rebirth).toBeUndefined();
      expect(plain(r.points)).toEqual(c.points);
    });

  it('stores the values a DBIRTH carries', () => {
    const c = new SparkplugConsumer({ now: () => T0 });
    feed(c, NBIRTH, nbirth());
    const r = feed(c, DBIRTH, dbirth);
    expect(plain(r.points)).toEqual([
      point({ ts: T0 - 5 }),
      point({ tag: 'motor_running', value: true, ts: T0 - 5 }),
      point({ asset: 'micro820', tag: 'temperature', value: 21.5, ts: T0 - 5 }),
    ]);
  });
});

describe('SparkplugConsumer: births, deaths and rebirth requests', () => {
  const cases: {
    name: string;
    steps: [topic: string, payload: Payload][];
    reason?: string;
    points: number;
    rebirth: boolean;
  }[] = [
    {
      name: 'DDATA before any birth',
      steps: [[DDATA, ddata([{ alias: 1, type: 'Double', value: 1 }])]],
      reason: NO_BIRTH,
      points: 0,
      rebirth: true,
    },
    {
      name: 'DDATA after NBIRTH but before its DBIRTH',
      steps: [
        [NBIRTH, nbirth()],
        [DDATA, ddata([{ alias: 1, type: 'Double', value: 1 }])],
      ],
      reason: NO_BIRTH,
      points: 0,
      rebirth: true,
    },
    {
      name: 'DBIRTH before NBIRTH',
      steps: [[DBIRTH, dbirth]],
      reason: NO_BIRTH,
      points: 0,
      rebirth: true,
    },
    {
      name: 'unknown alias: the known ones are kept',
      steps: [
        [NBIRTH, nbirth()],
        [DBIRTH, dbirth],
        [
          DDATA,
          ddata([
            { alias: 1, type: 'Double', value: 1 },
            { alias: 99, type: 'Double', value: 2 },
          ]),
        ],
      ],
      reason: UNKNOWN_ALIAS,
      points: 1,
      rebirth: true,
    },
    {
      name: 'DDATA after DDEATH',
      steps: [
        [NBIRTH, nbirth()],
        [DBIRTH, dbirth],
        [DBIRTH.replace('DBIRTH', 'DDEATH'), { timestamp: T0, seq: 2, metrics: [] }],
        [DDATA, ddata([{ alias: 1, type: 'Double', value: 1 }])],
      ],
      reason: NO_BIRTH,
      points: 0,
      rebirth: true,
    },
    {
      name: 'DDATA after NDEATH with the current bdSeq',
      steps: [
        [NBIRTH, nbirth(4)],
        [DBIRTH, dbirth],
        [NBIRTH.replace('NBIRTH', 'NDEATH'), { timestamp: T0, metrics: [bdSeqMetric(4)] }],
        [DDATA, ddata([{ alias: 1, type: 'Double', value: 1 }])],
      ],
      reason: NO_BIRTH,
      points: 0,
      rebirth: true,
    },
    {
      name: 'a late NDEATH of an older connection (other bdSeq) is ignored',
      steps: [
        [NBIRTH, nbirth(5)],
        [DBIRTH, dbirth],
        [NBIRTH.replace('NBIRTH', 'NDEATH'), { timestamp: T0, metrics: [bdSeqMetric(4)] }],
        [DDATA, ddata([{ alias: 1, type: 'Double', value: 1 }])],
      ],
      points: 1,
      rebirth: false,
    },
    {
      name: 'a new NBIRTH forgets the old devices',
      steps: [
        [NBIRTH, nbirth(0)],
        [DBIRTH, dbirth],
        [NBIRTH, nbirth(1)],
        [DDATA, ddata([{ alias: 1, type: 'Double', value: 1 }])],
      ],
      reason: NO_BIRTH,
      points: 0,
      rebirth: true,
    },
    {
      name: 'NDATA and other groups do not disturb',
      steps: [
        [NBIRTH, nbirth()],
        [DBIRTH, dbirth],
        ['spBv1.0/plant1/NDATA/edge-01', { timestamp: T0, seq: 2, metrics: [bdSeqMetric(0)] }],
        ['spBv1.0/plant2/NBIRTH/edge-01', nbirth(7)],
        [DDATA, ddata([{ alias: 2, type: 'Boolean', value: true }])],
      ],
      points: 1,
      rebirth: false,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const consumer = new SparkplugConsumer({ now: () => T0 });
      let last: SparkplugResult | undefined;
      for (const [topic, payload] of c.steps) last = feed(consumer, topic, payload);
      expect(last!.problems.map((p) => p.reason)).toEqual(c.reason ? [c.reason] : []);
      expect(last!.points).toHaveLength(c.points);
      if (c.rebirth) {
        expect(last!.rebirth?.topic).toBe('spBv1.0/plant1/NCMD/edge-01');
        const cmd = decodePayload(last!.rebirth!.payload);
        expect(cmd.ok && cmd.value.metrics).toMatchObject([
          { name: 'Node Control/Rebirth', value: true },
        ]);
      } else expect(last!.rebirth).toBeUndefined();
    });

  it('asks one node for a rebirth at most once per 10 s', () => {
    let now = T0;
    const c = new SparkplugConsumer({ now: () => now });
    const data = ddata([{ alias: 1, type: 'Double', value: 1 }]);
    const other = 'spBv1.0/plant1/DDATA/edge-02/micro820';
    const asked = (): boolean[] => [
      feed(c, DDATA, data).rebirth !== undefined,
      feed(c, other, data).rebirth !== undefined,
    ];
    expect(asked()).toEqual([true, true]);
    now += 5_000;
    expect(asked()).toEqual([false, false]);
    now += 5_000;
    expect(asked()).toEqual([true, true]);
    // Counted every time, asked only once.
    expect(feed(c, DDATA, data).problems.map((p) => p.reason)).toEqual([NO_BIRTH]);
  });
});

describe('metricQuality', () => {
  const cases: [code: number | undefined, quality: string][] = [
    [undefined, 'good'],
    [192, 'good'],
    [0, 'bad'],
    [500, 'uncertain'],
    [24, 'bad'],
    [64, 'uncertain'],
    [216, 'good'],
  ];
  for (const [code, q] of cases)
    it(`${code ?? 'absent'} → ${q}`, () => {
      const properties: Record<string, { type: 'Int32'; value: number }> =
        code === undefined ? {} : { Quality: { type: 'Int32', value: code } };
      expect(metricQuality({ properties })).toBe(q);
    });
});

function bdSeqMetric(value: number): Metric {
  return { name: 'bdSeq', type: 'UInt64', value };
}

/** The points without their series text, after checking it is the one their tags give. */
function plain(points: TagPoint[]): TagPoint[] {
  return points.map(({ series, ...p }) => {
    expect(series).toBe(seriesOf(p));
    return p;
  });
}
