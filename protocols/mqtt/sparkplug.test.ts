import sparkplugPayload from 'sparkplug-payload';
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import { describe, expect, it } from 'vitest';
import {
  commandFilters,
  decodePayload,
  encodePayload,
  parseSparkplugTopic,
  sparkplugIdProblem,
  sparkplugTopic,
  type DecodedMetric,
  type Metric,
  type SparkplugTopic,
} from './sparkplug.js';

const TS = 1732480000123;
const RawPayload = proto.org.eclipse.tahu.protobuf.Payload;
/** Eclipse Tahu's codec, as a host application would use it. */
const tahu = sparkplugPayload.get('spBv1.0')!;

/** Sparkplug datatype codes (the protobuf `datatype` field). */
const DT = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt64: 8,
  Double: 10,
  Boolean: 11,
  String: 12,
};

/**
 * A payload built field by field with protobufjs, as a sender that does not go through Tahu
 * would: a metric may leave out its datatype or its value. 64-bit fields take decimal strings.
 */
function raw(metrics: Record<string, unknown>[], extra: Record<string, unknown> = {}): Buffer {
  const message = RawPayload.fromObject({ timestamp: TS, ...extra, metrics });
  return Buffer.from(RawPayload.encode(message).finish());
}

function decodedMetrics(buf: Uint8Array): DecodedMetric[] {
  const d = decodePayload(buf);
  if (!d.ok) throw new Error(`expected a payload, got ${d.reason}: ${d.detail}`);
  return d.value.metrics;
}

