import { InfluxDB, type WriteApi } from '@influxdata/influxdb-client';
import { Backoff, sleep } from '../core/backoff.js';
import { BoundedQueue } from '../core/bounded-queue.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { InfluxConfig } from './config.js';

export interface SinkStats {
  /** Lines InfluxDB acknowledged. */
  written: number;
  /** Lines given up on: rejected by the server, out of retries, or evicted from a full buffer. */
  dropped: number;
  /** Lines waiting to be written. */
  pending: number;
  writeErrors: number;
  lastError?: string;
}

/** Where the gateway's line-protocol output goes. `close()` flushes what it can. */
export interface LineSink {
  write(lines: string[]): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly stats: SinkStats;
}

export function createInfluxSink(config: InfluxConfig, log: Logger): LineSink {
  return config.api === 'v1' ? new InfluxV1Sink(config, log) : new InfluxV2Sink(config, log);
}

/** InfluxDB 2.x write API (also VictoriaMetrics' /api/v2/write), batched and retried by the official client. */
export class InfluxV2Sink implements LineSink {
  readonly stats: SinkStats = { written: 0, dropped: 0, pending: 0, writeErrors: 0 };
  private readonly api: WriteApi;

  constructor(config: InfluxConfig, log: Logger) {
    const stats = this.stats;
    this.api = new InfluxDB({
      url: config.url,
      token: config.token ?? '',
      timeout: 10_000,
    }).getWriteApi(config.org, config.bucket, 'ms', {
      batchSize: config.batchSize,
      flushInterval: config.flushIntervalMs,
      maxRetries: config.maxRetries,
      maxBufferLines: config.maxBufferLines,
      writeSuccess(lines) {
        stats.written += lines.length;
        stats.pending -= lines.length;
      },
      writeFailed(error, lines, attempt) {
        stats.writeErrors += 1;
        stats.lastError = errorMessage(error);
        log.warn(
          { err: stats.lastError, lines: lines.length, attempt },
          'InfluxDB write failed; check the URL, token, org and bucket',
        );
        if (attempt > config.maxRetries) {
          stats.dropped += lines.length;
          stats.pending -= lines.length;
        }
      },
      writeRetrySkipped(entry) {
        stats.dropped += entry.lines.length;
        stats.pending -= entry.lines.length;
      },
    });
  }

  write(lines: string[]): void {
    this.stats.pending += lines.length;
    this.api.writeRecords(lines);
  }

  async flush(): Promise<void> {
    await this.api.flush().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.api.close().catch(() => undefined);
  }
}

/** Thrown for a response InfluxDB will never accept (bad line, unknown database, auth). */
class RejectedWrite extends Error {}

/**
 * InfluxDB 1.x `/write` (database + retention policy, user/password). One request in flight;
 * a batch goes when it is full or `flushIntervalMs` after its first line.
 */
export class InfluxV1Sink implements LineSink {
  readonly stats: SinkStats = { written: 0, dropped: 0, pending: 0, writeErrors: 0 };
  private readonly buffer: BoundedQueue<string>;
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  private readonly endpoint: string;
  private readonly headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
  };
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private closed = false;
  /** Lines the server refused or that ran out of retries. */
  private rejected = 0;

  constructor(
    private readonly config: InfluxConfig,
    private readonly log: Logger,
  ) {
    this.buffer = new BoundedQueue(config.maxBufferLines);
    const url = new URL('write', config.url.endsWith('/') ? config.url : `${config.url}/`);
    url.searchParams.set('db', config.database);
    url.searchParams.set('precision', 'ms');
    if (config.retentionPolicy) url.searchParams.set('rp', config.retentionPolicy);
    this.endpoint = url.toString();
    if (config.username) {
      this.headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    }
  }

  write(lines: string[]): void {
    for (const line of lines) this.buffer.push(line);
    this.stats.dropped = this.buffer.dropped + this.rejected;
    this.stats.pending = this.buffer.length;
    if (this.buffer.length >= this.config.batchSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.config.flushIntervalMs);
  }

  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.running) {
      this.kick();
      await this.running;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    clearTimeout(this.timer);
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.buffer.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.buffer.length > 0 && !this.closed)
        this.timer ??= setTimeout(() => this.kick(), this.config.flushIntervalMs);
    });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch: string[] = [];
      while (batch.length < this.config.batchSize && this.buffer.length > 0)
        batch.push(this.buffer.shift()!);
      let attempt = 0;
      for (;;) {
        try {
          await this.post(batch.join('\n'));
          this.stats.written += batch.length;
          this.backoff.success();
          delete this.stats.lastError;
          break;
        } catch (err) {
          attempt += 1;
          this.stats.writeErrors += 1;
          this.stats.lastError = errorMessage(err);
          const fatal =
            err instanceof RejectedWrite || attempt > this.config.maxRetries || this.closed;
          this.log.warn(
            { err: this.stats.lastError, lines: batch.length, attempt, dropping: fatal },
            'InfluxDB v1 write failed',
          );
          if (fatal) {
            this.rejected += batch.length;
            break;
          }
          await sleep(this.backoff.nextDelay());
        }
      }
      this.stats.pending = this.buffer.length;
      this.stats.dropped = this.buffer.dropped + this.rejected;
    }
  }

  private async post(body: string): Promise<void> {
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: this.headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status === 204 || res.status === 200) return;
    const text = (await res.text()).slice(0, 500);
    const message = `HTTP ${res.status} from ${this.endpoint.split('?')[0]}: ${text}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 429)
      throw new RejectedWrite(message);
    throw new Error(message);
  }
}
