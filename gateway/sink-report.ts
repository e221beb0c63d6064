import type { QueueTotals } from '../core/durable-queue.js';
import { LogLimiter } from '../core/log-limiter.js';
import type { Logger } from '../core/logger.js';
import type { WriteResult } from './influx-sink.js';
import type { Spool } from './spool.js';

export interface SpoolStats {
  path: string;
  /** False when the file could not be opened: the spool is in memory and lost on restart. */
  durable: boolean;
  batches: number;
  points: number;
  bytes: number;
  maxBytes: number;
  /** Points written to the spool since start. */
  spooled: number;
  /** Points that left the spool for InfluxDB since start. */
  drained: number;
  /** Oldest batches dropped by spool.maxBytes or spool.maxAgeMs since start. */
  dropped: { batches: number; points: number };
  /** At 90 % of maxBytes, or dropped points in the last minute. */
  full: boolean;
}

export interface SinkStats {
  /** Points InfluxDB accepted (live and from the spool). */
  written: number;
  /** Points lost: dropped by the spool limits, refused by InfluxDB, or refused by the disk. */
  dropped: number;
  /** Points in memory, not yet written or spooled (their MQTT messages are not yet acknowledged). */
  pending: number;
  /** Failed write requests. */
  writeErrors: number;
  lastError?: string;
  /** Points InfluxDB refused (bad line, field type conflict): never retried, part of `dropped`. */
  rejected: number;
  /** `down` from a failed write until a write from the spool succeeds. */
  influx: 'up' | 'down';
  spool: SpoolStats;
  /** Set while points are being lost or are at risk: what happens and what to do. */
  alarm?: string;
}

const LOG_EVERY_MS = 10_000;
/** How long after a drop the spool still counts as full, ms. */
const FULL_AFTER_DROP_MS = 60_000;

export type LogKind = 'drop' | 'failure' | 'disk' | 'slow' | 'down';

/**
 * What the spool sink counts and says: its counters, the last errors, and its warnings at most
 * once per LOG_EVERY_MS of a kind (a down InfluxDB must not write a line per batch). Turns them,
 * with the spool's totals, into `SinkStats`.
 */
export class SinkReport {
  readonly counts = {
    written: 0,
    rejected: 0,
    spooled: 0,
    drained: 0,
    writeErrors: 0,
    lostToDisk: 0,
  };
  lastError?: string;
  /** Why the spool refuses writes, while batches are stuck in memory. */
  diskError?: string;
  private lastDroppedAt = 0;
  /** Repeated log lines of one kind: at most one per LOG_EVERY_MS. */
  private readonly logs = new LogLimiter<LogKind>(LOG_EVERY_MS);

  constructor(
    readonly log: Logger,
    private readonly spool: Spool,
    private readonly maxSpoolBytes: number,
  ) {}

  /** Whether a line of this kind may be logged now. */
  due(kind: LogKind): boolean {
    return this.logs.take(kind).log;
  }

  /** A line of this kind was just logged in another way: the next waits LOG_EVERY_MS. */
  logged(kind: LogKind): void {
    this.logs.logged(kind);
  }

  noteDropped(dropped: QueueTotals, influxUp: boolean): void {
    this.lastDroppedAt = Date.now();
    if (!this.due('drop')) return;
    this.log.error(
      {
        batches: dropped.messages,
        points: dropped.samples,
        droppedSinceStart: this.spool.dropped.samples,
        spoolBytes: this.spool.totals.bytes,
        maxBytes: this.maxSpoolBytes,
        influx: influxUp ? 'up' : 'down',
      },
      'spool full (spool.maxBytes) or too old (spool.maxAgeMs): dropped the oldest points; bring InfluxDB back or raise the limits',
    );
  }

  noteFailure(result: WriteResult & { ok: false }, attempt: number, points: number): void {
    this.counts.writeErrors += 1;
    this.lastError = result.error;
    if (!this.due('failure')) return;
    this.log.warn(
      { err: result.error, points, attempt, refused: result.rejected },
      result.rejected
        ? 'InfluxDB refused a batch; writing it in parts to find the points at fault'
        : 'InfluxDB write failed; check the URL, credentials and database/bucket',
    );
  }

  /** One line InfluxDB refused for good: dropped and counted. */
  noteRejected(line: string, error: string): void {
    this.counts.rejected += 1;
    const count = this.counts.rejected;
    if (count === 1 || count % 1000 === 0)
      this.log.error(
        { line: line.slice(0, 300), err: error, count },
        'InfluxDB refused a point; it is dropped and counted',
      );
  }

  stats(state: { up: boolean; pending: number; stuck: boolean }): SinkStats {
    const totals = this.spool.totals;
    const dropped = this.spool.dropped;
    const full =
      totals.bytes >= 0.9 * this.maxSpoolBytes ||
      (this.lastDroppedAt > 0 && Date.now() - this.lastDroppedAt < FULL_AFTER_DROP_MS);
    let alarm: string | undefined;
    if (state.stuck) alarm = this.diskError;
    else if (!state.up && full)
      alarm =
        'InfluxDB is down and the spool is full: the oldest points are being dropped; bring InfluxDB back or raise spool.maxBytes';
    else if (!this.spool.durable) alarm = this.spool.openError;
    return {
      written: this.counts.written,
      dropped: dropped.samples + this.counts.rejected + this.counts.lostToDisk,
      pending: state.pending,
      writeErrors: this.counts.writeErrors,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      rejected: this.counts.rejected,
      influx: state.up ? 'up' : 'down',
      spool: {
        path: this.spool.path,
        durable: this.spool.durable,
        batches: totals.messages,
        points: totals.samples,
        bytes: totals.bytes,
        maxBytes: this.maxSpoolBytes,
        spooled: this.counts.spooled,
        drained: this.counts.drained,
        dropped: { batches: dropped.messages, points: dropped.samples },
        full,
      },
      ...(alarm ? { alarm } : {}),
    };
  }
}
