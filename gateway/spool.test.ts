import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { DurableQueue } from '../core/durable-queue.js';
import { silentLogger } from '../core/logger.js';
import { Spool } from './spool.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'factorylm-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const limits = { maxBytes: 10_000_000, maxAgeMs: 3_600_000 };
const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `m,tag=t v=${from + i} ${1_700_000_000_000 + from + i}`);

describe('Spool', () => {
  it('gives batches back oldest first, in chunks of whole batches, and removes them by id', () => {
    const spool = new Spool(join(dir, 's.db'), limits, silentLogger);
    for (let b = 0; b < 5; b++) spool.append(spool.nextId(), batch(b * 10, 10).join('\n'), 10);
    expect(spool.totals).toMatchObject({ messages: 5, samples: 50 });
    const first = spool.oldest(25)!;
    // Whole batches only: two fit in 25 points, the third would not.
    expect(first).toMatchObject({ points: 20, batches: 2 });
    expect(first.body.split('\n')).toEqual(batch(0, 20));
    spool.remove(first.ids);
    const rest = spool.oldest(1000)!;
    expect(rest.body.split('\n')).toEqual(batch(20, 30));
    // A batch larger than the chunk still comes out, alone.
    expect(spool.oldest(1)).toMatchObject({ points: 10, batches: 1 });
    spool.remove(rest.ids);
    expect(spool.oldest(1000)).toBeUndefined();
    expect(spool.totals).toMatchObject({ messages: 0, samples: 0, bytes: 0 });
    spool.close();
  });

  it('orders batches by the id given when they closed, and removes only the batches written', () => {
    const spool = new Spool(join(dir, 's.db'), limits, silentLogger);
    const [late, a, b] = [spool.nextId(), spool.nextId(), spool.nextId()];
    spool.append(a, batch(10, 5).join('\n'), 5);
    spool.append(b, batch(15, 5).join('\n'), 5);
    const chunk = spool.oldest(100)!;
    expect(chunk.ids).toEqual([a, b]);
    // A batch closed before them reaches the spool while the chunk is being written.
    spool.append(late, batch(0, 10).join('\n'), 10);
    spool.remove(chunk.ids);
    expect(spool.oldest(100)!.body.split('\n')).toEqual(batch(0, 10));
    spool.append(spool.nextId(), batch(20, 5).join('\n'), 5);
    expect(spool.oldest(100)!.body.split('\n')).toEqual([...batch(0, 10), ...batch(20, 5)]);
    spool.close();
  });

  it.each([
    { sizes: Array<number>(100).fill(500), maxPoints: 2000, chunks: Array<number>(25).fill(4) },
    { sizes: Array<number>(200).fill(1), maxPoints: 150, chunks: [150, 50] },
    { sizes: [1, 1, 1, 500, 500, 500, 500, 500], maxPoints: 2000, chunks: [6, 2] },
    { sizes: [500, 1, 1, 1, 1, 1, 1, 1, 1, 1], maxPoints: 504, chunks: [5, 5] },
    { sizes: [9, 9, 30, 9], maxPoints: 20, chunks: [2, 1, 1] },
  ])(
    'chunks of batches of $sizes.length sizes up to $maxPoints points: whole batches, in order, reading about the rows it uses',
    ({ sizes, maxPoints, chunks }) => {
      const spool = new Spool(join(dir, 's.db'), limits, silentLogger);
      let from = 0;
      for (const n of sizes) {
        spool.append(spool.nextId(), batch(from, n).join('\n'), n);
        from += n;
      }
      const read = vi.spyOn(DurableQueue.prototype, 'read');
      onTestFinished(() => read.mockRestore());
      const got: number[] = [];
      let next = 0;
      for (let chunk = spool.oldest(maxPoints); chunk; chunk = spool.oldest(maxPoints)) {
        expect(chunk.body.split('\n')).toEqual(batch(next, chunk.points));
        expect(chunk.points <= maxPoints || chunk.batches === 1).toBe(true);
        next += chunk.points;
        got.push(chunk.batches);
        const rows = read.mock.results.reduce((n, r) => n + (r.value as unknown[]).length, 0);
        // At most the batches taken, one that did not fit, and a short read at the end.
        expect(rows).toBeLessThanOrEqual(chunk.batches + 2);
        read.mockClear();
        spool.remove(chunk.ids);
      }
      expect(got).toEqual(chunks);
      expect(next).toBe(from);
      spool.close();
    },
  );

  it('keeps its batches, and their order, across a reopen', () => {
    const path = join(dir, 's.db');
    const spool = new Spool(path, limits, silentLogger);
    spool.append(spool.nextId(), batch(0, 3).join('\n'), 3);
    spool.append(spool.nextId(), batch(3, 3).join('\n'), 3);
    spool.close();
    const again = new Spool(path, limits, silentLogger);
    expect(again.durable).toBe(true);
    expect(again.totals).toMatchObject({ messages: 2, samples: 6 });
    again.append(again.nextId(), batch(6, 3).join('\n'), 3);
    expect(again.oldest(100)!.body.split('\n')).toEqual(batch(0, 9));
    again.close();
  });

  it('drops the oldest batches beyond maxBytes and counts them', () => {
    const body = batch(0, 10).join('\n');
    const spool = new Spool(
      join(dir, 's.db'),
      { ...limits, maxBytes: 3 * body.length },
      silentLogger,
    );
    let droppedNow = 0;
    for (let b = 0; b < 6; b++)
      droppedNow += spool.append(spool.nextId(), batch(b * 10, 10).join('\n'), 10).samples;
    expect(spool.totals.bytes).toBeLessThanOrEqual(3 * body.length);
    expect(spool.dropped.samples).toBe(droppedNow);
    expect(spool.dropped.samples + spool.totals.samples).toBe(60);
    // What is left is the newest, in order.
    const left = spool.oldest(1000)!.body.split('\n');
    expect(left).toEqual(batch(60 - left.length, left.length));
    spool.close();
  });

  it('drops batches older than maxAgeMs and counts them', () => {
    const spool = new Spool(join(dir, 's.db'), { ...limits, maxAgeMs: 60_000 }, silentLogger);
    const t0 = 1_700_000_000_000;
    spool.append(spool.nextId(), batch(0, 5).join('\n'), 5, t0);
    spool.append(spool.nextId(), batch(5, 5).join('\n'), 5, t0 + 30_000);
    expect(spool.enforceLimits(t0 + 70_000)).toMatchObject({ messages: 1, samples: 5 });
    expect(spool.dropped).toMatchObject({ messages: 1, samples: 5 });
    expect(spool.oldest(100)!.body.split('\n')).toEqual(batch(5, 5));
    spool.close();
  });

  it('falls back to memory, and says why, when the file cannot be opened', () => {
    const spool = new Spool(join(dir, 'missing-folder', 's.db'), limits, silentLogger);
    expect(spool.durable).toBe(false);
    expect(spool.openError).toMatch(/cannot be opened/);
    spool.append(spool.nextId(), 'm v=1 1', 1);
    expect(spool.oldest(10)!.points).toBe(1);
    spool.close();
  });
});
