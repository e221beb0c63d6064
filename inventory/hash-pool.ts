import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { holds } from './hash-cache.js';

/** Read size of a worker; a file is hashed in chunks of it, so memory stays flat. */
const CHUNK = 1024 * 1024;
/** XXH3-128 in hex: 128 bits tell files apart far beyond any fleet's file count. */
export const HASH_HEX = 32;

/**
 * The worker's whole program. It is source text run with `eval` (CommonJS, Node built-ins only)
 * rather than a module file, so the same pool runs from the TypeScript sources under vitest and
 * from dist/. O_NOFOLLOW: a file swapped for a symlink after it was listed is not followed out
 * of the root; O_NONBLOCK: one swapped for a FIFO does not hang the worker. A file is opened
 * and then fstat'ed rather than lstat'ed and then opened: one path lookup instead of two, and the
 * size read is that of the file hashed. Only when the open fails does an lstat say why.
 *
 * A file the cache knows comes with its cached size, mtime and inode; it is lstat'ed, and read
 * only if the cache's `holds` (its source text below, so the rule is written once) says it
 * changed: the stats of an unchanged re-scan are spread over the workers and leave the walk's
 * thread free.
 *
 * A batch's answer is packed (stats in a transferred Float64Array, hashes in one string) because
 * cloning an object per file cost the worker and the walker more than the files' stats.
 *
 * The hash is XXH3-128 (hash-wasm: WebAssembly, so the same code on x64, arm64 and armv7, no
 * native build). It is about three times faster than SHA-256 here, and 128 bits make an
 * accidental collision among even 10^9 files a ~10^-21 event. It is not cryptographic: someone
 * could craft two files with one hash, so an "exact copy" claim also needs the same size, and
 * nothing is deleted by the audit itself. `binary[i]` is 1 when the file's first 8 KiB hold a NUL
 * byte (git's test), so the code analysis never reads binary files again.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { closeSync, constants, fstatSync, lstatSync, openSync, readSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const NO_HASH = ' '.repeat(${HASH_HEX});
const buffer = Buffer.allocUnsafe(${CHUNK});
${holds.toString()}
let hasher;
let sawNul = false;
function hashFd(fd, size) {
  let n = 0;
  hasher.init();
  if (size <= buffer.length) {
    for (let r = -1; n < size && r !== 0; n += r) r = readSync(fd, buffer, n, size - n, null);
    sawNul = buffer.subarray(0, Math.min(n, 8192)).indexOf(0) >= 0;
    hasher.update(buffer.subarray(0, n));
    return hasher.digest('hex');
  }
  let first = true;
  while ((n = readSync(fd, buffer, 0, buffer.length, null)) > 0) {
    if (first) sawNul = buffer.subarray(0, Math.min(n, 8192)).indexOf(0) >= 0;
    first = false;
    hasher.update(buffer.subarray(0, n));
  }
  return hasher.digest('hex');
}
function openFailed(path, err, stats, i, errors) {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return;
  stats[i * 3 + 1] = st.mtimeMs;
  stats[i * 3 + 2] = st.ino;
  if (st.isFile()) {
    stats[i * 3] = st.size;
    errors[i] = err.code || String(err);
  } else {
    stats[i * 3] = 0;
    errors[i] = 'not a regular file';
  }
}
function visit(path, maxBytes, stats, i, errors) {
  let fd;
  try {
    fd = openSync(path, FLAGS);
  } catch (err) {
    openFailed(path, err, stats, i, errors);
    return NO_HASH;
  }
  try {
    const st = fstatSync(fd);
    stats[i * 3 + 1] = st.mtimeMs;
    stats[i * 3 + 2] = st.ino;
    if (!st.isFile()) {
      stats[i * 3] = 0;
      errors[i] = 'not a regular file';
      return NO_HASH;
    }
    stats[i * 3] = st.size;
    if (st.size > maxBytes) return NO_HASH;
    return hashFd(fd, st.size);
  } catch (err) {
    errors[i] = err.code || String(err);
    return NO_HASH;
  } finally {
    closeSync(fd);
  }
}
function unchanged(path, known, stats, i) {
  const c = { size: known[i * 3], mtimeMs: known[i * 3 + 1], ino: known[i * 3 + 2] };
  if (Number.isNaN(c.size)) return false;
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st || !holds(c, st.size, st.mtimeMs, st.ino)) return false;
  stats.set([st.size, st.mtimeMs, st.ino], i * 3);
  return true;
}
function onBatch({ id, paths, known, maxBytes }) {
  const stats = new Float64Array(paths.length * 3).fill(NaN);
  const held = new Uint8Array(paths.length);
  const binary = new Uint8Array(paths.length);
  const errors = {};
  let hashes = '';
  for (let i = 0; i < paths.length; i++) {
    held[i] = unchanged(paths[i], known, stats, i) ? 1 : 0;
    sawNul = false;
    hashes += held[i] ? NO_HASH : visit(paths[i], maxBytes, stats, i, errors);
    binary[i] = sawNul ? 1 : 0;
  }
  parentPort.postMessage({ id, stats, held, binary, hashes, errors }, [stats.buffer, held.buffer, binary.buffer]);
}
// The hasher is created asynchronously (WebAssembly): batches that arrive first wait for it.
const early = [];
parentPort.on('message', (m) => (hasher ? onBatch(m) : early.push(m)));
require(workerData.hashWasm).createXXHash128().then((h) => {
  hasher = h;
  for (const m of early.splice(0)) onBatch(m);
});
`;

/**
 * What a worker found of a batch of files, by index `i`: `stats[3i..3i+2]` = size, mtime (ms)
 * and inode, size NaN when the file vanished; `hashes.slice(i * HASH_HEX, (i + 1) * HASH_HEX)`
 * its hash, blank when it was not read: `held[i]` 1 when its cached hash still holds, else
 * `errors[i]` says why, or none when it is larger than the cap.
 */
export interface HashBatch {
  stats: Float64Array;
  held: Uint8Array;
  binary: Uint8Array;
  hashes: string;
  errors: Record<number, string>;
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
    { resolve: (r: HashBatch) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;

  /** Workers start on the first batch. */
  constructor(private readonly size: number) {}

  private start(): void {
    for (let i = 0; i < Math.max(1, this.size); i++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { hashWasm: createRequire(import.meta.url).resolve('hash-wasm') },
      });
      const slot = { worker, pending: 0 };
      worker.on('message', ({ id, ...batch }: HashBatch & { id: number }) => {
        slot.pending -= 1;
        this.waiting.get(id)?.resolve(batch);
        this.waiting.delete(id);
      });
      // A worker that dies (out of memory) fails every batch still waiting instead of hanging.
      worker.on('error', (err) => this.failAll(err));
      this.workers.push(slot);
    }
  }

  /**
   * Stats, and hashes those not larger than `maxBytes` unless `known` (size, mtime, inode per
   * path, NaN for none) shows them unchanged.
   */
  hash(paths: string[], known: Float64Array<ArrayBuffer>, maxBytes: number): Promise<HashBatch> {
    if (this.workers.length === 0) this.start();
    const slot = this.workers.reduce((a, b) => (b.pending < a.pending ? b : a));
    const id = this.nextId++;
    slot.pending += 1;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      slot.worker.postMessage({ id, paths, known, maxBytes }, [known.buffer]);
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
