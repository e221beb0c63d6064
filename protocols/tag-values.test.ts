import { describe, expect, it } from 'vitest';
import { round12, toEngineering } from './tag-values.js';

const byString = (x: number) => Number(x.toPrecision(12));

describe('round12', () => {
  it.each([
    ['253 × 0.1', 253 * 0.1, 25.3],
    ['a whole number', 1750, 1750],
    ['zero', 0, 0],
    ['negative', -40 + 0.1 * 3, -39.7],
    ['13 significant digits', 1.234567890123, 1.23456789012],
    ['a carry into a new digit', 999.9999999999999, 1000],
    ['tiny, by the string', 1.5e-12 + 1e-28, 1.5e-12],
    ['huge, by the string', 123456789012345, 123456789012000],
    ['infinity', Infinity, Infinity],
  ])('%s', (_name, x, expected) => {
    expect(round12(x)).toBe(expected);
  });

  it('NaN stays NaN', () => {
    expect(round12(NaN)).toBeNaN();
  });

  it('equals Number(x.toPrecision(12)) on scaled register values, random magnitudes and powers of ten', () => {
    const values: number[] = [];
    const scales = [0.1, 0.01, 0.001, 0.05, 1 / 3, 0.0625, 1.8, 10, 0.000152587890625, 3.3 / 4095];
    for (const scale of scales)
      for (const offset of [0, -40, 32, 273.15])
        for (let raw = -70_000; raw <= 70_000; raw += 13) values.push(raw * scale + offset);
    let seed = 1;
    const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
    for (let i = 0; i < 200_000; i++)
      values.push((random() - 0.5) * 10 ** Math.floor(random() * 24 - 12));
    for (let k = -10; k <= 10; k++)
      for (let d = -20; d <= 20; d++)
        values.push(10 ** k * (1 + d * Number.EPSILON), -(10 ** k) * (1 + d * 1e-13));
    const differ = values.filter((x) => !Object.is(round12(x), byString(x)));
    expect(differ.slice(0, 5).map((x) => [x, round12(x), byString(x)])).toEqual([]);
  });
});

describe('toEngineering', () => {
  it.each([
    ['unscaled numbers as they are', 12.345678901234567, 1, 0, 12.345678901234567],
    ['scaled and offset', 253, 0.1, -5, 20.3],
    ['booleans untouched', true, 10, 1, true],
    ['text untouched', 'RUN', 10, 1, 'RUN'],
  ] as const)('%s', (_name, raw, scale, offset, expected) => {
    expect(toEngineering(raw, scale, offset)).toBe(expected);
  });
});
