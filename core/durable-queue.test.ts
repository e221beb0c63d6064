import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDurableQueue } from './durable-queue.conformance.js';
import { DurableQueue, idRanges, openDurableOrMemory, type QueueRecord } from './durable-queue.js';

const T0 = 1_700_000_000_000;

function records(count: number, firstId = 1, everyMs = 100): QueueRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: firstId + i,
    ts: T0 + (firstId + i - 1) * everyMs,
    topic: 'factorylm/s/a/l/asset',
    payload: `{"n":${firstId + i}}`,
    samples: 2,
  }));
}

describe('DurableQueue limits', () => {
  it('drops the records older than maxAgeMs, oldest first, and counts them', () => {
    const queue = new DurableQueue(':memory:', { maxBytes: 1e9, maxAgeMs: 60_000 });
    // 2,000 records, one every 100 ms: 200 s of data, more than one read chunk of them too old.
    queue.commit(records(2000), []);
    expect(queue.enforceLimits(T0 + 160_000)).toMatchObject({ messages: 1000, samples: 2000 });
    expect(queue.totals.messages).toBe(1000);
    expect(queue.read(0, Infinity, 1)[0]!.id).toBe(1001);
    expect(queue.enforceLimits(T0 + 160_000).messages).toBe(0);
    expect(queue.enforceLimits(T0 + 10_000_000).messages).toBe(1000);
    expect(queue.dropped).toMatchObject({ messages: 2000, samples: 4000 });
    expect(queue.totals).toEqual({ messages: 0, samples: 0, bytes: 0 });
    queue.close();
  });

  it('drops the oldest records beyond maxBytes', () => {
    const queue = new DurableQueue(':memory:', { maxBytes: 10_000, maxAgeMs: 3_600_000 });
    queue.commit(records(1000), []);
    const dropped = queue.enforceLimits(T0);
    expect(queue.totals.bytes).toBeLessThanOrEqual(10_000);
    expect(dropped.messages + queue.totals.messages).toBe(1000);
    expect(queue.read(0, Infinity, 1)[0]!.id).toBe(dropped.messages + 1);
    queue.close();
  });

  it('deletes delivered ranges and appends in one commit', () => {
    const queue = new DurableQueue(':memory:', { maxBytes: 1e9, maxAgeMs: 3_600_000 });
    queue.commit(records(10), []);
    queue.commit(records(5, 11), idRanges([1, 2, 3, 7]));
    expect(queue.read(0, Infinity, 100).map((r) => r.id)).toEqual([
      4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15,
    ]);
    expect(queue.totals.messages).toBe(11);
    queue.close();
  });
});

describeDurableQueue(
  'DurableQueue',
  (path, limits) => {
    const queue = new DurableQueue(path, limits);
    let lastId = queue.maxId();
    const pending: QueueRecord[] = [];
    const record = (id: number, payload: string): QueueRecord => ({
      id,
      ts: Date.now(),
      topic: 'factorylm/s/a/l/asset',
      payload,
      samples: 1,
    });
    return {
      append: (body) => pending.push(record(++lastId, body)),
      settle: () => {
        queue.commit(pending.splice(0), []);
        queue.enforceLimits(Date.now());
      },
      bodies: () => queue.read(0, Number.MAX_SAFE_INTEGER, 100_000).map((r) => String(r.payload)),
      dropped: () => queue.dropped.messages,
      close: () => queue.close(),
      // Deletes the first record and appends two, the second with a payload SQLite refuses (NOT NULL).
      failingCommit: () =>
        queue.commit(
          [record(lastId + 1, 'x'), record(lastId + 2, null as unknown as string)],
          [[0, lastId]],
        ),
    };
  },
  { atomic: true },
);

describe('openDurableOrMemory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flm-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const limits = { maxBytes: 1e9, maxAgeMs: 3_600_000 };

  it.each<[string, string, number, boolean, boolean]>([
    ['a file it can create', 'q.db', Infinity, true, false],
    ['a file in a missing folder, uncapped', 'missing/q.db', Infinity, false, true],
    ['a file in a missing folder, capped', 'missing/q.db', 10_000, false, true],
  ])('%s', (_name, file, memoryMaxBytes, durable, failed) => {
    const opened = openDurableOrMemory(join(dir, file), limits, memoryMaxBytes);
    expect(opened.durable).toBe(durable);
    expect(opened.openError !== undefined).toBe(failed);
    if (failed) expect(opened.openError).toMatch(/directory|folder|open/i);
    // The in-memory fallback keeps the caller's limits, the size capped by memoryMaxBytes.
    opened.queue.commit(records(1000), []);
    opened.queue.enforceLimits(T0);
    expect(opened.queue.totals.bytes <= 10_000).toBe(memoryMaxBytes === 10_000);
    opened.queue.close();
  });
});
