import { Backoff, sleep } from '../core/backoff.js';
import { errorMessage } from '../core/errors.js';
import { TokenBucket } from '../core/token-bucket.js';
import type { InfluxWriter } from './influx-sink.js';
import type { SinkReport } from './sink-report.js';
import type { Spool } from './spool.js';

/** First wait before probing InfluxDB again from the spool, ms (doubling to retryMaxMs). */
const DRAIN_RETRY_MS = 500;
/** How often the age limit is applied and a down InfluxDB is reported again, ms. */
const CHECK_MS = 10_000;

export interface DrainOptions {
  /** Points per live write request; the drain reads up to four times this. */
  batchSize: number;
  /** Points per second written from the spool, beside live batches. */
  drainRatePerSec: number;
  /** Longest wait between attempts to reach InfluxDB while it is down, ms. */
  retryMaxMs: number;
  maxSpoolBytes: number;
}

/** What the drain asks of the sink around it. */
export interface DrainHost {
  isUp(): boolean;
  /** Live write requests in flight. */
  liveWrites(): number;
  /** Batches the disk refused, waiting in memory. */
  stuckBatches(): number;
  /** Tries the batches the disk refused again. */
  retryStuck(): void;
  markUp(): void;
  markDown(error: string): void;
  /** Writes a body InfluxDB refused in halves; false when InfluxDB became unreachable. */
  writeSplit(lines: string[], error: string): Promise<boolean>;
}

/**
 * Writes the spool back to InfluxDB, oldest first, at drainRatePerSec; while InfluxDB is down it
 * probes with the oldest batch on a capped, jittered backoff. Every CHECK_MS it applies the
 * spool's age limit. Runs from construction until `signal` aborts; `done` settles then.
 */
export class SpoolDrain {
  readonly done: Promise<void>;
  private wakeUp?: () => void;
  private readonly points: number;
  /** The drain goes at drainRatePerSec points, with at most one second of burst. */
  private readonly bucket: TokenBucket;
  /** The backlog being written back: since when, and how much so far. */
  private drain?: { since: number; points: number };

  constructor(
    private readonly spool: Spool,
    private readonly writer: InfluxWriter,
    private readonly options: DrainOptions,
    private readonly report: SinkReport,
    private readonly signal: AbortSignal,
    private readonly host: DrainHost,
  ) {
    this.points = Math.max(1, Math.min(4 * options.batchSize, options.drainRatePerSec));
    this.bucket = new TokenBucket(
      options.drainRatePerSec,
      options.drainRatePerSec,
      performance.now(),
    );
    this.done = this.loop();
  }

  /** Ends an idle wait: a batch was spooled, or the sink closes. */
  wake(): void {
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    const { spool, report, host, signal } = this;
    const log = report.log;
    const backoff = new Backoff({ initialMs: DRAIN_RETRY_MS, maxMs: this.options.retryMaxMs });
    let checkedAt = 0;
    while (!signal.aborted) {
      try {
        const now = Date.now();
        if (now - checkedAt >= CHECK_MS) {
          checkedAt = now;
          const dropped = spool.enforceLimits(now);
          if (dropped.messages > 0) report.noteDropped(dropped, host.isUp());
        }
        host.retryStuck();
        if (spool.totals.messages === 0) {
          if (this.drain) {
            log.info(
              { points: this.drain.points, ms: Date.now() - this.drain.since },
              'spool drained',
            );
            this.drain = undefined;
          }
          // Nothing left to probe with (the age limit emptied it): the next live batch tells.
          if (!host.isUp() && host.liveWrites() === 0) host.markUp();
          await this.idle(host.stuckBatches() > 0 ? 1000 : CHECK_MS);
          continue;
        }
        if (!host.isUp()) {
          if (report.due('down'))
            log.warn(
              {
                err: report.lastError,
                spoolPoints: spool.totals.samples,
                spoolBytes: spool.totals.bytes,
                maxBytes: this.options.maxSpoolBytes,
              },
              'InfluxDB still unreachable; spooling',
            );
          await sleep(backoff.nextDelay(), signal);
          if (signal.aborted) break;
        }
        // Read after the wait: a batch that reached the spool late, during it, goes first.
        const chunk = spool.oldest(this.points);
        if (!chunk) continue;
        const result = await this.writer.post(chunk.body, signal);
        let done = result.ok;
        if (result.ok) report.counts.written += chunk.points;
        else {
          report.noteFailure(result, backoff.failures + 1, chunk.points);
          if (result.rejected) done = await host.writeSplit(chunk.body.split('\n'), result.error);
        }
        if (done) {
          spool.remove(chunk.ids);
          report.counts.drained += chunk.points;
          this.drain ??= { since: Date.now(), points: 0 };
          this.drain.points += chunk.points;
          backoff.success();
          host.markUp();
          await this.throttle(chunk.points);
        } else if (!signal.aborted) host.markDown(report.lastError ?? 'write failed');
      } catch (err) {
        // SQLite refused a read or a delete; the rows stay and are tried again.
        report.lastError = `spool ${spool.path}: ${errorMessage(err)}`;
        if (report.due('disk')) log.error(report.lastError);
        await sleep(1000, signal);
      }
    }
  }

  private async throttle(points: number): Promise<void> {
    const waitMs = this.bucket.take(points, performance.now());
    if (waitMs > 0) await sleep(waitMs, this.signal);
  }

  /** Waits `ms`, or until `wake`. */
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}
