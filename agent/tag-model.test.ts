import { describe, expect, it } from 'vitest';
import { toEngineering, toRaw } from '../protocols/tag-values.js';
import { qualityCode } from '../protocols/sample-frame.js';
import type { Quality, TagValue } from '../protocols/types.js';
import { TagTable, type LastSample, type PublishPolicy } from './tag-model.js';

/** A one-tag table with `policy`, having published `previous`, asked about (v, q) at `now`. */
function shouldPublish(
  previous: LastSample | undefined,
  v: TagValue | null,
  q: Quality,
  policy: PublishPolicy,
  now: number,
): boolean {
  const table = new TagTable(['a/x']);
  table.set(0, { asset: 'a', topic: 't', jsonKey: '"x":', scale: 1, offset: 0, policy });
  if (previous) table.remember(0, previous.v, qualityCode(previous.q), previous.at);
  return table.shouldPublish(0, v, qualityCode(q), now);
}

describe('toEngineering / toRaw', () => {
  it.each([
    [253, 0.1, 0, 25.3],
    [1750, 1, 0, 1750],
    [100, 0.5, -10, 40],
    [true, 0.1, 5, true],
    [-32768, 0.01, 0, -327.68],
  ])('%s × %s + %s = %s', (raw, scale, offset, expected) => {
    expect(toEngineering(raw, scale, offset)).toBe(expected);
  });

  it.each([
    [25.3, 0.1, 0, true, 253],
    [40, 0.5, -10, true, 100],
    [12.5, 1, 0, false, 12.5],
    [false, 1, 0, true, false],
  ])('toRaw(%s, %s, %s)', (value, scale, offset, integer, expected) => {
    expect(toRaw(value, scale, offset, integer)).toBe(expected);
  });
});

describe('TagTable.shouldPublish', () => {
  const last = { v: 100, q: 'good' as const, at: 1000 };
  const policy = (p: Partial<PublishPolicy> = {}): PublishPolicy => ({
    deadband: 0,
    deadbandPercent: 0,
    minIntervalMs: 0,
    maxSilenceMs: 60_000,
    ...p,
  });
  it.each([
    ['first sample', undefined, 100, 'good', {}, 1000, true],
    ['unchanged within max silence', last, 100, 'good', {}, 2000, false],
    ['any change with deadband 0', last, 100.01, 'good', {}, 2000, true],
    ['change inside deadband', last, 104, 'good', { deadband: 5 }, 2000, false],
    ['change equal to deadband', last, 105, 'good', { deadband: 5 }, 2000, false],
    ['change beyond deadband', last, 105.5, 'good', { deadband: 5 }, 2000, true],
    ['negative change beyond deadband', last, 94, 'good', { deadband: 5 }, 2000, true],
    ['inside percent deadband', last, 101.9, 'good', { deadbandPercent: 2 }, 2000, false],
    ['beyond percent deadband', last, 97.9, 'good', { deadbandPercent: 2 }, 2000, true],
    [
      'both deadbands: inside absolute',
      last,
      103,
      'good',
      { deadband: 5, deadbandPercent: 1 },
      2000,
      false,
    ],
    [
      'both deadbands: inside percent',
      last,
      106,
      'good',
      { deadband: 5, deadbandPercent: 10 },
      2000,
      false,
    ],
    ['change before min interval', last, 150, 'good', { minIntervalMs: 5000 }, 2000, false],
    ['change after min interval', last, 150, 'good', { minIntervalMs: 5000 }, 6000, true],
    ['quality change ignores min interval', last, 100, 'bad', { minIntervalMs: 5000 }, 2000, true],
    ['max silence elapsed', last, 100, 'good', { deadband: 5 }, 61_000, true],
    [
      'max silence shorter than min interval wins',
      last,
      100,
      'good',
      { minIntervalMs: 9000, maxSilenceMs: 5000 },
      7000,
      true,
    ],
    ['quality change', last, 100, 'bad', { deadband: 5 }, 2000, true],
    ['value lost', last, null, 'good', { deadband: 5 }, 2000, true],
  ] as const)('%s', (_name, previous, v, q, p, now, expected) => {
    expect(shouldPublish(previous, v, q, policy(p), now)).toBe(expected);
  });

  it('publishes every boolean flip and string change, whatever the deadband', () => {
    const p = policy({ deadband: 10, deadbandPercent: 50 });
    expect(shouldPublish({ v: true, q: 'good', at: 0 }, false, 'good', p, 1)).toBe(true);
    expect(shouldPublish({ v: true, q: 'good', at: 0 }, true, 'good', p, 1)).toBe(false);
    expect(shouldPublish({ v: 'RUN', q: 'good', at: 0 }, 'STOP', 'good', p, 1)).toBe(true);
    expect(shouldPublish({ v: 'RUN', q: 'good', at: 0 }, 'RUN', 'good', p, 1)).toBe(false);
  });

  it('a value of another type is a change; still no value is not', () => {
    const p = policy({ deadband: 10 });
    expect(shouldPublish({ v: 5, q: 'good', at: 0 }, '5', 'good', p, 1)).toBe(true);
    expect(shouldPublish({ v: 1, q: 'good', at: 0 }, true, 'good', p, 1)).toBe(true);
    expect(shouldPublish({ v: null, q: 'bad', at: 0 }, 3, 'bad', p, 1)).toBe(true);
    expect(shouldPublish({ v: null, q: 'bad', at: 0 }, null, 'bad', p, 1)).toBe(false);
  });
});
