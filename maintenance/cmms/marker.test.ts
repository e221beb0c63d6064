import { describe, expect, it } from 'vitest';
import {
  describe as describeOrder,
  fitStored,
  hasMarker,
  marker,
  MAX_DESCRIPTION,
  storedLength,
  unfinishedOrdersOf,
} from './marker.js';

describe('marker', () => {
  it.each([
    ['plant1/Conveyor/fault_alarm', '[factorylm:plant1/Conveyor/fault_alarm]'],
    ['site/asset with space/r', '[factorylm:site/asset%20with%20space/r]'],
    ['a&b/<x>/r', '[factorylm:a%26b/%3Cx%3E/r]'],
    ['s/Förderband/r]', '[factorylm:s/F%C3%B6rderband/r%5D]'],
  ])('%s → %s', (key, expected) => {
    expect(marker(key)).toBe(expected);
  });

  it.each([
    ['finds its own key', 'text\n\n[factorylm:s/a/r]', 's/a/r', true],
    ['not a longer key', 'text\n\n[factorylm:s/a/r2]', 's/a/r', false],
    ['not a shorter key', 'text\n\n[factorylm:s/a/r]', 's/a/r2', false],
    ['not a prefix key', '[factorylm:s/a/r/x]', 's/a/r', false],
    ['none', 'a work order someone typed', 's/a/r', false],
    ['null description', null, 's/a/r', false],
  ])('hasMarker: %s', (_name, description, key, found) => {
    expect(hasMarker(description, key)).toBe(found);
  });
});

describe('description', () => {
  it('ends with the marker on its own line', () => {
    expect(describeOrder('Motor overload', 's/a/r')).toBe('Motor overload\n\n[factorylm:s/a/r]');
  });

  it.each([
    ['plain text', 'x'.repeat(20_000)],
    ['ampersands the sanitiser escapes', '&'.repeat(5_000)],
    ['angle brackets', '<'.repeat(4_000) + 'tail'],
  ])("fits Atlas's 10,000 characters after escaping, marker kept: %s", (_name, text) => {
    const d = describeOrder(text, 'plant/asset/rule');
    expect(storedLength(d)).toBeLessThanOrEqual(MAX_DESCRIPTION);
    expect(hasMarker(d, 'plant/asset/rule')).toBe(true);
    expect(d).toContain('…');
  });

  it.each([
    ['a&b', 5 + 2],
    ['<b>', 3 + 6],
    ['plain', 5],
  ])('storedLength(%s) = %i', (text, n) => {
    expect(storedLength(text)).toBe(n);
  });

  it('fitStored leaves short text alone and cuts long text to the limit', () => {
    expect(fitStored('short', 255)).toBe('short');
    const cut = fitStored('y'.repeat(300), 255);
    expect(cut.length).toBe(255);
    expect(cut.endsWith('…')).toBe(true);
  });
});

describe('dedup search', () => {
  it('filters the asset by id and the status with `in` and the STATUS enum (eq matches nothing on Atlas)', () => {
    expect(unfinishedOrdersOf(42)).toEqual([
      { field: 'asset', operation: 'eq', value: 42 },
      {
        field: 'status',
        operation: 'in',
        values: ['OPEN', 'IN_PROGRESS', 'ON_HOLD'],
        enumName: 'STATUS',
      },
    ]);
  });
});
