import { httpExchange, TransportError, type HttpReply } from '../http.js';
import { LlmBusyError, LlmError } from './errors.js';

export interface HttpCall {
  method: 'GET' | 'POST';
  url: URL;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Longest wait for the TCP (and TLS) connection, ms. */
  connectTimeoutMs: number;
  /** Longest wait for the whole response, ms: a cold model load takes minutes. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A diagnosis is a few kB; a server answering megabytes is broken, not verbose. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * One exchange with the LLM server (the shared httpExchange), its transport failures in the
 * service's terms: the total timeout is LlmError('timeout') (not retried: the server may still
 * be working), an oversized answer LlmError('invalid'), anything else LlmBusyError (retried);
 * an abort rejects with the signal's reason.
 */
export async function httpCall(call: HttpCall): Promise<HttpReply> {
  try {
    return await httpExchange({
      method: call.method,
      url: call.url,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      ...(call.headers ? { headers: call.headers } : {}),
      connectTimeoutMs: call.connectTimeoutMs,
      timeoutMs: call.timeoutMs,
      serverName: 'LLM server',
      maxReplyBytes: MAX_RESPONSE_BYTES,
      ...(call.signal ? { signal: call.signal } : {}),
    });
  } catch (err) {
    if (!(err instanceof TransportError)) throw err;
    if (err.failure === 'timeout') throw new LlmError('timeout', err.message);
    if (err.failure === 'too-large') throw new LlmError('invalid', err.message);
    throw new LlmBusyError(err.message);
  }
}
