import { describe, expect, it } from 'vitest';
import { RecentSamples, type RecentSample } from './recent-samples.js';

const good = (ts: number, value: number): RecentSample => ({ ts, value });
const bad = (ts: number, reason = 'timeout'): RecentSample => ({ ts, value: null, reason });

describe('RecentSamples', () => {
  // windowMs 800 / perTag 10: buckets of 100 ms keep their latest sample.
  it.each([
    {
      name: 'keeps samples spaced wider than the window / capacity',
      samples: [good(0, 1), good(100, 2), good(200, 3)],
      ts: [0, 100, 200],
      v: [1, 2, 3],
    },
    {
      name: 'keeps only the latest sample of a burst within one bucket',
      samples: [good(0, 1), good(10, 2), good(20, 3), good(130, 4), good(150, 5)],
      ts: [20, 150],
      v: [3, 5],
    },
    {
      name: 'keeps the sample where quality turns bad and where it turns good again',
      samples: [good(0, 1), bad(10), bad(20), bad(25), good(30, 5), good(40, 6), good(50, 7)],
      ts: [0, 10, 25, 30, 50],
      v: [1, null, null, 5, 7],
    },
    {
      name: 'ignores a sample older than the newest (a replayed backlog)',
      samples: [good(0, 1), good(500, 2), good(100, 9)],
      ts: [0, 500],
      v: [1, 2],
    },
    {
      name: 'evicts the oldest when the ring is full',
      samples: Array.from({ length: 14 }, (_, i) => good(i * 100, i)),
      ts: [400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300],
      v: [4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    },
  ])('$name', ({ samples, ts, v }) => {
    const ring = new RecentSamples({ windowMs: 800, perTag: 10 });
    for (const s of samples) ring.add('a/b', s);
    const h = ring.history('a/b', -Infinity)!;
    expect(h.ts).toEqual(ts);
    expect(h.v).toEqual(v);
  });

  it.each([
    {
      since: 250,
      ts: [200, 300, 400],
      why: 'the last sample before the window holds at its start',
    },
    { since: 300, ts: [300, 400], why: 'a sample exactly at the start is the first' },
    { since: 1000, ts: [400], why: 'a value reported long ago still holds now' },
    { since: -1, ts: [0, 100, 200, 300, 400], why: 'everything when the window covers it all' },
  ])('history since $since: $why', ({ since, ts }) => {
    const ring = new RecentSamples({ windowMs: 800, perTag: 10 });
    for (let t = 0; t <= 400; t += 100) ring.add('k', good(t, t));
    expect(ring.history('k', since)!.ts).toEqual(ts);
  });

  it('gives the reason of each bad sample by its index in the history', () => {
    const ring = new RecentSamples({ windowMs: 800, perTag: 10 });
    ring.add('k', good(0, 1));
    ring.add('k', bad(200, 'exception 2 (illegal data address)'));
    ring.add('k', good(400, 1));
    expect(ring.history('k', -Infinity)!.reasons).toEqual({
      1: 'exception 2 (illegal data address)',
    });
    expect(ring.latest()).toEqual({ k: [400, 1] });
  });

  it('forgets the reason of an evicted slot', () => {
    const ring = new RecentSamples({ windowMs: 1000, perTag: 3 });
    ring.add('k', bad(0, 'timeout'));
    for (let t = 1000; t <= 3000; t += 1000) ring.add('k', good(t, t));
    expect(ring.history('k', -Infinity)).toEqual({
      ts: [1000, 2000, 3000],
      v: [1000, 2000, 3000],
      reasons: {},
    });
  });

  it('keeps at most maxTags tags and counts the samples of the others', () => {
    const ring = new RecentSamples({ maxTags: 2 });
    ring.add('a', good(0, 1));
    ring.add('b', good(0, 1));
    ring.add('c', good(0, 1));
    ring.add('c', good(1, 1));
    ring.add('a', good(1, 2));
    expect(ring.tagCount).toBe(2);
    expect(ring.dropped).toBe(2);
    expect(ring.history('c', 0)).toBeUndefined();
    expect(Object.keys(ring.latest())).toEqual(['a', 'b']);
  });

  it('covers the whole window with a fast tag: 10 Hz for an hour stays within the capacity', () => {
    const ring = new RecentSamples();
    for (let t = 0; t <= 3_600_000; t += 100) ring.add('fast', good(t, t % 7));
    const h = ring.history('fast', 0)!;
    expect(h.ts.length).toBeLessThanOrEqual(600);
    expect(h.ts[0]).toBeLessThanOrEqual(6_100);
    expect(h.ts.at(-1)).toBe(3_600_000);
    expect(h.v.at(-1)).toBe(3_600_000 % 7);
  });
});
