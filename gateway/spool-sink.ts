import { Backoff, sleep } from '../core/backoff.js';
import type { QueueTotals } from '../core/durable-queue.js';
import { errorMessage } from '../core/errors.js';
import { LogLimiter } from '../core/log-limiter.js';
import type { Logger } from '../core/logger.js';
import { TokenBucket } from '../core/token-bucket.js';
import { postWithRetry, type InfluxWriter, type WriteResult } from './influx-sink.js';
import type { Spool } from './spool.js';

export interface SpoolSinkOptions {
  /** Points per write request (live batches; the drain reads up to four times this). */
  batchSize: number;
  /** Longest a point waits in the open batch, ms. */
  flushIntervalMs: number;
  /** Points in memory not yet written or spooled; beyond, the oldest waiting batches are spooled. */
  maxBufferLines: number;
  /** Retries of a live batch before it goes to the spool. */
  maxRetries: number;
  /**
   * Close the batch once this many messages wait for it: half the broker's in-flight window
   * (MQTT 5 Receive Maximum), so the broker never stalls waiting for acknowledgements.
   */
  maxBatchMessages?: number;
  /**
   * Close the batch when no message came for this long, ms. For MQTT 3.1.1, whose in-flight
   * window the gateway cannot know (Mosquitto's default for 3.1.1 clients is 20).
   */
  idleFlushMs?: number;
  /** Points per second written from the spool, beside live batches. */
  drainRatePerSec: number;
  /** Longest wait between attempts to reach InfluxDB while it is down, ms. */
  retryMaxMs: number;
  /** Bytes the spool may hold (for the `full` flag; the spool enforces it). */
  maxSpoolBytes: number;
}

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

/** Live batches in flight at once. */
const LIVE_CONCURRENCY = 2;
/** First retry delay of a live batch, ms; its retries are capped at LIVE_RETRY_MAX_MS. */
const LIVE_RETRY_MS = 250;
const LIVE_RETRY_MAX_MS = 4000;
/** First wait before probing InfluxDB again from the spool, ms (doubling to retryMaxMs). */
const DRAIN_RETRY_MS = 500;
/** How often the age limit is applied and a down InfluxDB is reported again, ms. */
const CHECK_MS = 10_000;
const LOG_EVERY_MS = 10_000;
/** How long after a drop the spool still counts as full, ms. */
const FULL_AFTER_DROP_MS = 60_000;

type LogKind = 'drop' | 'failure' | 'disk' | 'slow' | 'down';

interface Batch<T> {
  /** Spool id, given when the batch closes: the order it is written back in. */
  id: number;
  lines: string[];
  /** Messages acknowledged when the batch is durable. */
  tickets: T[];
}

/**
 * The gateway's way to InfluxDB, with no loss while InfluxDB is down. Points collect in a
 * bounded batch in memory. A closed batch is written to InfluxDB (a few retries, jittered); when
 * that fails it is committed to the spool (SQLite, fsynced), and from then on every batch goes
 * to the spool until InfluxDB answers again. Only then, written or spooled, are the batch's MQTT
 * messages acknowledged (`onDurable`), so until that moment the broker still has them.
 *
 * A drain loop writes the spool back in order, oldest first, at `drainRatePerSec`, while live
 * batches go straight to InfluxDB; while InfluxDB is down it probes with the oldest batch on a
 * capped, jittered backoff. Points keep their own timestamps throughout.
 */
