// Specifies how a sample's quality (good, bad, uncertain) maps to the Sparkplug value and its
// Quality property, in DBIRTH and DDATA alike.
import { beforeAll, describe, expect, it } from 'vitest';
import { type DecodedMetric } from '../protocols/mqtt/sparkplug.js';
import type { Quality, TagValue } from '../protocols/types.js';
import {
  TS,
  type Devices,
  type Seen,
  type Node,
  startNode,
  metric,
  decoded,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';
import { type SparkplugValueType } from './sparkplug-session.js';

useSparkplugBroker();

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
