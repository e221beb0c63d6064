import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { httpExchange, TransportError } from '../http.js';
import type { ActionTarget, CmmsAction } from './actions.js';
import { CmmsError, replyMessage } from './errors.js';

/** `sha256=<hex HMAC-SHA256 of the raw body>`. */
export const SIGNATURE_HEADER = 'X-FactoryLM-Signature';
/** ms since the epoch when this attempt was sent; the body's `sentAt` (signed) says the same. */
export const TIMESTAMP_HEADER = 'X-FactoryLM-Timestamp';
/** Same for every attempt of one action: receivers drop repeats by it. */
export const DELIVERY_HEADER = 'X-FactoryLM-Delivery';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Checks a signature header against the raw body, in constant time. */
export function verifySignature(body: string, header: string | undefined, secret: string): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** What a webhook receives: the action's fields plus these. */
export interface WebhookBody extends Record<string, unknown> {
  type: CmmsAction['type'];
  key: string;
  at: number;
  /** Stable id of this action (hex): the same on every retry. */
  delivery: string;
  /** When this attempt was sent, ms since the epoch. */
  sentAt: number;
  /** Which gateway sent it. */
  source: string;
}

export interface WebhookTargetOptions {
  url: string;
  /** Reads the signing secret (once, on first delivery). */
  secret: () => string | Promise<string>;
  connectTimeoutMs: number;
  timeoutMs: number;
  /** Gateway name, in every body. */
  source: string;
}

/**
 * POSTs each action as JSON to an HTTP flow (n8n or any), signed with HMAC-SHA256. 2xx is
 * delivered; 408, 429, 5xx and no answer are retried (the delivery id lets the receiver drop a
 * repeat); other 4xx are permanent: the receiver refuses this action, so it is parked.
 */
export class WebhookTarget implements ActionTarget {
  readonly name = 'webhook';
  private secret?: string;
  private readonly url: URL;

  constructor(private readonly options: WebhookTargetOptions) {
    this.url = new URL(options.url);
  }

  async apply(action: CmmsAction): Promise<void> {
    this.secret ??= await this.options.secret();
    const sentAt = Date.now();
    const payload: WebhookBody = {
      ...action,
      delivery: createHash('sha256').update(JSON.stringify(action)).digest('hex').slice(0, 32),
      sentAt,
      source: this.options.source,
    };
    const body = JSON.stringify(payload);
    let status: number;
    let text: string;
    try {
      ({ status, text } = await httpExchange({
        method: 'POST',
        url: this.url,
        body,
        headers: {
          [SIGNATURE_HEADER]: signBody(body, this.secret),
          [TIMESTAMP_HEADER]: String(sentAt),
          [DELIVERY_HEADER]: payload.delivery,
          'user-agent': 'factorylm-edge',
        },
        connectTimeoutMs: this.options.connectTimeoutMs,
        timeoutMs: this.options.timeoutMs,
      }));
    } catch (err) {
      if (err instanceof TransportError)
        throw new CmmsError('transient', `webhook ${this.url.origin}: ${err.message}`);
      throw err;
    }
    if (status >= 200 && status < 300) return;
    const message = `webhook ${this.url.origin}${this.url.pathname}: ${status} ${replyMessage(text) ?? text.slice(0, 200)}`;
    throw new CmmsError(
      status === 408 || status === 429 || status >= 500 ? 'transient' : 'permanent',
      message,
      status,
    );
  }
}
