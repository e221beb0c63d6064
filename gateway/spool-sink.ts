import type { QueueTotals } from '../core/durable-queue.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { BatchBuilder, type Batch } from './batch-builder.js';
import { postWithRetry, type InfluxWriter } from './influx-sink.js';
import { SinkReport, type SinkStats } from './sink-report.js';
import { SpoolDrain } from './spool-drain.js';
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

/** Live batches in flight at once. */
const LIVE_CONCURRENCY = 2;
/** First retry delay of a live batch, ms; its retries are capped at LIVE_RETRY_MAX_MS. */
const LIVE_RETRY_MS = 250;
const LIVE_RETRY_MAX_MS = 4000;

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
  private readonly batches: BatchBuilder<T>;
  /** Closed batches waiting for a live write slot. */
  private readonly waiting: Batch<T>[] = [];
  /** Batches the disk refused; retried every second, bounded by maxBufferLines. */
  private readonly stuck: Batch<T>[] = [];
  private readonly live = new Set<Promise<void>>();
  private up = true;
  private downSince = 0;
  private closing = false;
  /** Lines written or spooled (or lost): pending = lines added - settled. */
  private settled = 0;
  private readonly abort = new AbortController();
  private readonly report: SinkReport;
  private readonly drain: SpoolDrain;

  constructor(
    private readonly writer: InfluxWriter,
    readonly spool: Spool,
    private readonly options: SpoolSinkOptions,
    private readonly log: Logger,
    private readonly onDurable: (tickets: T[]) => void,
  ) {
    this.report = new SinkReport(log, spool, options.maxSpoolBytes);
    this.batches = new BatchBuilder<T>(options, onDurable, (batch) => this.closed(batch));
    const { samples, messages } = spool.totals;
    if (messages > 0)
      log.info(
        { points: samples, batches: messages, path: spool.path },
        'the spool holds points from before the restart; they are written as soon as InfluxDB answers',
      );
    this.drain = new SpoolDrain(spool, writer, options, this.report, this.abort.signal, {
      isUp: () => this.up,
      liveWrites: () => this.live.size,
      stuckBatches: () => this.stuck.length,
      retryStuck: () => this.retryStuck(),
      markUp: () => this.markUp(),
      markDown: (error) => this.markDown(error),
      writeSplit: (lines, error) => this.writeSplit(lines, error),
    });
  }

  /** Adds lines to the open batch. Lines written during a message (between mark and seal) hold its acknowledgement. */
  write(lines: readonly string[]): void {
    this.batches.write(lines);
  }

  /** `write` of one line, without an array for it. */
  writeLine(line: string): void {
    this.batches.writeLine(line);
  }

  /** Where the lines stand before a message is handled; pass it to `seal` afterwards. */
  mark(): number {
    return this.batches.added;
  }

  /**
   * A message is handled. Its ticket is durable at once if it wrote no lines, else when the
   * batch holding its lines is. The batch closes here when it is full, never in the middle of a
   * message, so a message's points are never split between batches.
   */
  seal(ticket: T | undefined, mark: number): void {
    this.batches.seal(ticket, mark);
  }

  /** Closes the open batch and waits until every batch in memory is written or spooled. */
  async flush(): Promise<void> {
    this.batches.close();
    while (this.waiting.length > 0 || this.live.size > 0) {
      this.pumpLive();
      await Promise.all([...this.live]);
    }
  }

  /** Flushes (a failing write goes to the spool without more retries), stops the drain and closes the spool. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    this.abort.abort();
    this.drain.wake();
    await this.drain.done;
    this.batches.stop();
    this.retryStuck();
    for (const batch of this.stuck.splice(0)) this.lose(batch, 'the gateway is stopping');
    this.spool.close();
  }

  /** Points in memory, not yet written or spooled. */
  get pending(): number {
    return this.batches.added - this.settled;
  }

  get stats(): SinkStats {
    return this.report.stats({ up: this.up, pending: this.pending, stuck: this.stuck.length > 0 });
  }

  /** The open batch closed: to InfluxDB, or to the spool while InfluxDB is down. */
  private closed(batch: Batch<T>): void {
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
    if (this.pending <= this.options.maxBufferLines || this.waiting.length === 0) return;
    if (this.report.due('slow'))
      this.log.warn(
        { pending: this.pending, maxBufferLines: this.options.maxBufferLines },
        'InfluxDB is slower than the incoming points: spooling the oldest batches (they are written back from the spool)',
      );
    while (this.pending > this.options.maxBufferLines && this.waiting.length > 0)
      this.toSpool(this.waiting.shift()!);
  }

  private async writeLive(batch: Batch<T>): Promise<void> {
    const result = await postWithRetry(this.writer, batch.lines.join('\n'), {
      maxRetries: this.options.maxRetries,
      initialDelayMs: LIVE_RETRY_MS,
      maxDelayMs: Math.min(LIVE_RETRY_MAX_MS, this.options.retryMaxMs),
      signal: this.abort.signal,
      giveUp: () => !this.up || this.closing,
      onFailure: (failure, attempt) =>
        this.report.noteFailure(failure, attempt, batch.lines.length),
    });
    if (result.ok) {
      this.report.counts.written += batch.lines.length;
      return this.settle(batch);
    }
    if (result.rejected && (await this.writeSplit(batch.lines, result.error)))
      return this.settle(batch);
    // InfluxDB is unreachable (or went away while a refused batch was being split: the halves
    // already written are written again from the spool, which InfluxDB takes as the same points).
    this.markDown(this.report.lastError ?? result.error);
    this.toSpool(batch);
  }

  /**
   * A body InfluxDB refused: write it in halves, down to the single lines at fault, which are
   * dropped and counted, so one bad point never costs the good ones beside it. False when
   * InfluxDB became unreachable on the way.
   */
  private async writeSplit(lines: string[], error: string): Promise<boolean> {
    if (lines.length === 1) {
      this.report.noteRejected(lines[0]!, error);
      return true;
    }
    const mid = lines.length >> 1;
    for (const half of [lines.slice(0, mid), lines.slice(mid)]) {
      const result = await this.writer.post(half.join('\n'), this.abort.signal);
      if (result.ok) this.report.counts.written += half.length;
      else if (!result.rejected) {
        this.report.noteFailure(result, 1, half.length);
        return false;
      } else if (!(await this.writeSplit(half, result.error))) return false;
    }
    return true;
  }

  /** The batch is written (or refused for good) or spooled: acknowledge its messages. */
  private settle(batch: Batch<T>): void {
    this.settled += batch.lines.length;
    // Also without tickets: the gateway reads on when memory frees up.
    this.onDurable(batch.tickets);
  }

  private toSpool(batch: Batch<T>): void {
    let dropped: QueueTotals;
    try {
      dropped = this.spool.append(batch.id, batch.lines.join('\n'), batch.lines.length);
    } catch (err) {
      const diskError = `the spool ${this.spool.path} refuses writes (${errorMessage(err)}): batches are kept in memory, up to influx.maxBufferLines points, and retried every second; free disk space or fix permissions`;
      this.report.diskError = diskError;
      if (this.report.due('disk')) this.log.error(diskError);
      this.stuck.push(batch);
      this.shedStuck();
      return;
    }
    this.report.counts.spooled += batch.lines.length;
    this.settle(batch);
    if (dropped.messages > 0) this.report.noteDropped(dropped, this.up);
    this.drain?.wake();
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
      this.report.counts.spooled += batch.lines.length;
      this.settle(batch);
      if (dropped.messages > 0) this.report.noteDropped(dropped, this.up);
    }
    this.report.diskError = undefined;
  }

  /** Disk refusing and memory full: the oldest batches are lost, counted, and their messages acknowledged. */
  private shedStuck(): void {
    while (this.pending > this.options.maxBufferLines && this.stuck.length > 1)
      this.lose(this.stuck.shift()!, 'the spool refuses writes and memory is full');
  }

  private lose(batch: Batch<T>, why: string): void {
    this.report.counts.lostToDisk += batch.lines.length;
    this.log.error({ points: batch.lines.length }, `points dropped: ${why}`);
    this.settle(batch);
  }

  private markDown(error: string): void {
    this.report.lastError = error;
    if (!this.up) return;
    this.up = false;
    this.downSince = Date.now();
    this.report.logged('down');
    this.log.warn(
      { err: error, target: this.writer.target, spoolPath: this.spool.path },
      'InfluxDB unreachable: spooling batches to disk until it answers again',
    );
    while (this.waiting.length > 0) this.toSpool(this.waiting.shift()!);
    this.drain?.wake();
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
}
