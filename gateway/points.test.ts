import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { legacyLine, toLine, type TagPoint } from './points.js';

const base: TagPoint = {
  site: 'plant1',
  area: 'packaging',
  line: 'line1',
  asset: 'conveyor1',
  tag: 'motor_speed',
  value: 1750,
  quality: 'good',
  ts: 1732480000123,
};

describe('toLine', () => {
  it.each<[string, Partial<TagPoint>, string]>([
    [
      'a float',
      {},
      'plc_tags,area=packaging,asset=conveyor1,line=line1,site=plant1,tag=motor_speed quality="good",value=1750 1732480000123',
    ],
    [
      'a bit as 0/1',
      { tag: 'motor_running', value: true },
      'plc_tags,area=packaging,asset=conveyor1,line=line1,site=plant1,tag=motor_running quality="good",value=1 1732480000123',
    ],
    [
      'a bad sample without a value',
      { value: null, quality: 'bad' },
      'plc_tags,area=packaging,asset=conveyor1,line=line1,site=plant1,tag=motor_speed quality="bad" 1732480000123',
    ],
    [
      'the node tag',
      { node: 'edge-01' },
      'plc_tags,area=packaging,asset=conveyor1,line=line1,node=edge-01,site=plant1,tag=motor_speed quality="good",value=1750 1732480000123',
    ],
    [
      'a string in the text field, quoted and escaped',
      { tag: 'recipe', value: 'A "7"\\b' },
      'plc_tags,area=packaging,asset=conveyor1,line=line1,site=plant1,tag=recipe quality="good",text="A \\"7\\"\\\\b" 1732480000123',
    ],
    [
      'an uncertain sample',
      { quality: 'uncertain', value: -0.5 },
      'plc_tags,area=packaging,asset=conveyor1,line=line1,site=plant1,tag=motor_speed quality="uncertain",value=-0.5 1732480000123',
    ],
    [
      'escaped tag values',
      { asset: 'conveyor 1,a=b' },
      'plc_tags,area=packaging,asset=conveyor\\ 1\\,a\\=b,line=line1,site=plant1,tag=motor_speed quality="good",value=1750 1732480000123',
    ],
  ])('%s', (_name, change, line) => {
    expect(toLine({ ...base, ...change })).toBe(line);
  });

  it('writes what the client library Point writes, for the same series twice', () => {
    const points: TagPoint[] = [
      base,
      { ...base, node: 'edge 1', value: 1e21 },
      { ...base, node: 'edge 1', value: false, ts: base.ts + 1 },
      { ...base, value: 'x,y=z "q"', quality: 'bad' },
      { ...base, asset: 'a=b c', value: 3.25 },
    ];
    for (const p of [...points, ...points]) expect(toLine(p)).toBe(viaPoint(p));
  });

  it('refuses a value that is not a finite number', () => {
    expect(() => toLine({ ...base, value: Number.NaN })).toThrow(/invalid float value/);
  });
});

function viaPoint(p: TagPoint): string {
  const point = new Point('plc_tags')
    .tag('site', p.site)
    .tag('area', p.area)
    .tag('line', p.line)
    .tag('asset', p.asset)
    .tag('tag', p.tag)
    .stringField('quality', p.quality)
    .timestamp(p.ts);
  if (p.node) point.tag('node', p.node);
  if (typeof p.value === 'string') point.stringField('text', p.value);
  else if (p.value !== null) point.floatField('value', Number(p.value));
  return point.toLineProtocol({ convertTime: (v) => String(v) })!;
}

describe('legacyLine (plc_registers)', () => {
  it.each<[string, Parameters<typeof legacyLine>, string | undefined]>([
    [
      'a float with its address',
      ['conveyor1', 'motor_speed', 'hr:100', 1750.5, 1732480000123],
      'plc_registers,asset=conveyor1,register_addr=hr:100,register_name=motor_speed value=1750.5 1732480000123',
    ],
    [
      'a bit as 0/1',
      ['conveyor1', 'motor_running', 'coil:0', true, 1],
      'plc_registers,asset=conveyor1,register_addr=coil:0,register_name=motor_running value=1 1',
    ],
    [
      'no address known',
      ['conveyor1', 'motor_speed', undefined, 3, 1],
      'plc_registers,asset=conveyor1,register_name=motor_speed value=3 1',
    ],
    [
      'escaped tag values',
      ['a b', 't=1', 'ns=2;s=Line 1,Speed', 3, 1],
      'plc_registers,asset=a\\ b,register_addr=ns\\=2;s\\=Line\\ 1\\,Speed,register_name=t\\=1 value=3 1',
    ],
    [
      'no asset',
      ['', 'motor_speed', 'hr:100', 3, 1],
      'plc_registers,register_addr=hr:100,register_name=motor_speed value=3 1',
    ],
    ['no value', ['conveyor1', 'motor_speed', 'hr:100', null, 1], undefined],
    ['text', ['conveyor1', 'recipe', 'hr:200', 'A7', 1], undefined],
  ])('%s', (_name, args, line) => {
    expect(legacyLine(...args)).toBe(line);
  });
});
