import { describe, expect, it } from 'vitest';
import { RecentSamples } from './recent-samples.js';

const limits = {
  windowMs: 60_000,
  pointsPerTag: 6,
  maxAssets: 2,
  maxTagsPerAsset: 2,
  maxPoints: 18,
};

describe('RecentSamples', () => {
  it('keeps one point per window/pointsPerTag, oldest first, within the window', () => {
    const r = new RecentSamples(limits);
    for (let t = 0; t <= 120_000; t += 1000) r.add('s', 'a', 'temp', t, t / 1000);
    const points = r.of('s', 'a', 120_000).temp!;
    // One per 10 s, the last 6 kept (the ring wraps), all inside the last minute.
    expect(points.map(([ts]) => ts)).toEqual([70_000, 80_000, 90_000, 100_000, 110_000, 120_000]);
    expect(points.map(([, v]) => v)).toEqual([70, 80, 90, 100, 110, 120]);
  });

  it('drops points older than the window when asked later, and ignores replayed history', () => {
    const r = new RecentSamples(limits);
    r.add('s', 'a', 'temp', 100_000, 1);
    r.add('s', 'a', 'temp', 50_000, 2);
    expect(r.of('s', 'a', 100_000).temp).toEqual([[100_000, 1]]);
    expect(r.of('s', 'a', 200_000)).toEqual({});
  });

  it.each([
    [
      'a third asset',
      [
        ['s', 'a', 't'],
        ['s', 'b', 't'],
        ['s', 'c', 't'],
      ],
      1,
    ],
    [
      'a third tag of one asset',
      [
        ['s', 'a', 't1'],
        ['s', 'a', 't2'],
        ['s', 'a', 't3'],
      ],
      1,
    ],
    [
      'points beyond maxPoints',
      [
        ['s', 'a', 't1'],
        ['s', 'a', 't2'],
        ['s', 'b', 't1'],
        ['s', 'b', 't2'],
      ],
      1,
    ],
  ])('refuses %s and counts it', (_name, keys, refused) => {
    const r = new RecentSamples(limits);
    for (const [site, asset, tag] of keys as [string, string, string][])
      r.add(site, asset, tag, 0, 1);
    expect(r.refused).toBe(refused);
  });
});
