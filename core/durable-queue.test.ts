import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDurableQueue } from './durable-queue.conformance.js';
import {
  DurableQueue,
  idRanges,
  openDurableOrMemory,
  recordBytes,
  WAL_SIZE_LIMIT,
  type QueueRecord,
} from './durable-queue.js';

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

/** An asset batch of `tags` values, the JSON the agent's outbox stores in an outage. */
function assetBody(n: number, tags = 1000): string {
  const values = Array.from(
    { length: tags },
    (_, i) => `"t${String(i).padStart(5, '0')}":${(n * 7 + i * 13) % 65536}`,
  );
  return `{"ts":${T0 + n},"v":{${values.join(',')}}}`;
}

describe('DurableQueue files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flm-queue-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const limits = { maxBytes: 1e9, maxAgeMs: 3_600_000 };
  const batch = (firstId: number, count: number): QueueRecord[] =>
    Array.from({ length: count }, (_, i) => ({
      id: firstId + i,
      ts: T0,
      topic: 'factorylm/s/a/l/asset',
      payload: assetBody(firstId + i),
      samples: 1000,
    }));

  it('stores large string payloads deflated when asked, and reads them back as they were', () => {
    const path = join(dir, 'deflate.db');
    const queue = new DurableQueue(path, limits, { compressMinBytes: 512 });
    const small: QueueRecord = { id: 101, ts: T0, topic: 't', payload: '{"n":1}', samples: 1 };
    const records = [...batch(1, 100), small];
    queue.commit(records, []);
    const raw = records.reduce((n, r) => n + recordBytes(r.topic, r.payload), 0);
    // The totals, the size limit and storedBytes count what the file holds: about a third.
    expect(queue.totals.bytes).toBeLessThan(raw / 2);
    expect(records.reduce((n, r) => n + r.storedBytes!, 0)).toBe(queue.totals.bytes);
    expect(small.storedBytes).toBe(recordBytes('t', '{"n":1}'));
    const back = queue.read(0, Infinity, 1000);
    expect(back.map((r) => r.payload)).toEqual(records.map((r) => r.payload));
    expect(back.reduce((n, r) => n + r.storedBytes!, 0)).toBe(queue.totals.bytes);
    queue.close();
    // A file written deflated opens and reads without the option.
    const plain = new DurableQueue(path, limits);
    expect(plain.read(0, Infinity, 1000).map((r) => r.payload)).toEqual(
      records.map((r) => r.payload),
    );
    expect(plain.totals.bytes).toBe(back.reduce((n, r) => n + r.storedBytes!, 0));
    plain.close();
  });

  it('keeps Buffer payloads and small strings as they are', () => {
    const queue = new DurableQueue(':memory:', limits, { compressMinBytes: 16 });
    const payloads = [Buffer.alloc(4000, 1), 'short', 'x'.repeat(15)];
    queue.commit(
      payloads.map((payload, i) => ({ id: i + 1, ts: T0, topic: 't', payload, samples: 1 })),
      [],
    );
    expect(queue.read(0, Infinity, 10).map((r) => r.payload)).toEqual(payloads);
    queue.close();
  });

  it('bounds the WAL while a backlog builds and truncates it once the backlog drains', () => {
    const path = join(dir, 'wal.db');
    const queue = new DurableQueue(path, limits);
    const wal = () => statSync(`${path}-wal`).size;
    // 40 MB of uncompressed asset batches, committed 10 at a time like an outage's flush ticks.
    for (let id = 1; id <= 3000; id += 10) {
      queue.commit(batch(id, 10), []);
      // Checkpointed every 1,000 pages and cut back on reset: never far above the limit.
      expect(wal()).toBeLessThan(WAL_SIZE_LIMIT + 1024 * 1024);
    }
    expect(queue.totals.messages).toBe(3000);
    // The drain deletes in runs; the commit that empties the queue truncates the WAL.
    for (let id = 1; id <= 3000; id += 500) queue.commit([], [[id, id + 499]]);
    expect(queue.totals.messages).toBe(0);
    expect(wal()).toBe(0);
    queue.close();
  });
});

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