/** A small deterministic PRNG, so a failing fuzz case is the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('sparkplugIdProblem', () => {
  it.each(['plant1', 'Edge Node 01', 'press-1_a.b', 'Öl-Presse', 'x', '$SYS'])(
    'accepts %j',
    (id) => {
      expect(sparkplugIdProblem(id)).toBeUndefined();
    },
  );

  it.each([
    ['', /empty/],
    ['a/b', /"\/"/],
    ['/', /"\/"/],
    ['a+', /"\+"/],
    ['#', /"#"/],
    ['a\0b', /NUL/],
  ])('refuses %j', (id, message) => {
    expect(sparkplugIdProblem(id)).toMatch(message);
  });
});

describe('Sparkplug topics', () => {
  it.each<[SparkplugTopic, string]>([
    [{ group: 'g', verb: 'NBIRTH', edgeNode: 'n' }, 'spBv1.0/g/NBIRTH/n'],
    [{ group: 'g', verb: 'NDEATH', edgeNode: 'n' }, 'spBv1.0/g/NDEATH/n'],
    [{ group: 'g', verb: 'NDATA', edgeNode: 'n' }, 'spBv1.0/g/NDATA/n'],
    [{ group: 'g', verb: 'NCMD', edgeNode: 'n' }, 'spBv1.0/g/NCMD/n'],
    [
      { group: 'plant1', verb: 'DBIRTH', edgeNode: 'edge-01', device: 'press1' },
      'spBv1.0/plant1/DBIRTH/edge-01/press1',
    ],
    [{ group: 'g', verb: 'DDEATH', edgeNode: 'n', device: 'd' }, 'spBv1.0/g/DDEATH/n/d'],
    [{ group: 'g', verb: 'DDATA', edgeNode: 'n', device: 'd' }, 'spBv1.0/g/DDATA/n/d'],
    [{ group: 'g', verb: 'DCMD', edgeNode: 'n', device: 'd d' }, 'spBv1.0/g/DCMD/n/d d'],
  ])('%j is %s and parses back', (t, topic) => {
    expect(sparkplugTopic(t)).toBe(topic);
    expect(parseSparkplugTopic(topic)).toEqual(t);
  });

  it.each([
    ['spBv1.0/STATE/scada-host', 'Sparkplug 3.0 host STATE'],
    ['spBv1.0/g/STATE/n', 'STATE is no edge node verb'],
    ['spAv1.0/g/NBIRTH/n', 'another namespace'],
    ['spbv1.0/g/NBIRTH/n', 'namespace is case-sensitive'],
    ['factorylm/g/NBIRTH/n', 'not Sparkplug at all'],
    ['spBv1.0/g/nbirth/n', 'verbs are case-sensitive'],
    ['spBv1.0/g/NFOO/n', 'unknown verb'],
    ['spBv1.0', 'namespace only'],
    ['spBv1.0/g', 'too short'],
    ['spBv1.0/g/NBIRTH', 'no edge node'],
    ['spBv1.0/g/NBIRTH/', 'empty edge node'],
    ['spBv1.0//NBIRTH/n', 'empty group'],
    ['spBv1.0/g//n', 'empty verb'],
    ['spBv1.0/g/NBIRTH/n/d', 'node verb with a device'],
    ['spBv1.0/g/NCMD/n/d', 'node command with a device'],
    ['spBv1.0/g/DDATA/n', 'device verb without a device'],
    ['spBv1.0/g/DCMD/n', 'device command without a device'],
    ['spBv1.0/g/DDATA/n/', 'device verb with an empty device'],
    ['spBv1.0/g/DDATA/n/d/x', 'one level too deep'],
    ['/spBv1.0/g/NBIRTH/n', 'leading slash'],
    ['', 'empty topic'],
  ])('does not parse %j (%s)', (topic) => {
    expect(parseSparkplugTopic(topic)).toBeUndefined();
  });

  it('subscribes an edge node to its own NCMD and to DCMD for any of its devices', () => {
    expect(commandFilters('plant1', 'edge-01')).toEqual([
      'spBv1.0/plant1/NCMD/edge-01',
      'spBv1.0/plant1/DCMD/edge-01/+',
    ]);
    // The device filter matches the DCMD topic of one device and nothing deeper.
    const [, dcmd] = commandFilters('g', 'n');
    expect(dcmd.split('/')).toHaveLength(5);
    expect(parseSparkplugTopic(dcmd.replace('+', 'press1'))).toEqual({
      group: 'g',
      verb: 'DCMD',
      edgeNode: 'n',
      device: 'press1',
    });
  });
});

describe('encodePayload / decodePayload', () => {
  it.each<[string, Metric, DecodedMetric['value']]>([
    ['Int64 zero', { name: 'bdSeq', type: 'Int64', value: 0 }, 0],
    ['Int64 255', { name: 'bdSeq', type: 'Int64', value: 255 }, 255],
    ['Int64 negative', { name: 'x', type: 'Int64', value: -42 }, -42],
    ['Int64 2^53 - 1', { name: 'x', type: 'Int64', value: 2 ** 53 - 1 }, 2 ** 53 - 1],
    ['Int64 -(2^53 - 1)', { name: 'x', type: 'Int64', value: -(2 ** 53 - 1) }, -(2 ** 53 - 1)],
    ['Int32 negative', { name: 'x', type: 'Int32', value: -5 }, -5],
    ['Int32 500', { name: 'x', type: 'Int32', value: 500 }, 500],
    ['Double', { name: 'x', type: 'Double', value: 42.125 }, 42.125],
    ['Double tiny', { name: 'x', type: 'Double', value: 5e-324 }, 5e-324],
    ['Double negative zero', { name: 'x', type: 'Double', value: -0 }, -0],
    ['Double NaN', { name: 'x', type: 'Double', value: NaN }, NaN],
    ['Double -Infinity', { name: 'x', type: 'Double', value: -Infinity }, -Infinity],
    ['Boolean true', { name: 'x', type: 'Boolean', value: true }, true],
    ['Boolean false', { name: 'x', type: 'Boolean', value: false }, false],
    ['String', { name: 'x', type: 'String', value: 'Öl: 3 °C ✓' }, 'Öl: 3 °C ✓'],
    ['String empty', { name: 'x', type: 'String', value: '' }, ''],
    ['Double is_null', { name: 'x', type: 'Double', value: null }, null],
    ['Boolean is_null', { name: 'x', type: 'Boolean', value: null }, null],
    ['String is_null', { name: 'x', type: 'String', value: null }, null],
    ['Int64 is_null', { name: 'x', type: 'Int64', value: null }, null],
  ])('round-trips %s', (_what, metric, value) => {
    const decoded = decodePayload(encodePayload({ timestamp: TS, seq: 7, metrics: [metric] }));
    expect(decoded).toEqual({
      ok: true,
      value: {
        timestamp: TS,
        seq: 7,
        metrics: [
          { name: metric.name, type: metric.type, value, isHistorical: false, properties: {} },
        ],
      },
    });
    // toEqual treats -0 and 0 alike; the sign must survive too.
    if (decoded.ok) expect(Object.is(decoded.value.metrics[0]!.value, value)).toBe(true);
  });

  it('round-trips alias, timestamp, isHistorical and properties, and leaves out what was not sent', () => {
    const buf = encodePayload({
      timestamp: TS,
      seq: 255,
      metrics: [
        {
          alias: 17,
          timestamp: TS - 5000,
          type: 'Double',
          value: null,
          isHistorical: true,
          properties: { Quality: { type: 'Int32', value: 0 } },
        },
        {
          name: 'press1/mode',
          alias: 2 ** 40,
          timestamp: TS - 1,
          type: 'String',
          value: 'auto',
          properties: {
            Quality: { type: 'Int32', value: 500 },
            engUnit: { type: 'String', value: 'bar' },
            limit: { type: 'Double', value: 2.5 },
            enabled: { type: 'Boolean', value: true },
            big: { type: 'Int64', value: -(2 ** 40) },
            missing: { type: 'String', value: null },
          },
        },
        { name: 'plain', type: 'Boolean', value: true, isHistorical: false },
      ],
    });
    expect(decodedMetrics(buf)).toEqual([
      {
        alias: 17,
        timestamp: TS - 5000,
        type: 'Double',
        value: null,
        isHistorical: true,
        properties: { Quality: { type: 'Int32', value: 0 } },
      },
      {
        name: 'press1/mode',
        alias: 2 ** 40,
        timestamp: TS - 1,
        type: 'String',
        value: 'auto',
        isHistorical: false,
        properties: {
          Quality: { type: 'Int32', value: 500 },
          engUnit: { type: 'String', value: 'bar' },
          limit: { type: 'Double', value: 2.5 },
          enabled: { type: 'Boolean', value: true },
          big: { type: 'Int64', value: -(2 ** 40) },
          missing: { type: 'String', value: null },
        },
      },
      { name: 'plain', type: 'Boolean', value: true, isHistorical: false, properties: {} },
    ]);
    const first = decodedMetrics(buf)[0]!;
    expect('name' in first).toBe(false);
  });

  it('leaves out seq when the payload has none (NDEATH, NCMD, DCMD) and keeps seq 0', () => {
    const noSeq = decodePayload(encodePayload({ timestamp: TS, metrics: [] }));
    expect(noSeq).toEqual({ ok: true, value: { timestamp: TS, metrics: [] } });
    const zero = decodePayload(encodePayload({ timestamp: TS, seq: 0, metrics: [] }));
    expect(zero).toEqual({ ok: true, value: { timestamp: TS, seq: 0, metrics: [] } });
  });

  it.each<[string, number, string, bigint | number]>([
    ['Int64 2^53 + 1', DT.Int64, '9007199254740993', 9007199254740993n],
    ['Int64 -(2^53 + 1)', DT.Int64, '-9007199254740993', -9007199254740993n],
    ['Int64 max', DT.Int64, '9223372036854775807', 9223372036854775807n],
    ['Int64 min', DT.Int64, '-9223372036854775808', -9223372036854775808n],
    ['UInt64 max', DT.UInt64, '18446744073709551615', 18446744073709551615n],
    ['UInt64 2^53', DT.UInt64, '9007199254740992', 9007199254740992n],
    ['Int64 2^53 - 1 stays a number', DT.Int64, '9007199254740991', 2 ** 53 - 1],
    ['Int64 -1 stays a number', DT.Int64, '-1', -1],
  ])('decodes %s exactly', (_what, datatype, longValue, value) => {
    const [metric] = decodedMetrics(raw([{ name: 'x', datatype, longValue }]));
    expect(metric!.value).toBe(value);
    expect(typeof metric!.value).toBe(typeof value);
  });

  it('decodes a 64-bit property value beyond 2^53 as bigint', () => {
    const buf = raw([
      {
        name: 'x',
        datatype: DT.Boolean,
        booleanValue: true,
        properties: {
          keys: ['serial'],
          values: [{ type: DT.UInt64, longValue: '18446744073709551615' }],
        },
      },
    ]);
    expect(decodedMetrics(buf)[0]!.properties).toEqual({
      serial: { type: 'UInt64', value: 18446744073709551615n },
    });
  });

  // DCMD senders often leave the datatype out: Sparkplug only asks for it in births.
  it.each<[string, Record<string, unknown>, DecodedMetric['value']]>([
    ['booleanValue', { alias: 3, booleanValue: true }, true],
    ['booleanValue false', { alias: 3, booleanValue: false }, false],
    ['doubleValue', { alias: 3, doubleValue: 12.5 }, 12.5],
    ['floatValue', { alias: 3, floatValue: 0.5 }, 0.5],
    ['intValue', { alias: 3, intValue: 7 }, 7],
    ['longValue', { alias: 3, longValue: '1234' }, 1234],
    ['longValue beyond 2^53', { alias: 3, longValue: '9007199254740993' }, 9007199254740993n],
    ['stringValue', { name: 'press1/mode', stringValue: 'auto' }, 'auto'],
    ['is_null', { alias: 3, isNull: true }, null],
    ['is_null wins over a value', { alias: 3, isNull: true, doubleValue: 1 }, null],
    ['no value at all', { alias: 3 }, null],
  ])('decodes a metric without datatype carrying %s', (_what, metric, value) => {
    const [decoded] = decodedMetrics(raw([metric]));
    expect(decoded).not.toHaveProperty('type');
    expect(decoded!.value).toEqual(value);
    expect(typeof decoded!.value).toBe(typeof value);
    if (metric.alias !== undefined) expect(decoded!.alias).toBe(metric.alias);
    if (metric.name !== undefined) expect(decoded!.name).toBe(metric.name);
  });

  it('keeps metrics without datatype apart from typed ones in the same payload', () => {
    const metrics = decodedMetrics(
      raw([
        { alias: 1, datatype: DT.Double, doubleValue: 1.5 },
        { alias: 2, booleanValue: true },
        { alias: 3, datatype: DT.String, stringValue: 's' },
        { alias: 4, doubleValue: 4.5 },
      ]),
    );
    expect(metrics.map((m) => [m.alias, m.type, m.value])).toEqual([
      [1, 'Double', 1.5],
      [2, undefined, true],
      [3, 'String', 's'],
      [4, undefined, 4.5],
    ]);
  });

  // A typed metric whose value is not where its datatype says reads as null, never as a value
  // the sender did not send (a DCMD turned into a write of 0).
  it.each<[string, Record<string, unknown>]>([
    ['Int32 without a value', { alias: 3, datatype: DT.Int32 }],
    ['Int16 without a value', { alias: 3, datatype: DT.Int16 }],
    ['Int8 without a value', { alias: 3, datatype: DT.Int8 }],
    ['Int32 with a doubleValue', { alias: 3, datatype: DT.Int32, doubleValue: 5 }],
    ['Double without a value', { alias: 3, datatype: DT.Double }],
    ['Boolean without a value', { alias: 3, datatype: DT.Boolean }],
    ['Boolean with an intValue', { alias: 3, datatype: DT.Boolean, intValue: 1 }],
    ['Int64 without a value', { alias: 3, datatype: DT.Int64 }],
    ['String without a value', { alias: 3, datatype: DT.String }],
  ])('decodes %s as null', (_what, metric) => {
    expect(decodedMetrics(raw([metric]))[0]!.value).toBeNull();
  });

  it('decodes an Int32 property without a value as null, not as 0 (BAD)', () => {
    const buf = raw([
      {
        alias: 1,
        datatype: DT.Double,
        doubleValue: 1,
        properties: {
          keys: ['Quality', 'limit'],
          values: [{ type: DT.Int32 }, { type: DT.Int32, intValue: 0 }],
        },
      },
    ]);
    expect(decodedMetrics(buf)[0]!.properties).toEqual({
      Quality: { type: 'Int32', value: null },
      limit: { type: 'Int32', value: 0 },
    });
  });

  it.each<[string, Record<string, unknown>]>([
    ['Bytes', { name: 'b', datatype: 17, bytesValue: Buffer.from([1, 2]).toString('base64') }],
    ['bytes without datatype', { name: 'b', bytesValue: Buffer.from([1]).toString('base64') }],
    [
      'DataSet',
      {
        name: 'ds',
        datatype: 16,
        datasetValue: { numOfColumns: 1, columns: ['a'], types: [DT.Int32], rows: [] },
      },
    ],
    ['Template', { name: 't', datatype: 19, templateValue: { metrics: [] } }],
    [
      'a PropertySet property',
      {
        name: 'p',
        datatype: DT.Boolean,
        booleanValue: true,
        properties: {
          keys: ['nested'],
          values: [{ type: 20, propertysetValue: { keys: [], values: [] } }],
        },
      },
    ],
  ])('refuses a %s value as unsupported without throwing', (_what, metric) => {
    const decoded = decodePayload(raw([metric]));
    expect(decoded).toMatchObject({ ok: false, reason: 'unsupported-value' });
    if (!decoded.ok) expect(decoded.detail).toMatch(/not a scalar/);
  });

  it.each<[string, Buffer]>([
    ['JSON', Buffer.from('{"v":1,"ts":1732480000123,"q":"good"}')],
    ['text', Buffer.from('hello world')],
    ['0xff', Buffer.from([0xff])],
    ['an unterminated varint', Buffer.from([0x08, 0xff, 0xff])],
    ['a length beyond the end', Buffer.from([0x12, 0x40, 0x0a])],
    ['an invalid wire type', Buffer.from([0x0f])],
  ])('returns not-sparkplug for %s', (_what, buf) => {
    let decoded: ReturnType<typeof decodePayload> | undefined;
    expect(() => (decoded = decodePayload(buf))).not.toThrow();
    expect(decoded).toMatchObject({ ok: false, reason: 'not-sparkplug' });
    if (decoded && !decoded.ok)
      expect(decoded.detail).toMatch(/^not a Sparkplug B protobuf payload: /);
  });

  it('decodes an empty buffer as an empty payload (valid protobuf with no fields)', () => {
    expect(decodePayload(Buffer.alloc(0))).toEqual({ ok: true, value: { metrics: [] } });
  });

  it('never throws on any truncation of a payload, and fails exactly when protobuf does', () => {
    const full = encodePayload({
      timestamp: TS,
      seq: 200,
      metrics: [
        { name: 'bdSeq', alias: 9, timestamp: TS, type: 'Int64', value: 3 },
        {
          name: 'press1/temperature',
          alias: 1,
          timestamp: TS,
          type: 'Double',
          value: 21.5,
          properties: { Quality: { type: 'Int32', value: 500 } },
        },
        { name: 'press1/mode', alias: 2, timestamp: TS, type: 'String', value: 'auto' },
      ],
    });
    let failures = 0;
    for (let n = 0; n < full.length; n++) {
      const cut = full.subarray(0, n);
      let protobufFails = false;
      try {
        RawPayload.decode(cut);
      } catch {
        protobufFails = true;
      }
      const decoded = decodePayload(cut);
      expect(decoded.ok, `prefix of ${n} bytes`).toBe(!protobufFails);
      if (!decoded.ok) {
        expect(decoded.reason).toBe('not-sparkplug');
        failures += 1;
      }
    }
    // Most cuts land inside a field.
    expect(failures).toBeGreaterThan(full.length / 2);
    expect(decodePayload(full).ok).toBe(true);
  });

  it('never throws on random bytes or on corrupted payloads', () => {
    const random = prng(20250101);
    const valid = encodePayload({
      timestamp: TS,
      seq: 1,
      metrics: [
        { alias: 1, timestamp: TS, type: 'Double', value: 1.5 },
        {
          alias: 2,
          timestamp: TS,
          type: 'Boolean',
          value: null,
          properties: { Quality: { type: 'Int32', value: 0 } },
        },
      ],
    });
    const outcomes = { ok: 0, failed: 0 };
    for (let i = 0; i < 3000; i++) {
      let buf: Buffer;
      if (i % 2 === 0) {
        buf = Buffer.alloc(Math.floor(random() * 64));
        for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(random() * 256);
      } else {
        buf = Buffer.from(valid);
        for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--)
          buf[Math.floor(random() * buf.length)] = Math.floor(random() * 256);
      }
      let decoded: ReturnType<typeof decodePayload>;
      try {
        decoded = decodePayload(buf);
      } catch (err) {
        throw new Error(`decodePayload threw on ${buf.toString('hex')}`, { cause: err });
      }
      if (decoded.ok) {
        outcomes.ok += 1;
        for (const m of decoded.value.metrics)
          expect(['number', 'bigint', 'boolean', 'string', 'object']).toContain(typeof m.value);
      } else {
        outcomes.failed += 1;
        expect(['not-sparkplug', 'unsupported-value']).toContain(decoded.reason);
      }
    }
    expect(outcomes.failed).toBeGreaterThan(0);
  });

  it('reads payloads written by Tahu itself, typed as births are', () => {
    const buf = tahu.encodePayload({
      timestamp: TS,
      seq: 0,
      metrics: [
        { name: 'bdSeq', type: 'Int64', value: 4 },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
        { name: 'u16', type: 'UInt16', value: 65535 },
        { name: 'i8', type: 'Int8', value: -128 },
        { name: 'f', type: 'Float', value: 0.25 },
      ],
    });
    expect(decodedMetrics(buf).map((m) => [m.name, m.type, m.value])).toEqual([
      ['bdSeq', 'Int64', 4],
      ['Node Control/Rebirth', 'Boolean', false],
      ['u16', 'UInt16', 65535],
      ['i8', 'Int8', -128],
      ['f', 'Float', 0.25],
    ]);
  });
});
