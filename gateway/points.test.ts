import { describe, expect, it } from 'vitest';
import { toLine, type TagPoint } from './points.js';

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
      'escaped tag values',
      { asset: 'conveyor 1,a=b' },
      'plc_tags,area=packaging,asset=conveyor\\ 1\\,a\\=b,line=line1,site=plant1,tag=motor_speed quality="good",value=1750 1732480000123',
    ],
  ])('%s', (_name, change, line) => {
    expect(toLine({ ...base, ...change })).toBe(line);
  });
});
