import { Worker } from 'node:worker_threads';

/** Read size of a worker; a file is hashed in chunks of it, so memory stays flat. */
const CHUNK = 1024 * 1024;
/** A hash of 128 bits tells files apart far beyond any fleet's file count, at half the text. */
export const HASH_HEX = 32;

/**
 * The worker's whole program. It is source text run with `eval` (CommonJS, Node built-ins only)
 * rather than a module file, so the same pool runs from the TypeScript sources under vitest and
 * from dist/. O_NOFOLLOW: a file swapped for a symlink after it was listed is not followed out
 * of the root; O_NONBLOCK: one swapped for a FIFO does not hang the worker.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { closeSync, constants, lstatSync, openSync, readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const buffer = Buffer.allocUnsafe(${CHUNK});
function hashFile(path) {
  const fd = openSync(path, FLAGS);
  try {
    const h = createHash('sha256');
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      h.update(buffer.subarray(0, n));
    }
    return h.digest('hex').slice(0, ${HASH_HEX});
  } finally {
    closeSync(fd);
  }
}
function visit(path, maxBytes) {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return { error: 'vanished during the scan' };
  const out = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  if (!st.isFile()) return { ...out, size: 0, error: 'not a regular file' };
  if (st.size > maxBytes) return out;
  try {
    return { ...out, hash: hashFile(path) };
  } catch (err) {
    return { ...out, error: err.code || String(err) };
  }
}
parentPort.on('message', ({ id, paths, maxBytes }) => {
  parentPort.postMessage({ id, results: paths.map((path) => visit(path, maxBytes)) });
});
`;

/**
 * What a worker found of one file: its stat, and its hash when it was read. No hash and no
 * error: larger than the cap, not read. No size: it vanished.
 */
export interface HashResult {
  size?: number;
  mtimeMs: number;
  ino: number;
  hash?: string;
  error?: string;
}

/**
 * Worker threads that stat, read and hash files, so hashing uses every core and never blocks the
 * caller's event loop (the agent polls PLCs while it scans). Batches go to the worker with the
 * fewest outstanding.
 */
export class HashPool {
  private readonly workers: { worker: Worker; pending: number }[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (r: HashResult[]) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;

  /** Workers start on the first batch: a re-scan served from the cache needs none. */
  constructor(private readonly size: number) {}

  private start(): void {
    for (let i = 0; i < Math.max(1, this.size); i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      const slot = { worker, pending: 0 };
      worker.on('message', ({ id, results }: { id: number; results: HashResult[] }) => {
        slot.pending -= 1;
        this.waiting.get(id)?.resolve(results);
        this.waiting.delete(id);
      });
      // A worker that dies (out of memory) fails every batch still waiting instead of hanging.
      worker.on('error', (err) => this.failAll(err));
      this.workers.push(slot);
    }
  }

  /** Stats, and hashes those not larger than `maxBytes`. */
  hash(paths: string[], maxBytes: number): Promise<HashResult[]> {
    if (this.workers.length === 0) this.start();
    const slot = this.workers.reduce((a, b) => (b.pending < a.pending ? b : a));
    const id = this.nextId++;
    slot.pending += 1;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      slot.worker.postMessage({ id, paths, maxBytes });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