export class SpoolSink<T> {
  private open: Batch<T> = { id: 0, lines: [], tickets: [] };
  /** Closed batches waiting for a live write slot. */
  private readonly waiting: Batch<T>[] = [];
  /** Batches the disk refused; retried every second, bounded by maxBufferLines. */
  private readonly stuck: Batch<T>[] = [];
  private readonly live = new Set<Promise<void>>();
  private up = true;
  private downSince = 0;
  private closing = false;
  private stopped = false;
  private pendingLines = 0;
  /** Lines ever written to the sink: `mark()`. */
  private added = 0;
  private flushTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private lastSealAt = 0;
  private readonly abort = new AbortController();
  private wake?: () => void;
  private readonly drainer: Promise<void>;
  private readonly drainPoints: number;
  /** The drain goes at drainRatePerSec points, with at most one second of burst. */
  private readonly drainBucket: TokenBucket;
  /** The backlog being written back: since when, and how much so far. */
  private drain?: { since: number; points: number };
  private readonly counts = {
    written: 0,
    rejected: 0,
    spooled: 0,
    drained: 0,
    writeErrors: 0,
    lostToDisk: 0,
  };
  private lastError?: string;
  private diskError?: string;
  private lastDroppedAt = 0;
  /** Repeated log lines of one kind: at most one per LOG_EVERY_MS. */
  private readonly logs = new LogLimiter<LogKind>(LOG_EVERY_MS);

  constructor(
    private readonly writer: InfluxWriter,
    readonly spool: Spool,
    private readonly options: SpoolSinkOptions,
    private readonly log: Logger,
    private readonly onDurable: (tickets: T[]) => void,
  ) {
    this.drainPoints = Math.max(1, Math.min(4 * options.batchSize, options.drainRatePerSec));
    this.drainBucket = new TokenBucket(
      options.drainRatePerSec,
      options.drainRatePerSec,
      performance.now(),
    );
    const { samples, messages } = spool.totals;
    if (messages > 0)
      log.info(
        { points: samples, batches: messages, path: spool.path },
        'the spool holds points from before the restart; they are written as soon as InfluxDB answers',
      );
    this.drainer = this.drainLoop();
  }

  /** Adds lines to the open batch. Lines written during a message (between mark and seal) hold its acknowledgement. */
  write(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const batch = this.open.lines;
    for (const line of lines) batch.push(line);
    this.pendingLines += lines.length;
    this.added += lines.length;
    this.armFlush();
  }

  /** `write` of one line, without an array for it. */
  writeLine(line: string): void {
    this.open.lines.push(line);
    this.pendingLines += 1;
    this.added += 1;
    this.armFlush();
  }

