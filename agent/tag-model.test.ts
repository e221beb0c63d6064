import { describe, expect, it } from 'vitest';
import { shouldPublish, toEngineering, toRaw } from './tag-model.js';

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

describe('shouldPublish', () => {
  const last = { v: 100, q: 'good' as const, at: 1000 };
  it.each([
    ['first sample', undefined, 100, 'good', 0, 1000, true],
    ['unchanged within heartbeat', last, 100, 'good', 0, 2000, false],
    ['any change with deadband 0', last, 100.01, 'good', 0, 2000, true],
    ['change inside deadband', last, 104, 'good', 5, 2000, false],
    ['change equal to deadband', last, 105, 'good', 5, 2000, false],
    ['change beyond deadband', last, 105.5, 'good', 5, 2000, true],
    ['negative change beyond deadband', last, 94, 'good', 5, 2000, true],
    ['heartbeat elapsed', last, 100, 'good', 5, 61_000, true],
    ['quality change', last, 100, 'bad', 5, 2000, true],
    ['value lost', last, null, 'good', 5, 2000, true],
  ] as const)('%s', (_name, previous, v, q, deadband, now, expected) => {
    expect(shouldPublish(previous, v, q, deadband, 60_000, now)).toBe(expected);
  });

  it('publishes every boolean flip', () => {
    expect(shouldPublish({ v: true, q: 'good', at: 0 }, false, 'good', 10, 60_000, 1)).toBe(true);
    expect(shouldPublish({ v: true, q: 'good', at: 0 }, true, 'good', 10, 60_000, 1)).toBe(false);
  });
});
