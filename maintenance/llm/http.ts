import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { LlmBusyError, LlmError } from './errors.js';

export interface HttpCall {
  method: 'GET' | 'POST';
  url: URL;
  body?: unknown;
  headers?: Record<string, string>;
  /** Longest wait for the TCP (and TLS) connection, ms. */
  connectTimeoutMs: number;
  /** Longest wait for the whole response, ms: a cold model load takes minutes. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A diagnosis is a few kB; a server answering megabytes is broken, not verbose. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * One HTTP exchange with two timeouts, which fetch() cannot give without undici's own Agent:
 * a short one for the connection (a server that is down fails in seconds) and a long one for
 * the answer (a model loading from disk). A new connection per request: requests are seconds
 * apart, and a kept-alive socket the server closed meanwhile would fail the next request.
 * Transport failures become LlmBusyError (retry), the total timeout LlmError('timeout');
 * an abort rejects with the signal's reason.
 */
export function httpCall(call: HttpCall): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const { url, signal } = call;
    if (signal?.aborted) return reject(signal.reason);
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (err: unknown, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      signal?.removeEventListener('abort', onAbort);
      if (answer) resolve(answer);
      else reject(err);
    };
    const req = send(url, {
      method: call.method,
      agent: false,
      headers: {
        accept: 'application/json',
        ...(payload === undefined
          ? {}
          : {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(payload)),
            }),
        ...call.headers,
      },
    });
    const fail = (err: unknown) => {
      finish(err);
      req.destroy();
    };
    const onAbort = () => fail(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    timers.push(
      setTimeout(
        () =>
          fail(new LlmError('timeout', `no answer from ${url.origin} within ${call.timeoutMs} ms`)),
        call.timeoutMs,
      ),
    );
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(
        () =>
          fail(
            new LlmBusyError(
              `cannot connect to ${url.origin} within ${call.connectTimeoutMs} ms; is the LLM server running?`,
            ),
          ),
        call.connectTimeoutMs,
      );
      timers.push(connectTimer);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const what =
        err.code === 'ECONNREFUSED'
          ? `connection to ${url.origin} refused; is the LLM server running?`
          : `connection to ${url.origin} failed: ${err.code ?? err.message}`;
      finish(new LlmBusyError(what));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES)
          return fail(
            new LlmError(
              'invalid',
              `answer from ${url.origin} exceeds ${MAX_RESPONSE_BYTES} bytes`,
            ),
          );
        chunks.push(chunk);
      });
      res.on('error', (err) =>
        finish(new LlmBusyError(`answer from ${url.origin} cut off: ${err.message}`)),
      );
      res.on('aborted', () => finish(new LlmBusyError(`answer from ${url.origin} cut off`)));
      res.on('end', () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(payload);
  });
}

/** Retry-After in seconds or as an HTTP date, ms; undefined when absent or unreadable. */
export function retryAfterMs(
  header: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The body as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
