import { describe, expect, it } from 'vitest';
import type { Area } from './address.js';
import { planReads, type PlanItem } from './planner.js';

const item = (key: string, area: Area, offset: number, count = 1): PlanItem<string> => ({
  key,
  area,
  offset,
  count,
});

describe('planReads', () => {
  it.each<[string, PlanItem<string>[], { maxGap?: number }, [Area, number, number][]]>([
    [
      'contiguous registers in one request',
      [item('a', 'hr', 100), item('b', 'hr', 101), item('c', 'hr', 102)],
      {},
      [['hr', 100, 3]],
    ],
    [
      'a gap within maxGap is bridged',
      [item('a', 'hr', 100), item('b', 'hr', 105)],
      { maxGap: 8 },
      [['hr', 100, 6]],
    ],
    [
      'a gap beyond maxGap splits',
      [item('a', 'hr', 100), item('b', 'hr', 120)],
      { maxGap: 8 },
      [
        ['hr', 100, 1],
        ['hr', 120, 1],
      ],
    ],
    [
      'maxGap 0 merges only adjacent',
      [item('a', 'hr', 0), item('b', 'hr', 2)],
      { maxGap: 0 },
      [
        ['hr', 0, 1],
        ['hr', 2, 1],
      ],
    ],
    [
      'areas never mix',
      [item('a', 'hr', 0), item('b', 'ir', 1), item('c', 'coil', 0)],
      {},
      [
        ['coil', 0, 1],
        ['hr', 0, 1],
        ['ir', 1, 1],
      ],
    ],
    [
      '32-bit values count two registers',
      [item('a', 'hr', 0, 2), item('b', 'hr', 2, 2)],
      {},
      [['hr', 0, 4]],
    ],
    [
      'overlapping items share registers',
      [item('a', 'hr', 0, 2), item('b', 'hr', 1)],
      {},
      [['hr', 0, 2]],
    ],
    [
      '125-register limit splits',
      [item('a', 'hr', 0), item('b', 'hr', 124), item('c', 'hr', 125)],
      { maxGap: 200 },
      [
        ['hr', 0, 125],
        ['hr', 125, 1],
      ],
    ],
    [
      '2000-bit limit for coils',
      [item('a', 'coil', 0), item('b', 'coil', 1999), item('c', 'coil', 2000)],
      { maxGap: 2000 },
      [
        ['coil', 0, 2000],
        ['coil', 2000, 1],
      ],
    ],
    ['unsorted input is sorted', [item('b', 'hr', 3), item('a', 'hr', 1)], {}, [['hr', 1, 3]]],
    [
      'the Micro 820 map: one coil read, one register read',
      [
        ...Array.from({ length: 18 }, (_, i) => item(`c${i}`, 'coil', i)),
        ...Array.from({ length: 6 }, (_, i) => item(`r${i}`, 'hr', 100 + i)),
      ],
      {},
      [
        ['coil', 0, 18],
        ['hr', 100, 6],
      ],
    ],
  ])('%s', (_name, items, options, expected) => {
    expect(planReads(items, options).map((r) => [r.area, r.start, r.count])).toEqual(expected);
  });

  it('gives each item its index in the response', () => {
    const [request] = planReads([item('a', 'hr', 100), item('b', 'hr', 104, 2)]);
    expect(request!.items).toEqual([
      { key: 'a', index: 0, count: 1 },
      { key: 'b', index: 4, count: 2 },
    ]);
  });

  it('refuses an item larger than one request', () => {
    expect(() => planReads([item('a', 'hr', 0, 126)])).toThrow(/more than one request may read/);
  });

  it('covers every item exactly once and never breaks the limits (random maps)', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const areas: Area[] = ['coil', 'di', 'hr', 'ir'];
    for (let round = 0; round < 200; round++) {
      const items: PlanItem<number>[] = Array.from(
        { length: 1 + Math.floor(random() * 300) },
        (_, key) => {
          const area = areas[Math.floor(random() * 4)]!;
          const count = area === 'hr' || area === 'ir' ? 1 + Math.floor(random() * 2) : 1;
          return { key, area, offset: Math.floor(random() * 3000), count };
        },
      );
      const maxGap = Math.floor(random() * 20);
      const plan = planReads(items, { maxGap });
      const seen = plan.flatMap((r) => r.items.map((i) => i.key)).sort((a, b) => a - b);
      expect(seen).toEqual(items.map((i) => i.key));
      for (const r of plan) {
        expect(r.count).toBeLessThanOrEqual(r.area === 'hr' || r.area === 'ir' ? 125 : 2000);
        for (const i of r.items) {
          const original = items[i.key]!;
          expect(original.area).toBe(r.area);
          expect(r.start + i.index).toBe(original.offset);
          expect(i.index + i.count).toBeLessThanOrEqual(r.count);
        }
      }
    }
  });
});

describe('planReads around refused addresses', () => {
  const items = [item('a', 'hr', 100), item('b', 'hr', 102), item('c', 'hr', 104)];

  it('reads isolated items alone and merges the rest', () => {
    const plan = planReads(items, { isolated: (k) => k === 'b' });
    expect(plan.map((r) => [r.start, r.count, r.items.map((i) => i.key)])).toEqual([
      [100, 1, ['a']],
      [102, 1, ['b']],
      [104, 1, ['c']],
    ]);
    const plan2 = planReads([...items, item('d', 'hr', 105)], { isolated: (k) => k === 'a' });
    expect(plan2.map((r) => [r.start, r.count])).toEqual([
      [100, 1],
      [102, 4],
    ]);
  });

  it('never spans a blocked address, but still merges around it', () => {
    const plan = planReads(items, { blocked: (area, a) => area === 'hr' && a === 101 });
    expect(plan.map((r) => [r.start, r.count])).toEqual([
      [100, 1],
      [102, 3],
    ]);
  });
});

describe("Telegraf's max_insert optimisation, which maxGap mirrors", () => {
  // Fields are merged while the hole between them does not exceed the fill size.
  const fields = [
    item('a', 'hr', 0),
    item('b', 'hr', 1),
    item('c', 'hr', 2),
    item('d', 'hr', 10),
    item('e', 'hr', 11),
  ];
  it('a hole equal to the fill size merges', () => {
    expect(planReads(fields, { maxGap: 7 }).map((r) => [r.start, r.count])).toEqual([[0, 12]]);
  });
  it('a hole one larger than the fill size splits', () => {
    expect(planReads(fields, { maxGap: 6 }).map((r) => [r.start, r.count])).toEqual([
      [0, 3],
      [10, 2],
    ]);
  });
  it('the maximum request size still splits a merged run', () => {
    expect(
      planReads(fields, { maxGap: 7, maxPerRead: { hr: 4 } }).map((r) => [r.start, r.count]),
    ).toEqual([
      [0, 3],
      [10, 2],
    ]);
  });
});
