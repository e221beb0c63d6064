import {
  idRanges,
  openDurableOrMemory,
  type DurableQueue,
  type QueueTotals,
} from '../core/durable-queue.js';
import type { Logger } from '../core/logger.js';

export interface SpoolLimits {
  /** Bytes of line protocol the spool may hold; the oldest batches are dropped beyond. */
  maxBytes: number;
  /** Batches spooled longer ago than this are dropped, ms. */
  maxAgeMs: number;
}

/** The oldest spooled batches, read together for one write. */
export interface SpoolChunk {
  /** Ids of its batches, ascending: `remove` takes them. */
  ids: number[];
  /** Line protocol, lines joined by \n. */
  body: string;
  points: number;
  batches: number;
}

/** Most rows read from SQLite at a time while assembling a chunk. */
const READ_ROWS = 64;

/**
 * Batches of line protocol that could not be written to InfluxDB, in a SQLite file (WAL, fsync
 * on every commit: core/durable-queue.ts), oldest first. One row per batch, so a batch is
 * committed in one transaction and the gateway may acknowledge its MQTT messages as soon as
 * `append` returns. Bounded by bytes and age; what the limits drop is counted.
 */
export class Spool {
  readonly path: string;
  /** False when the file could not be opened and the spool lives in memory only. */
  readonly durable: boolean;
  /** Why the file could not be opened, when it could not. */
  readonly openError?: string;
  private readonly queue: DurableQueue;
  private lastId: number;

  /** Opens (or creates) the spool at `path`; falls back to memory, and says so, when it cannot. */
  constructor(path: string, limits: SpoolLimits, log: Logger) {
    const { queue, durable, openError } = openDurableOrMemory(path, limits, 64 * 1024 * 1024);
    this.durable = durable;
    if (openError !== undefined) {
      this.openError = `spool file ${path} cannot be opened (${openError}); batches InfluxDB does not take are kept in memory only and lost on restart: fix the folder's permissions or free space, or set spool.path`;
      log.error({ path }, this.openError);
    }
    this.path = path;
    this.queue = queue;
    this.lastId = queue.maxId();
  }

  /** Batches, points and bytes held now. */
  get totals(): Readonly<QueueTotals> {
    return this.queue.totals;
  }

  /** Batches, points and bytes dropped by the size and age limits since the spool was opened. */
  get dropped(): Readonly<QueueTotals> {
    return this.queue.dropped;
  }

  /**
   * The id for the next batch the caller closes. Ids fix the order batches are written back in,
   * so a batch that reaches the spool late (after failed retries) still goes before newer ones.
   * They continue after those already in the file.
   */
  nextId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  /**
   * Commits one batch (fsynced when this returns), then drops the oldest batches beyond the
   * limits and returns what it dropped. Throws when the disk refuses, leaving the spool as it was.
   */
  append(id: number, body: string, points: number, now = Date.now()): QueueTotals {
    this.queue.commit([{ id, ts: now, topic: '', payload: body, samples: points }], []);
    return this.queue.enforceLimits(now);
  }

  /** The oldest batches, at least one and then up to about `maxPoints` points; none when empty. */
  oldest(maxPoints: number): SpoolChunk | undefined {
    const parts: string[] = [];
    const ids: number[] = [];
    let points = 0;
    let after = 0;
    // A row is a whole batch, up to half a megabyte of text under load, or one line from a quiet
    // site: read about as many rows as the points still wanted, judged by those read so far,
    // rather than a fixed count that would load tens of megabytes to use a few rows.
    let limit = 1;
    while (points < maxPoints) {
      const rows = this.queue.read(after, Number.MAX_SAFE_INTEGER, limit);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (parts.length > 0 && points + row.samples > maxPoints) return chunk();
        parts.push(String(row.payload));
        ids.push(row.id);
        points += row.samples;
        after = row.id;
      }
      const perRow = Math.max(1, points / parts.length);
      limit = Math.min(READ_ROWS, Math.max(1, Math.ceil((maxPoints - points) / perRow)));
    }
    return parts.length === 0 ? undefined : chunk();

    function chunk(): SpoolChunk {
      return { ids, body: parts.join('\n'), points, batches: parts.length };
    }
  }

  /**
   * Deletes these batches (written to InfluxDB). Only these: a batch spooled meanwhile with an
   * id between them stays.
   */
  remove(ids: number[]): void {
    this.queue.commit([], idRanges(ids));
  }

  /** Drops batches older than the age limit (and any beyond the size limit); returns what it dropped. */
  enforceLimits(now = Date.now()): QueueTotals {
    return this.queue.enforceLimits(now);
  }

  close(): void {
    this.queue.close();
  }
}
