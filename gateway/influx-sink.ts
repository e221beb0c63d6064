import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import { Backoff, sleep } from '../core/backoff.js';
import { errorMessage } from '../core/errors.js';
import type { InfluxConfig } from './config.js';

/** What one write request came to. */
export type WriteResult =
  | { ok: true }
  /**
   * InfluxDB refused the body itself (a bad line, a field type conflict, too large): sending the
   * same body again cannot succeed. The caller splits it to find the lines at fault.
   */
  | { ok: false; rejected: true; error: string }
  /**
   * InfluxDB unreachable, overloaded, timed out, or refusing this gateway (credentials, unknown
   * database or bucket): the same body may succeed later, once someone fixes it.
   */
  | { ok: false; rejected: false; error: string; retryAfterMs?: number };

/** One InfluxDB write endpoint. Batching, retries and the spool are the caller's. */
export interface InfluxWriter {
  readonly api: 'v1' | 'v2';
  /** Where writes go, without credentials, for logs. */
  readonly target: string;
  /** One request with `body` (line protocol, lines joined by \n, ms precision). Never rejects. */
  post(body: string, signal?: AbortSignal): Promise<WriteResult>;
}

export function createInfluxWriter(config: InfluxConfig): InfluxWriter {
  return config.api === 'v1' ? new InfluxV1Writer(config) : new InfluxV2Writer(config);
}

/**
 * 400 (bad line protocol, field type conflict, InfluxDB 1.x "partial write"), 413 (body too
 * large) and 422 (points outside the retention period) are about the body. Everything else,
 * including 401/403/404 (credentials, unknown database or bucket: an operator fixes those, and
 * the data must survive until then), is worth retrying.
 */
function classify(
  status: number | undefined,
  error: string,
  retryAfter?: string | null,
): WriteResult {
  if (status !== undefined && (status === 400 || status === 413 || status === 422))
    return { ok: false, rejected: true, error };
  const seconds = retryAfter ? Number(retryAfter) : NaN;
  return Number.isFinite(seconds) && seconds > 0
    ? { ok: false, rejected: false, error, retryAfterMs: seconds * 1000 }
    : { ok: false, rejected: false, error };
}

/**
 * A signal for one request: aborted by `parent` or after `timeoutMs`. Its listener on `parent` is
 * removed by `done()`, so a long-lived parent (the sink's) does not collect one per request.
 */
function requestSignal(
  parent: AbortSignal | undefined,
  timeoutMs?: number,
): { signal: AbortSignal; done: () => void } {
  const local = new AbortController();
  const abort = () => local.abort(parent?.reason);
  if (parent?.aborted) abort();
  else parent?.addEventListener('abort', abort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => local.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  return {
    signal: local.signal,
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', abort);
    },
  };
}

/**
 * InfluxDB 2.x write API (also VictoriaMetrics' /api/v2/write) through the official client's
 * transport (token auth, timeouts, its HttpError). Its WriteApi is not used: that keeps its own
 * buffer and retry queue in memory and cannot tell which batch became durable, which the
 * gateway needs before it acknowledges the MQTT messages behind it.
 */
export class InfluxV2Writer implements InfluxWriter {
  readonly api = 'v2';
  readonly target: string;
  private readonly influx: InfluxDB;
  private readonly path: string;

  constructor(config: InfluxConfig) {
    this.influx = new InfluxDB({
      url: config.url,
      token: config.token ?? '',
      timeout: config.timeoutMs,
    });
    this.path = `/api/v2/write?org=${encodeURIComponent(config.org)}&bucket=${encodeURIComponent(config.bucket)}&precision=ms`;
    this.target = `${config.url.replace(/\/$/, '')}/api/v2/write (bucket ${config.bucket})`;
  }

  async post(body: string, signal?: AbortSignal): Promise<WriteResult> {
    // The client's transport adds an abort listener per request and never removes it.
    const request = requestSignal(signal);
    try {
      await this.influx.transport.request(this.path, body, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        signal: request.signal,
      });
      return { ok: true };
    } catch (err) {
      if (err instanceof HttpError) {
        const retryAfter = err.headers?.['retry-after'];
        return classify(
          err.statusCode,
          `HTTP ${err.statusCode} from ${this.target}: ${(err.body ?? err.message).slice(0, 500)}`,
          typeof retryAfter === 'string' ? retryAfter : undefined,
        );
      }
      return classify(undefined, `${this.target}: ${errorMessage(err)}`);
    } finally {
      request.done();
    }
  }
}

/** InfluxDB 1.x `/write` (database + retention policy, user/password); VictoriaMetrics accepts it too. */
export class InfluxV1Writer implements InfluxWriter {
  readonly api = 'v1';
  readonly target: string;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
  };

  constructor(config: InfluxConfig) {
    const url = new URL('write', config.url.endsWith('/') ? config.url : `${config.url}/`);
    url.searchParams.set('db', config.database);
    url.searchParams.set('precision', 'ms');
    if (config.retentionPolicy) url.searchParams.set('rp', config.retentionPolicy);
    this.endpoint = url.toString();
    this.target = `${this.endpoint.split('?')[0]} (database ${config.database})`;
    this.timeoutMs = config.timeoutMs;
    if (config.username) {
      this.headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    }
  }

  async post(body: string, signal?: AbortSignal): Promise<WriteResult> {
    const request = requestSignal(signal, this.timeoutMs);
    try {
      const res = await fetch(this.endpoint, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: request.signal,
      });
      if (res.status === 204 || res.status === 200) {
        await res.body?.cancel();
        return { ok: true };
      }
      const text = (await res.text()).slice(0, 500);
      return classify(
        res.status,
        `HTTP ${res.status} from ${this.target}: ${text}`,
        res.headers.get('retry-after'),
      );
    } catch (err) {
      return classify(undefined, `${this.target}: ${errorMessage(err)}`);
    } finally {
      request.done();
    }
  }
}

export interface RetryOptions {
  /** Attempts after the first. */
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  signal?: AbortSignal;
  /** Checked before each retry: true gives up early (the sink went down, or is closing). */
  giveUp?: () => boolean;
  onFailure?: (result: WriteResult & { ok: false }, attempt: number) => void;
}

/**
 * Posts `body`, retrying failures that may pass later on a capped exponential backoff with 20 %
 * jitter (or the server's Retry-After, when longer), so a fleet of gateways does not hammer a
 * recovering InfluxDB in lockstep. Returns the last result; a rejected body is never retried.
 */
export async function postWithRetry(
  writer: InfluxWriter,
  body: string,
  options: RetryOptions,
): Promise<WriteResult> {
  const backoff = new Backoff({ initialMs: options.initialDelayMs, maxMs: options.maxDelayMs });
  for (let attempt = 1; ; attempt++) {
    const result = await writer.post(body, options.signal);
    if (result.ok) return result;
    options.onFailure?.(result, attempt);
    if (
      result.rejected ||
      attempt > options.maxRetries ||
      options.signal?.aborted ||
      options.giveUp?.()
    )
      return result;
    await sleep(Math.max(backoff.nextDelay(), result.retryAfterMs ?? 0), options.signal);
    if (options.giveUp?.()) return result;
  }
}
