import { describe, expect, it } from 'vitest';
import { MAX_RUNS_PER_NODE, SequenceTracker } from './sequence.js';

const GRACE = 1000;

/** Feeds `seqs` to node "n1" at t=0, sweeps at `sweepAt`, and returns the stats and holes. */
function run(seqs: number[], sweepAt: number) {
  const t = new SequenceTracker(GRACE);
  for (const s of seqs) t.add('n1', s, 0);
  const holes = t.sweep(sweepAt);
  return { stats: t.stats, ranges: holes.flatMap((h) => h.ranges) };
}

describe('SequenceTracker', () => {
  it.each([
    { name: 'in order', seqs: [1, 2, 3, 4], missing: 0, duplicates: 0, ranges: [] },
    {
      name: 'one hole, past the grace',
      seqs: [1, 2, 5],
      missing: 2,
      duplicates: 0,
      ranges: [[3, 4]],
    },
    { name: 'redelivered message', seqs: [1, 2, 2, 3], missing: 0, duplicates: 1, ranges: [] },
    {
      name: 'backlog replayed below live',
      seqs: [10, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      missing: 0,
      duplicates: 0,
      ranges: [],
    },
    {
      name: 'backlog replayed with a hole',
      seqs: [10, 11, 1, 2, 3, 5, 6, 7, 8, 9],
      missing: 1,
      duplicates: 0,
      ranges: [[4, 4]],
    },
    {
      name: 'two holes',
      seqs: [1, 3, 6],
      missing: 3,
      duplicates: 0,
      ranges: [
        [2, 2],
        [4, 5],
      ],
    },
    {
      name: 'hole filled from both ends',
      seqs: [1, 5, 2, 4, 3],
      missing: 0,
      duplicates: 0,
      ranges: [],
    },
  ])('$name', ({ seqs, missing, duplicates, ranges }) => {
    const r = run(seqs, GRACE);
    expect(r.stats.missing).toBe(missing);
    expect(r.stats.duplicates).toBe(duplicates);
    expect(r.stats.received).toBe(seqs.length);
    expect(r.ranges).toEqual(ranges);
  });

  it('a hole younger than the grace period is not missing yet', () => {
    expect(run([1, 2, 5], GRACE - 1).stats.missing).toBe(0);
  });

  it('a message that fills a counted hole is late, not missing', () => {
    const t = new SequenceTracker(GRACE);
    for (const s of [1, 5]) t.add('n1', s, 0);
    expect(t.sweep(GRACE)[0]).toMatchObject({ node: 'n1', count: 3 });
    t.add('n1', 3, 2000);
    expect(t.stats).toMatchObject({ missing: 2, late: 1 });
    t.add('n1', 2, 2000);
    t.add('n1', 4, 2000);
    expect(t.stats).toMatchObject({ missing: 0, late: 3 });
    expect(t.sweep(10_000)).toEqual([]);
  });

  it('counts each hole once, however often it sweeps', () => {
    const t = new SequenceTracker(GRACE);
    for (const s of [1, 4]) t.add('n1', s, 0);
    t.sweep(GRACE);
    t.sweep(5 * GRACE);
    expect(t.stats.missing).toBe(2);
  });

  it('keeps nodes apart', () => {
    const t = new SequenceTracker(GRACE);
    t.add('a', 1, 0);
    t.add('b', 3, 0);
    t.add('a', 2, 0);
    t.add('b', 4, 0);
    t.sweep(GRACE);
    expect(t.stats).toMatchObject({ nodes: 2, missing: 0, received: 4 });
  });

  it('messages before the manifest are counted as unattributed', () => {
    const t = new SequenceTracker(GRACE);
    t.add(undefined, 7, 0);
    expect(t.stats).toMatchObject({ unattributed: 1, received: 0 });
  });

  it('a repeated (retained) manifest changes nothing', () => {
    const t = new SequenceTracker(GRACE);
    t.manifest('n1', 1);
    for (const s of [1, 2, 3]) t.add('n1', s, 0);
    t.manifest('n1', 1);
    t.add('n1', 4, 0);
    t.sweep(GRACE);
    expect(t.stats).toMatchObject({ restarts: 0, missing: 0, duplicates: 0 });
  });

  it('a run that numbers again from 1 counts the old holes it can no longer fill, then tracks afresh', () => {
    const t = new SequenceTracker(GRACE);
    t.manifest('n1', 1);
    for (const s of [1, 2, 3, 6, 7]) t.add('n1', s, 0);
    t.manifest('n1', 1 + 0); // same start: nothing
    t.manifest('n1', 2); // restarted: numbers from 2 on are new
    expect(t.stats).toMatchObject({ restarts: 1, missing: 2 });
    for (const s of [2, 3, 4]) t.add('n1', s, 10);
    t.sweep(10 * GRACE);
    expect(t.stats).toMatchObject({ missing: 2, duplicates: 0 });
  });

  it('a run that continues after its backlog keeps the old holes open for the replay', () => {
    const t = new SequenceTracker(GRACE);
    t.manifest('n1', 1);
    for (const s of [1, 2, 5, 6]) t.add('n1', s, 0);
    // Restarted with 3 and 4 still in the outbox: it continues at 7.
    t.manifest('n1', 7);
    t.add('n1', 7, 10);
    t.add('n1', 3, 20);
    t.add('n1', 4, 20);
    t.sweep(10 * GRACE);
    expect(t.stats).toMatchObject({ missing: 0, restarts: 1 });
  });

  it('stays bounded when every other message is lost, and counts what it forgets', () => {
    const t = new SequenceTracker(GRACE);
    const n = 2 * MAX_RUNS_PER_NODE;
    for (let i = 0; i < n; i++) t.add('n1', 2 * i + 1, 0);
    t.sweep(GRACE);
    expect(t.stats.missing).toBe(n - 1);
  });
});
