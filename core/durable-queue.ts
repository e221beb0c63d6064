import { statSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { errorMessage } from './errors.js';
import { openSqlite, pragma, type Sqlite, type SqliteStatement } from './sqlite.js';

/**
 * One record waiting for delivery. The names are the agent's, who came first (the table is
 * `outbox`, the routing field `topic`), and stay so existing files open; their meaning is
 * neutral: `topic` is a short routing key (the MQTT topic in the agent's outbox, the action's
 * key in the maintenance dispatcher, empty in the gateway spool), `payload` the body, `samples`
 * the units it carries (samples, points, actions), summed in the totals.
 */
export interface QueueRecord {
  id: number;
  /** When it was accepted, ms since the epoch; the age limit counts from here. */
  ts: number;
  /** Routing key; counted in the size like the payload. */
  topic: string;
  payload: string | Buffer;
  samples: number;
  /**
   * Bytes it takes in the file (recordBytes of the stored, maybe compressed, payload): set by
   * commit() and read(), so a caller can subtract what it deletes from the totals.
   */
  storedBytes?: number;
}

export interface DurableQueueOptions {
  /**
   * String payloads of at least this many bytes are stored deflated (about a third of a JSON
   * asset batch): what an outage writes to flash. Off (Infinity) by default. read() inflates
   * them whatever this is set to, so a file written with it opens without it.
   */
  compressMinBytes?: number;
}

export interface DurableQueueLimits {
  /** Bytes of topic + payload the queue may hold; the oldest records are dropped beyond. */
  maxBytes: number;
  /** Records older than this are dropped, ms. */
  maxAgeMs: number;
}

export interface QueueTotals {
  messages: number;
  samples: number;
  bytes: number;
}

/** Approximate storage of one record beside its topic and payload: row id, ts, samples, b-tree cell. */
const ROW_OVERHEAD = 24;

/**
 * The WAL file is cut back to this size whenever SQLite resets it (journal_size_limit); without
 * it the file keeps the size of the largest run of commits between two checkpoints.
 */
export const WAL_SIZE_LIMIT = 4 * 1024 * 1024;
/** WAL pages after which a commit checkpoints them into the database (SQLite's default, stated). */
const WAL_AUTOCHECKPOINT_PAGES = 1000;
/** A queue that empties with a WAL at least this big truncates it (a drain after an outage). */
const TRUNCATE_WAL_ABOVE = 1024 * 1024;

/**
 * Marks a stored payload as deflated: a NUL first byte, which neither JSON text nor a protobuf
 * message (field number 0 does not exist) starts with, then "FZ" and a version byte.
 */
const DEFLATED = Buffer.from([0, 0x46, 0x5a, 1]);

function encodeStored(payload: string | Buffer, minBytes: number): string | Buffer {
  if (typeof payload !== 'string' || payload.length * 3 < minBytes) return payload;
  const raw = Buffer.from(payload);
  if (raw.length < minBytes) return payload;
  // Level 1: a third of the size at a fraction of level 6's CPU, on a path that runs in outages.
  const packed = deflateRawSync(raw, { level: 1 });
  if (packed.length + DEFLATED.length >= raw.length) return payload;
  return Buffer.concat([DEFLATED, packed]);
}

function decodeStored(payload: string | Buffer): string | Buffer {
  if (typeof payload === 'string' || payload.length < DEFLATED.length) return payload;
  if (payload.compare(DEFLATED, 0, DEFLATED.length, 0, DEFLATED.length) !== 0) return payload;
  return inflateRawSync(payload.subarray(DEFLATED.length)).toString();
}

export function recordBytes(topic: string, payload: string | Buffer): number {
  const body = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  return Buffer.byteLength(topic) + body + ROW_OVERHEAD;
}

/**
 * An ordered, bounded queue of records in SQLite (WAL mode, fsync on every commit). Callers
 * commit in batches (one transaction per flush), so the cost of durability is paid per batch,
 * not per record. Records keep the id the caller gave them, which fixes their order. Its three
 * users (agent outbox, gateway spool, maintenance dispatcher) each pass the contract in
 * durable-queue.conformance.ts through their own constructors.
 */
export class DurableQueue {
  readonly totals: QueueTotals = { messages: 0, samples: 0, bytes: 0 };
  /** Records removed by the size or age limit. */
  readonly dropped: QueueTotals = { messages: 0, samples: 0, bytes: 0 };
  /** Records committed since open: what the queue cost the disk (flash wear on an SD card). */
  readonly written: QueueTotals = { messages: 0, samples: 0, bytes: 0 };
  private readonly db: Sqlite;
  private readonly insert: SqliteStatement;
  private readonly deleteRange: SqliteStatement;
  private readonly range: SqliteStatement;
  private readonly oldest: SqliteStatement;
  private readonly sizeOfRange: SqliteStatement;
  private readonly oldestAges: SqliteStatement;
  private readonly highestId: SqliteStatement;
  private readonly pageSize: SqliteStatement;
  private readonly pageCount: SqliteStatement;
  private readonly appendMany: (records: QueueRecord[], deletes: [number, number][]) => void;
  private readonly checkpointTruncate: SqliteStatement;
  private readonly compressMinBytes: number;

  /** Opens (or creates) the queue at `path`; `:memory:` keeps it in memory only. Throws when SQLite cannot. */
  constructor(
    readonly path: string,
    private readonly limits: DurableQueueLimits,
    options: DurableQueueOptions = {},
  ) {
    this.compressMinBytes = options.compressMinBytes ?? Infinity;
    this.db = openSqlite(path);
    pragma(this.db, 'journal_mode = WAL').get();
    // FULL: each commit is fsynced, so what a flush committed survives power loss, not only kill -9.
    pragma(this.db, 'synchronous = FULL').run();
    // The WAL stays bounded: checkpointed every WAL_AUTOCHECKPOINT_PAGES pages, cut back to
    // WAL_SIZE_LIMIT when reset, and truncated once a backlog has drained (commit()).
    pragma(this.db, `journal_size_limit = ${WAL_SIZE_LIMIT}`).get();
    pragma(this.db, `wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`).get();
    this.checkpointTruncate = pragma(this.db, 'wal_checkpoint(TRUNCATE)');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, topic TEXT NOT NULL, payload NOT NULL, samples INTEGER NOT NULL)',
    );
    this.insert = this.db.prepare(
      'INSERT OR REPLACE INTO outbox (id, ts, topic, payload, samples) VALUES (?, ?, ?, ?, ?)',
    );
    this.deleteRange = this.db.prepare('DELETE FROM outbox WHERE id BETWEEN ? AND ?');
    this.sizeOfRange = this.db.prepare(
      `SELECT count(*) AS messages, coalesce(sum(samples), 0) AS samples,
        coalesce(sum(length(CAST(topic AS BLOB)) + length(CAST(payload AS BLOB))), 0) + count(*) * ${ROW_OVERHEAD} AS bytes
       FROM outbox WHERE id BETWEEN ? AND ?`,
    );
    this.range = this.db.prepare(
      'SELECT id, ts, topic, payload, samples FROM outbox WHERE id > ? AND id <= ? ORDER BY id LIMIT ?',
    );
    this.oldest = this.db.prepare(
      `SELECT id, samples, length(CAST(topic AS BLOB)) + length(CAST(payload AS BLOB)) + ${ROW_OVERHEAD} AS bytes
       FROM outbox WHERE id > ? ORDER BY id LIMIT 512`,
    );
    this.oldestAges = this.db.prepare('SELECT id, ts FROM outbox WHERE id > ? ORDER BY id LIMIT ?');
    this.highestId = this.db.prepare('SELECT max(id) AS id FROM outbox');
    this.pageSize = pragma(this.db, 'page_size').pluck();
    this.pageCount = pragma(this.db, 'page_count').pluck();
    this.appendMany = this.db.transaction((records: QueueRecord[], deletes: [number, number][]) => {
      for (const [from, to] of deletes) this.removeRange(from, to);
      for (const r of records) {
        const stored = encodeStored(r.payload, this.compressMinBytes);
        this.insert.run(r.id, r.ts, r.topic, stored, r.samples);
        r.storedBytes = recordBytes(r.topic, stored);
        this.totals.messages += 1;
        this.totals.samples += r.samples;
        this.totals.bytes += r.storedBytes;
      }
    });
    const all = this.sizeOfRange.get(0, Number.MAX_SAFE_INTEGER) as QueueTotals;
    Object.assign(this.totals, all);
  }

  /** Highest id stored, or 0: new records continue after it so order survives a restart. */
  maxId(): number {
    const row = this.highestId.get() as { id: number | null };
    return row.id ?? 0;
  }

  /**
   * One transaction: removes the given id ranges (delivered records) and appends `records`.
   * Throws on a disk error, leaving the queue as it was.
   */
  commit(records: QueueRecord[], deletes: [number, number][]): void {
    if (records.length === 0 && deletes.length === 0) return;
    const before = { ...this.totals };
    try {
      this.appendMany(records, deletes);
    } catch (err) {
      Object.assign(this.totals, before);
      throw err;
    }
    for (const r of records) {
      this.written.messages += 1;
      this.written.samples += r.samples;
      this.written.bytes += r.storedBytes ?? 0;
    }
    if (deletes.length > 0 && this.totals.messages === 0) this.truncateWalAfterDrain();
  }

  /** Up to `limit` records with `after < id <= upTo`, in id order. */
  read(after: number, upTo: number, limit: number): QueueRecord[] {
    const rows = this.range.all(after, upTo, limit) as QueueRecord[];
    for (const r of rows) {
      r.storedBytes = recordBytes(r.topic, r.payload);
      r.payload = decodeStored(r.payload);
    }
    return rows;
  }

  /**
   * The queue just emptied: when a backlog went through the WAL (an outage), checkpoint it into
   * the database and truncate it to zero bytes, so the file does not stay at its high-water mark.
   * Small commits while the broker is up stay in the WAL for the automatic checkpoint.
   */
  private truncateWalAfterDrain(): void {
    if (this.path === ':memory:') return;
    try {
      if (statSync(`${this.path}-wal`).size < TRUNCATE_WAL_ABOVE) return;
    } catch {
      return;
    }
    try {
      this.checkpointTruncate.get();
    } catch {
      // Busy or a disk error: the automatic checkpoint and journal_size_limit still bound it.
    }
  }

  /**
   * Drops the oldest records beyond the size and age limits; returns what was dropped now. The
   * age limit drops the run of oldest records older than it, walking the primary key from the
   * start: records are appended about in time order, and a scan of ts over the whole table on
   * every flush would cost more than the rest of the queue with a large backlog.
   */
  enforceLimits(now: number): QueueTotals {
    const droppedNow: QueueTotals = { messages: 0, samples: 0, bytes: 0 };
    const cutoff = now - this.limits.maxAgeMs;
    let tooOld = 0;
    // Usually the oldest record is young enough: look at it alone first.
    for (let chunk = 1; ; chunk = 512) {
      const rows = this.oldestAges.all(tooOld, chunk) as { id: number; ts: number }[];
      const fresh = rows.findIndex((r) => r.ts >= cutoff);
      const old = fresh < 0 ? rows : rows.slice(0, fresh);
      if (old.length > 0) tooOld = old[old.length - 1]!.id;
      if (fresh >= 0 || rows.length === 0) break;
    }
    if (tooOld > 0) this.dropRange(0, tooOld, droppedNow);
    let after = 0;
    while (this.totals.bytes > this.limits.maxBytes && this.totals.messages > 0) {
      const rows = this.oldest.all(after) as { id: number; samples: number; bytes: number }[];
      if (rows.length === 0) break;
      let excess = this.totals.bytes - this.limits.maxBytes;
      let last = after;
      for (const row of rows) {
        last = row.id;
        excess -= row.bytes;
        if (excess <= 0) break;
      }
      this.dropRange(after, last, droppedNow);
      after = last;
    }
    return droppedNow;
  }

  /** On-disk size of the database and its WAL, bytes. */
  fileBytes(): number {
    return (this.pageSize.get() as number) * (this.pageCount.get() as number);
  }

  close(): void {
    try {
      this.checkpointTruncate.get();
    } catch {
      // A read-only or full disk cannot checkpoint; SQLite replays the WAL on the next open.
    }
    this.db.close();
  }

  private dropRange(from: number, to: number, droppedNow: QueueTotals): void {
    const gone = this.removeRange(from, to);
    for (const k of ['messages', 'samples', 'bytes'] as const) {
      this.dropped[k] += gone[k];
      droppedNow[k] += gone[k];
    }
  }

  private removeRange(from: number, to: number): QueueTotals {
    const gone = this.sizeOfRange.get(from, to) as QueueTotals;
    if (gone.messages === 0) return gone;
    this.deleteRange.run(from, to);
    this.totals.messages -= gone.messages;
    this.totals.samples -= gone.samples;
    this.totals.bytes -= gone.bytes;
    return gone;
  }
}

export interface OpenedQueue {
  queue: DurableQueue;
  /** False when the file could not be opened and the queue lives in memory only. */
  durable: boolean;
  /** Why the file could not be opened: the caller says it in its own words, with what to do. */
  openError?: string;
}

/**
 * The queue at `path`, or, when SQLite cannot open it (permissions, full disk), one in memory so
 * that the caller keeps working and reports itself not durable. `memoryMaxBytes` caps the
 * in-memory fallback, which competes with the process's heap.
 */
export function openDurableOrMemory(
  path: string,
  limits: DurableQueueLimits,
  memoryMaxBytes = Infinity,
  options: DurableQueueOptions = {},
): OpenedQueue {
  try {
    return { queue: new DurableQueue(path, limits, options), durable: path !== ':memory:' };
  } catch (err) {
    const memoryLimits = { ...limits, maxBytes: Math.min(limits.maxBytes, memoryMaxBytes) };
    return {
      queue: new DurableQueue(':memory:', memoryLimits, options),
      durable: false,
      openError: errorMessage(err),
    };
  }
}

/** Turns a sorted list of ids into [from, to] runs, so delivered records are deleted by range. */
export function idRanges(sortedIds: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const id of sortedIds) {
    const last = out[out.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}
