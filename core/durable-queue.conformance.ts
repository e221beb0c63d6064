import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DurableQueue, type DurableQueueLimits } from './durable-queue.js';

/**
 * One user of DurableQueue, opened through its own constructor, seen as a queue of string
 * bodies. The clock is Date.now(), which the suite fakes (only Date: timers stay real).
 */
export interface QueueUnderTest {
  /** Accepts one record carrying `body` now. */
  append(body: string): void;
  /** Commits what is pending and applies the size and age limits at now. */
  settle(): void;
  /** Bodies held in the file, oldest first. */
  bodies(): string[];
  /** Records the limits dropped since it was opened. */
  dropped(): number;
  close(): void | Promise<void>;
  /** A commit that fails mid-transaction (a record SQLite refuses); for `atomic` users. */
  failingCommit?(): void;
}

export type OpenQueueUnderTest = (path: string, limits: DurableQueueLimits) => QueueUnderTest;

/** Record ids are the caller's: reads the file as it is, in id order, with a connection of its own. */
export function readQueueFile(path: string): { topic: string; payload: string }[] {
  const queue = new DurableQueue(path, { maxBytes: Number.MAX_SAFE_INTEGER, maxAgeMs: Infinity });
  try {
    return queue
      .read(0, Number.MAX_SAFE_INTEGER, 100_000)
      .map((r) => ({ topic: r.topic, payload: String(r.payload) }));
  } finally {
    queue.close();
  }
}

const T0 = Date.parse('2025-01-01T00:00:00Z');
const ROOMY: DurableQueueLimits = { maxBytes: 1e9, maxAgeMs: 3_600_000 };

/**
 * The contract every durable queue user keeps (as MQTT.js's abstract store suite does for its
 * stores): order, bounds by bytes and age with drops counted, records and id order kept across
 * a restart, commits all or nothing. Run it from a test file beside each user.
 */
export function describeDurableQueue(
  name: string,
  open: OpenQueueUnderTest,
  /** `atomic`: the user offers failingCommit, and the all-or-nothing case runs. */
  options: { atomic: boolean },
): void {
  describe(`durable queue contract: ${name}`, () => {
    let dir: string;
    let path: string;
    const opened: QueueUnderTest[] = [];
    const openQueue = (limits: DurableQueueLimits = ROOMY) => {
      const q = open(path, limits);
      opened.push(q);
      return q;
    };
    const restart = async (q: QueueUnderTest, limits: DurableQueueLimits = ROOMY) => {
      opened.splice(opened.indexOf(q), 1);
      await q.close();
      return openQueue(limits);
    };

    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(T0);
      dir = mkdtempSync(join(tmpdir(), 'flm-queue-'));
      path = join(dir, 'queue.db');
    });
    afterEach(async () => {
      for (const q of opened.splice(0)) await q.close();
      vi.useRealTimers();
      rmSync(dir, { recursive: true, force: true });
    });

    it('gives records back in the order they were accepted', () => {
      const q = openQueue();
      for (const body of ['a', 'b', 'c', 'd']) q.append(body);
      q.settle();
      expect(q.bodies()).toEqual(['a', 'b', 'c', 'd']);
      expect(q.dropped()).toBe(0);
    });

    it('keeps its records across a restart, and new ones go after them', async () => {
      let q = openQueue();
      q.append('a');
      q.append('b');
      q.settle();
      q = await restart(q);
      expect(q.bodies()).toEqual(['a', 'b']);
      q.append('c');
      q.settle();
      expect(q.bodies()).toEqual(['a', 'b', 'c']);
    });

    it('drops the oldest records beyond maxBytes and counts them', () => {
      const q = openQueue({ maxBytes: 2000, maxAgeMs: 3_600_000 });
      const bodies = Array.from({ length: 100 }, (_, i) => `record ${i} ${'x'.repeat(40)}`);
      for (const body of bodies) q.append(body);
      q.settle();
      const held = q.bodies();
      expect(held.length).toBeGreaterThan(0);
      expect(held.length).toBeLessThan(bodies.length);
      expect(held).toEqual(bodies.slice(bodies.length - held.length));
      expect(q.dropped()).toBe(bodies.length - held.length);
    });

    it('drops the records older than maxAgeMs and counts them', () => {
      const q = openQueue({ maxBytes: 1e9, maxAgeMs: 60_000 });
      q.append('old 1');
      q.append('old 2');
      q.settle();
      vi.setSystemTime(T0 + 30_000);
      q.append('young');
      q.settle();
      vi.setSystemTime(T0 + 60_001);
      q.append('new');
      q.settle();
      expect(q.bodies()).toEqual(['young', 'new']);
      expect(q.dropped()).toBe(2);
    });

    it('counts nothing as dropped that a restart brought back', async () => {
      let q = openQueue();
      q.append('a');
      q.settle();
      q = await restart(q, { maxBytes: 1e9, maxAgeMs: 1000 });
      expect(q.dropped()).toBe(0);
      vi.setSystemTime(T0 + 1001);
      q.append('b');
      q.settle();
      expect(q.bodies()).toEqual(['b']);
      expect(q.dropped()).toBe(1);
    });

    if (options.atomic)
      it('leaves the file as it was when a commit fails', () => {
        const q = openQueue();
        q.append('a');
        q.append('b');
        q.settle();
        expect(() => q.failingCommit!()).toThrow();
        expect(q.bodies()).toEqual(['a', 'b']);
        q.append('c');
        q.settle();
        expect(q.bodies()).toEqual(['a', 'b', 'c']);
      });
  });
}