  /** A point waits at most flushIntervalMs in the open batch. */
  private armFlush(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.closeBatch();
    }, this.options.flushIntervalMs);
  }

  /** Where the lines stand before a message is handled; pass it to `seal` afterwards. */
  mark(): number {
    return this.added;
  }

  /**
   * A message is handled. Its ticket is durable at once if it wrote no lines, else when the
   * batch holding its lines is. The batch closes here when it is full, never in the middle of a
   * message, so a message's points are never split between batches.
   */
  seal(ticket: T | undefined, mark: number): void {
    const open = this.open;
    if (ticket !== undefined) {
      if (this.added === mark) this.onDurable([ticket]);
      else open.tickets.push(ticket);
    }
    const { batchSize, maxBatchMessages, idleFlushMs } = this.options;
    if (
      open.lines.length >= batchSize ||
      (maxBatchMessages !== undefined && open.tickets.length >= maxBatchMessages)
    ) {
      this.closeBatch();
    } else if (idleFlushMs !== undefined && open.lines.length > 0) {
      this.lastSealAt = performance.now();
      this.idleTimer ??= setTimeout(() => this.onIdle(idleFlushMs), idleFlushMs);
    }
  }

  /** Closes the open batch and waits until every batch in memory is written or spooled. */
  async flush(): Promise<void> {
    this.closeBatch();
    while (this.waiting.length > 0 || this.live.size > 0) {
      this.pumpLive();
      await Promise.all([...this.live]);
    }
  }

  /** Flushes (a failing write goes to the spool without more retries), stops the drain and closes the spool. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.drainer;
    clearTimeout(this.flushTimer);
    clearTimeout(this.idleTimer);
    this.retryStuck();
    for (const batch of this.stuck.splice(0)) this.lose(batch, 'the gateway is stopping');
    this.spool.close();
  }

  /** Points in memory, not yet written or spooled. */
  get pending(): number {
    return this.pendingLines;
  }

  get stats(): SinkStats {
    const totals = this.spool.totals;
    const dropped = this.spool.dropped;
    const full =
      totals.bytes >= 0.9 * this.options.maxSpoolBytes ||
      (this.lastDroppedAt > 0 && Date.now() - this.lastDroppedAt < FULL_AFTER_DROP_MS);
    let alarm: string | undefined;
    if (this.stuck.length > 0) alarm = this.diskError;
    else if (!this.up && full)
      alarm =
        'InfluxDB is down and the spool is full: the oldest points are being dropped; bring InfluxDB back or raise spool.maxBytes';
    else if (!this.spool.durable) alarm = this.spool.openError;
    return {
      written: this.counts.written,
      dropped: dropped.samples + this.counts.rejected + this.counts.lostToDisk,
      pending: this.pendingLines,
      writeErrors: this.counts.writeErrors,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      rejected: this.counts.rejected,
      influx: this.up ? 'up' : 'down',
      spool: {
        path: this.spool.path,
        durable: this.spool.durable,
        batches: totals.messages,
        points: totals.samples,
        bytes: totals.bytes,
        maxBytes: this.options.maxSpoolBytes,
        spooled: this.counts.spooled,
        drained: this.counts.drained,
        dropped: { batches: dropped.messages, points: dropped.samples },
        full,
      },
      ...(alarm ? { alarm } : {}),
    };
  }

  private onIdle(idleFlushMs: number): void {
    this.idleTimer = undefined;
    if (this.open.lines.length === 0) return;
    const quiet = performance.now() - this.lastSealAt;
    if (quiet >= idleFlushMs - 1) this.closeBatch();
    else this.idleTimer = setTimeout(() => this.onIdle(idleFlushMs), idleFlushMs - quiet);
  }

  private closeBatch(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.idleTimer);
    this.flushTimer = this.idleTimer = undefined;
    const batch = this.open;
    // Tickets are only added with lines, so an empty batch has none.
    if (batch.lines.length === 0) return;
    this.open = { id: 0, lines: [], tickets: [] };
    batch.id = this.spool.nextId();
    if (!this.up) return this.toSpool(batch);
    this.waiting.push(batch);
    this.pumpLive();
    this.bound();
  }

  private pumpLive(): void {
    while (this.up && this.live.size < LIVE_CONCURRENCY && this.waiting.length > 0) {
      const batch = this.waiting.shift()!;
      const write: Promise<void> = this.writeLive(batch).finally(() => {
        this.live.delete(write);
        this.pumpLive();
      });
      this.live.add(write);
    }
  }

  /** InfluxDB slower than the input: the oldest waiting batches go to the spool, so memory stays bounded. */
  private bound(): void {
    if (this.pendingLines <= this.options.maxBufferLines || this.waiting.length === 0) return;
    if (this.due('slow'))
      this.log.warn(
        { pending: this.pendingLines, maxBufferLines: this.options.maxBufferLines },
        'InfluxDB is slower than the incoming points: spooling the oldest batches (they are written back from the spool)',
      );
    while (this.pendingLines > this.options.maxBufferLines && this.waiting.length > 0)
      this.toSpool(this.waiting.shift()!);
  }

  private async writeLive(batch: Batch<T>): Promise<void> {
    const result = await postWithRetry(this.writer, batch.lines.join('\n'), {
      maxRetries: this.options.maxRetries,
      initialDelayMs: LIVE_RETRY_MS,
      maxDelayMs: Math.min(LIVE_RETRY_MAX_MS, this.options.retryMaxMs),
      signal: this.abort.signal,
      giveUp: () => !this.up || this.closing,
      onFailure: (failure, attempt) => this.noteFailure(failure, attempt, batch.lines.length),
    });
    if (result.ok) {
      this.counts.written += batch.lines.length;
      return this.settle(batch);
    }
    if (result.rejected && (await this.writeSplit(batch.lines, result.error)))
      return this.settle(batch);
    // InfluxDB is unreachable (or went away while a refused batch was being split: the halves
    // already written are written again from the spool, which InfluxDB takes as the same points).
    this.markDown(this.lastError ?? result.error);
    this.toSpool(batch);
  }

  /**
   * A body InfluxDB refused: write it in halves, down to the single lines at fault, which are
   * dropped and counted, so one bad point never costs the good ones beside it. False when
   * InfluxDB became unreachable on the way.
   */
  private async writeSplit(lines: string[], error: string): Promise<boolean> {
    if (lines.length === 1) {
      this.counts.rejected += 1;
      const count = this.counts.rejected;
      if (count === 1 || count % 1000 === 0)
        this.log.error(
          { line: lines[0]!.slice(0, 300), err: error, count },
          'InfluxDB refused a point; it is dropped and counted',
        );
      return true;
    }
    const mid = lines.length >> 1;
    for (const half of [lines.slice(0, mid), lines.slice(mid)]) {
      const result = await this.writer.post(half.join('\n'), this.abort.signal);
      if (result.ok) this.counts.written += half.length;
      else if (!result.rejected) {
        this.noteFailure(result, 1, half.length);
        return false;
      } else if (!(await this.writeSplit(half, result.error))) return false;
    }
    return true;
  }

  /** The batch is written (or refused for good) or spooled: acknowledge its messages. */
  private settle(batch: Batch<T>): void {
    this.pendingLines -= batch.lines.length;
    // Also without tickets: the gateway reads on when memory frees up.
    this.onDurable(batch.tickets);
  }

  private toSpool(batch: Batch<T>): void {
    let dropped: QueueTotals;
    try {
      dropped = this.spool.append(batch.id, batch.lines.join('\n'), batch.lines.length);
    } catch (err) {
      this.diskError = `the spool ${this.spool.path} refuses writes (${errorMessage(err)}): batches are kept in memory, up to influx.maxBufferLines points, and retried every second; free disk space or fix permissions`;
      if (this.due('disk')) this.log.error(this.diskError);
      this.stuck.push(batch);
      this.shedStuck();
      return;
    }
    this.counts.spooled += batch.lines.length;
    this.settle(batch);
    if (dropped.messages > 0) this.noteDropped(dropped);
    this.wake?.();
  }

  private retryStuck(): void {
    while (this.stuck.length > 0) {
      const batch = this.stuck[0]!;
      let dropped: QueueTotals;
      try {
        dropped = this.spool.append(batch.id, batch.lines.join('\n'), batch.lines.length);
      } catch {
        return;
      }
      this.stuck.shift();
      this.counts.spooled += batch.lines.length;
      this.settle(batch);
      if (dropped.messages > 0) this.noteDropped(dropped);
    }
    this.diskError = undefined;
  }

  /** Disk refusing and memory full: the oldest batches are lost, counted, and their messages acknowledged. */
  private shedStuck(): void {
    while (this.pendingLines > this.options.maxBufferLines && this.stuck.length > 1)
      this.lose(this.stuck.shift()!, 'the spool refuses writes and memory is full');
  }

  private lose(batch: Batch<T>, why: string): void {
    this.counts.lostToDisk += batch.lines.length;
    this.log.error({ points: batch.lines.length }, `points dropped: ${why}`);
    this.settle(batch);
  }

  private noteDropped(dropped: QueueTotals): void {
    this.lastDroppedAt = Date.now();
    if (!this.due('drop')) return;
    this.log.error(
      {
        batches: dropped.messages,
        points: dropped.samples,
        droppedSinceStart: this.spool.dropped.samples,
        spoolBytes: this.spool.totals.bytes,
        maxBytes: this.options.maxSpoolBytes,
        influx: this.up ? 'up' : 'down',
      },
      'spool full (spool.maxBytes) or too old (spool.maxAgeMs): dropped the oldest points; bring InfluxDB back or raise the limits',
    );
  }

  private noteFailure(result: WriteResult & { ok: false }, attempt: number, points: number): void {
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

  private markDown(error: string): void {
    this.lastError = error;
    if (!this.up) return;
    this.up = false;
    this.downSince = Date.now();
    this.logs.logged('down');
    this.log.warn(
      { err: error, target: this.writer.target, spoolPath: this.spool.path },
      'InfluxDB unreachable: spooling batches to disk until it answers again',
    );
    while (this.waiting.length > 0) this.toSpool(this.waiting.shift()!);
    this.wake?.();
  }

  private markUp(): void {
    if (this.up) return;
    this.up = true;
    this.log.info(
      { downMs: Date.now() - this.downSince, backlog: this.spool.totals.samples },
      'InfluxDB answers again: writing the spool back beside live data',
    );
    this.pumpLive();
  }

  /** Writes the spool back, oldest first; while InfluxDB is down, probes it with the oldest batch. */
  private async drainLoop(): Promise<void> {
    const backoff = new Backoff({ initialMs: DRAIN_RETRY_MS, maxMs: this.options.retryMaxMs });
    let checkedAt = 0;
    while (!this.stopped) {
      try {
        const now = Date.now();
        if (now - checkedAt >= CHECK_MS) {
          checkedAt = now;
          const dropped = this.spool.enforceLimits(now);
          if (dropped.messages > 0) this.noteDropped(dropped);
        }
        this.retryStuck();
        if (this.spool.totals.messages === 0) {
          if (this.drain) {
            this.log.info(
              { points: this.drain.points, ms: Date.now() - this.drain.since },
              'spool drained',
            );
            this.drain = undefined;
          }
          // Nothing left to probe with (the age limit emptied it): the next live batch tells.
          if (!this.up && this.live.size === 0) this.markUp();
          await this.idle(this.stuck.length > 0 ? 1000 : CHECK_MS);
          continue;
        }
        if (!this.up) {
          if (this.due('down'))
            this.log.warn(
              {
                err: this.lastError,
                spoolPoints: this.spool.totals.samples,
                spoolBytes: this.spool.totals.bytes,
                maxBytes: this.options.maxSpoolBytes,
              },
              'InfluxDB still unreachable; spooling',
            );
          await sleep(backoff.nextDelay(), this.abort.signal);
          if (this.stopped) break;
        }
        // Read after the wait: a batch that reached the spool late, during it, goes first.
        const chunk = this.spool.oldest(this.drainPoints);
        if (!chunk) continue;
        const result = await this.writer.post(chunk.body, this.abort.signal);
        let done = result.ok;
        if (result.ok) this.counts.written += chunk.points;
        else {
          this.noteFailure(result, backoff.failures + 1, chunk.points);
          if (result.rejected) done = await this.writeSplit(chunk.body.split('\n'), result.error);
        }
        if (done) {
          this.spool.remove(chunk.ids);
          this.counts.drained += chunk.points;
          this.drain ??= { since: Date.now(), points: 0 };
          this.drain.points += chunk.points;
          backoff.success();
          this.markUp();
          await this.throttle(chunk.points);
        } else if (!this.stopped) this.markDown(this.lastError ?? 'write failed');
      } catch (err) {
        // SQLite refused a read or a delete; the rows stay and are tried again.
        this.lastError = `spool ${this.spool.path}: ${errorMessage(err)}`;
        if (this.due('disk')) this.log.error(this.lastError);
        await sleep(1000, this.abort.signal);
      }
    }
  }

  private async throttle(points: number): Promise<void> {
    const waitMs = this.drainBucket.take(points, performance.now());
    if (waitMs > 0) await sleep(waitMs, this.abort.signal);
  }

  /** Waits `ms`, or until a batch is spooled or the sink closes. */
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private due(kind: LogKind): boolean {
    return this.logs.take(kind).log;
  }
}
