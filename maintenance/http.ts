import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpExchange {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: URL;
  /** Raw body, sent as is (the caller signs or serialises it). */
  body?: string;
  headers?: Record<string, string>;
  /** Longest wait for the TCP (and TLS) connection, ms. */
  connectTimeoutMs: number;
  /** Longest wait for the whole exchange, ms. */
  timeoutMs: number;
  /** Named in the hint of a refused or unreachable connection; default `server`. */
  serverName?: string;
  /** A larger answer fails as `too-large`; default 8 MiB. */
  maxReplyBytes?: number;
  /** Aborting rejects with the signal's reason and closes the connection. */
  signal?: AbortSignal;
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * What went wrong, for callers that map failures onto their own error kinds (the LLM client
 * does not retry a total timeout, the server may still be working on it):
 * `unreachable`: refused, reset or no connection within connectTimeoutMs;
 * `timeout`: no whole answer within timeoutMs; `cut-off`: the answer stopped halfway;
 * `too-large`: the answer exceeded maxReplyBytes.
 */
export type TransportFailure = 'unreachable' | 'timeout' | 'cut-off' | 'too-large';

/**
 * The exchange failed without a status line. `sent` tells whether the whole request had been
 * handed to the network first: for a create, that means the server may have acted on it and the
 * outcome is unknown; before that, nothing reached the server.
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    message: string,
    readonly sent: boolean,
    readonly failure: TransportFailure,
  ) {
    super(message);
  }
}

/** Work-order APIs answer kilobytes; a reply this large is a broken server, not a big page. */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;

/**
 * One HTTP exchange on its own connection, with a connect timeout (a server that is down fails
 * in seconds) and a total timeout (a cold LLM load takes minutes), which fetch() cannot give
 * without undici's own Agent, and the one fact fetch() hides: whether the request was sent
 * before it failed. A new connection per request: CMMS, webhook and LLM calls are seconds apart,
 * and a kept-alive socket the server closed meanwhile would turn a create into an unknown outcome.
 */
export function httpExchange(exchange: HttpExchange): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const { url, signal } = exchange;
    if (signal?.aborted) return reject(signal.reason);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const maxReplyBytes = exchange.maxReplyBytes ?? MAX_REPLY_BYTES;
    const hint = `is the ${exchange.serverName ?? 'server'} running?`;
    let sent = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (err: unknown, reply?: HttpReply) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      signal?.removeEventListener('abort', onAbort);
      if (reply) resolve(reply);
      else reject(err);
    };
    const req = send(url, {
      method: exchange.method,
      agent: false,
      headers: {
        accept: 'application/json',
        ...(exchange.body === undefined
          ? {}
          : {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(exchange.body)),
            }),
        ...exchange.headers,
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
          fail(
            new TransportError(
              `no answer from ${url.origin} within ${exchange.timeoutMs} ms`,
              sent,
              'timeout',
            ),
          ),
        exchange.timeoutMs,
      ),
    );
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(
        () =>
          fail(
            new TransportError(
              `cannot connect to ${url.origin} within ${exchange.connectTimeoutMs} ms; ${hint}`,
              sent,
              'unreachable',
            ),
          ),
        exchange.connectTimeoutMs,
      );
      timers.push(connectTimer);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('finish', () => (sent = true));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const what =
        err.code === 'ECONNREFUSED'
          ? `connection to ${url.origin} refused; ${hint}`
          : `connection to ${url.origin} failed: ${err.code ?? err.message}`;
      finish(new TransportError(what, sent, 'unreachable'));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxReplyBytes)
          return fail(
            new TransportError(
              `answer from ${url.origin} exceeds ${maxReplyBytes} bytes`,
              true,
              'too-large',
            ),
          );
        chunks.push(chunk);
      });
      res.on('error', (err) =>
        finish(
          new TransportError(`answer from ${url.origin} cut off: ${err.message}`, true, 'cut-off'),
        ),
      );
      res.on('aborted', () =>
        finish(new TransportError(`answer from ${url.origin} cut off`, true, 'cut-off')),
      );
      res.on('end', () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(exchange.body);
  });
}

/** Retry-After in seconds or as an HTTP date, ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(
  header: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The body as JSON, or undefined when it is not JSON (an empty body included). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
