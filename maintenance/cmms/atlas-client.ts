import { Backoff, sleep, type BackoffOptions } from '../../core/backoff.js';
import type { Logger } from '../../core/logger.js';
import {
  httpExchange,
  retryAfterMs,
  TransportError,
  type HttpExchange,
  type HttpReply,
} from '../http.js';
import { classifyReply, CmmsError, replyMessage } from './errors.js';
import { DEFAULT_PAGE } from './marker.js';
import type {
  AtlasAssetCreate,
  AtlasAssetMini,
  AtlasAuth,
  AtlasComment,
  AtlasPage,
  AtlasWorkOrder,
  AtlasWorkOrderCreate,
  FilterField,
  SearchPage,
  Status,
} from './types.js';

export interface AtlasClientOptions {
  /** API base URL; paths are appended to it (`http://atlas:8080`, or `https://x/api`). */
  url: string;
  /** Service account. */
  email: string;
  /** Reads the password at each sign-in, so a rotated password file is picked up. */
  password: () => string | Promise<string>;
  /** Longest wait for the connection, ms. */
  connectTimeoutMs: number;
  /** Longest wait for one whole request, ms. */
  timeoutMs: number;
  /** Requests sent per minute at most (Atlas refuses more than 100 per user). */
  requestsPerMinute: number;
  /** 429 answers waited out per request before it fails as transient. */
  maxRateLimitRetries: number;
  /** Waits after a 429 that sent no Retry-After (Atlas sends none). Default 1 s doubling to 30 s. */
  backoff?: Partial<BackoffOptions>;
  /** Refresh the access token this long before its expiry, ms. Default 60 s. */
  refreshMarginMs?: number;
}

export interface AtlasClientStats {
  requests: number;
  signIns: number;
  refreshes: number;
  /** Sign-ins again after the server refused the token. */
  reLogins: number;
  /** 429 answers received. */
  rateLimited: number;
}

interface Session {
  accessToken: string;
  refreshToken?: string;
  /** ms since the epoch; undefined when the server did not say (older Atlas). */
  expiresAt?: number;
}

type Method = HttpExchange['method'];

interface CallOptions {
  /** The request changes state and is not safe to repeat: a lost answer is an unknown outcome. */
  creates?: boolean;
}

/**
 * Atlas CMMS REST client for a service account. Signs in on first use, refreshes the token
 * before it expires when the server gave a refresh token, signs in again when a request is
 * refused for its token (Atlas answers 500 "Expired or invalid JWT token", see errors.ts) and
 * repeats that request once; waits out 429s; paces itself below the server's rate limit.
 * Failures are CmmsErrors whose `kind` says what the caller may do. It never logs the password
 * or a token.
 */
export class AtlasClient {
  readonly stats: AtlasClientStats = {
    requests: 0,
    signIns: 0,
    refreshes: 0,
    reLogins: 0,
    rateLimited: 0,
  };
  private session?: Session;
  private signingIn?: Promise<Session>;
  private readonly base: URL;
  private readonly pacer: Pacer;
  private readonly closed = new AbortController();

  constructor(
    private readonly options: AtlasClientOptions,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.pacer = new Pacer(options.requestsPerMinute);
  }

  /** Signs in now (normally done on first use); throws a CmmsError when refused. */
  async signIn(): Promise<void> {
    this.session = undefined;
    await this.currentSession();
  }

  miniAssets(): Promise<AtlasAssetMini[]> {
    return this.call('GET', 'assets/mini');
  }

  /** The asset with this barcode; undefined when none. Needs an Atlas licence (NFC_BARCODE): 403 without. */
  async assetByBarcode(data: string): Promise<AtlasAssetMini | undefined> {
    try {
      return await this.call<AtlasAssetMini>(
        'GET',
        `assets/barcode?data=${encodeURIComponent(data)}`,
      );
    } catch (err) {
      // Atlas answers a barcode it does not know with Optional.get()'s "No value present" (500).
      if (err instanceof CmmsError && (err.status === 404 || /no value present/i.test(err.message)))
        return undefined;
      throw err;
    }
  }

  createAsset(asset: AtlasAssetCreate): Promise<AtlasAssetMini> {
    return this.call('POST', 'assets', asset, { creates: true });
  }

  createWorkOrder(order: AtlasWorkOrderCreate): Promise<AtlasWorkOrder> {
    return this.call('POST', 'work-orders', order, { creates: true });
  }

  /** One page of work orders matching every filter (the server adds the company's own). */
  searchWorkOrders(
    filterFields: FilterField[],
    page: Partial<SearchPage> = {},
  ): Promise<AtlasPage<AtlasWorkOrder>> {
    return this.call('POST', 'work-orders/search', { filterFields, ...DEFAULT_PAGE, ...page });
  }

  /** Every work order of the asset, whatever its status. */
  workOrdersOfAsset(assetId: number): Promise<AtlasWorkOrder[]> {
    return this.call('GET', `work-orders/asset/${assetId}`);
  }

  getWorkOrder(id: number): Promise<AtlasWorkOrder> {
    return this.call('GET', `work-orders/${id}`);
  }

  /** Setting a status twice leaves it as once, so a lost answer is simply retried. */
  changeStatus(id: number, status: Status, feedback?: string): Promise<AtlasWorkOrder> {
    return this.call('PATCH', `work-orders/${id}/change-status`, {
      status,
      ...(feedback !== undefined ? { feedback } : {}),
    });
  }

  addComment(workOrderId: number, content: string): Promise<AtlasComment> {
    return this.call(
      'POST',
      'comments',
      { workOrder: { id: workOrderId }, content },
      { creates: true },
    );
  }

  /** Comments of a work order, with Atlas's own history entries (`system: true`). */
  comments(workOrderId: number): Promise<AtlasComment[]> {
    return this.call('POST', `comments/search/${workOrderId}`);
  }

  /** Stops waits in progress (rate limit, 429); calls after this fail as transient. */
  close(): void {
    this.closed.abort();
  }

  private async call<T>(
    method: Method,
    path: string,
    body?: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    const what = `${method} /${path.split('?')[0]}`;
    const backoff = new Backoff(
      { initialMs: 1000, maxMs: 30_000, ...this.options.backoff },
      this.random,
    );
    let reLoggedIn = false;
    for (let limited = 0; ;) {
      const session = await this.currentSession();
      const reply = await this.send(method, path, body, session.accessToken, options);
      const verdict = classifyReply(reply.status, reply.text, true);
      if (verdict.kind === 'ok') return parseBody<T>(reply, what);
      if (verdict.kind === 'auth') {
        if (reLoggedIn)
          throw new CmmsError(
            'permanent',
            `${what}: ${reply.status} right after signing in again (${replyMessage(reply.text) ?? 'no message'}); check that ${this.options.email} is an active user with access to work orders`,
            reply.status,
          );
        reLoggedIn = true;
        this.stats.reLogins += 1;
        this.log.info(
          { request: what, status: reply.status },
          'access token refused; signing in again',
        );
        // Renew through the refresh token when there is one, else sign in.
        if (this.session === session) this.session = { ...session, expiresAt: 0 };
        // A bare 500/403 error page is most likely the JWT filter, but could be a proxy in front
        // of a server that did create: let the caller reconcile rather than post again.
        const named = reply.status === 401 || /jwt/i.test(replyMessage(reply.text) ?? '');
        if (options.creates && !named) {
          await this.currentSession();
          throw new CmmsError(
            'unknown-outcome',
            `${what}: ${reply.status} without a message; signed in again, to be reconciled before a new attempt`,
            reply.status,
          );
        }
        continue;
      }
      if (verdict.kind === 'rate-limit') {
        this.stats.rateLimited += 1;
        if (limited >= this.options.maxRateLimitRetries)
          throw new CmmsError(
            'transient',
            `${what}: rate limited (429) ${limited + 1} times in a row; lower cmms.rateLimit.requestsPerMinute`,
            429,
          );
        limited += 1;
        await this.wait(retryAfterMs(reply.headers['retry-after']) ?? backoff.nextDelay());
        continue;
      }
      throw new CmmsError(
        verdict.kind,
        `${what}: ${reply.status} ${replyMessage(reply.text) ?? 'no message'}`,
        reply.status,
        'licence' in verdict ? verdict.licence : false,
      );
    }
  }

  private async send(
    method: Method,
    path: string,
    body: unknown,
    token: string | undefined,
    options: CallOptions,
  ): Promise<HttpReply> {
    await this.pacer.take(this.closed.signal);
    if (this.closed.signal.aborted) throw new CmmsError('transient', 'CMMS client closed');
    this.stats.requests += 1;
    try {
      return await httpExchange({
        method,
        url: new URL(path, this.base),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
        connectTimeoutMs: this.options.connectTimeoutMs,
        timeoutMs: this.options.timeoutMs,
      });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      const what = `${method} /${path.split('?')[0]}`;
      if (err.sent && options.creates)
        throw new CmmsError(
          'unknown-outcome',
          `${what}: sent, but ${err.message}; it may have been applied`,
        );
      throw new CmmsError('transient', `${what}: ${err.message}`);
    }
  }

  /** The session to use now: signs in, or refreshes shortly before expiry, once for all callers. */
  private async currentSession(): Promise<Session> {
    const margin = this.options.refreshMarginMs ?? 60_000;
    const s = this.session;
    if (s && (s.expiresAt === undefined || Date.now() < s.expiresAt - margin)) return s;
    this.signingIn ??= this.renew(s).finally(() => (this.signingIn = undefined));
    return this.signingIn;
  }

  private async renew(old: Session | undefined): Promise<Session> {
    if (old?.refreshToken) {
      try {
        const auth = await this.authRequest('auth/refresh', { refreshToken: old.refreshToken });
        this.stats.refreshes += 1;
        return (this.session = toSession(auth));
      } catch (err) {
        if (!(err instanceof CmmsError) || err.kind !== 'permanent') throw err;
        this.log.info({ status: err.status }, 'refresh token refused; signing in again');
      }
    }
    const password = await this.options.password();
    const auth = await this.authRequest('auth/signin', {
      email: this.options.email,
      password,
      type: 'client',
    });
    this.stats.signIns += 1;
    this.log.info(
      { email: this.options.email, expiresAt: auth.expiresAt ?? null },
      'signed in to Atlas CMMS',
    );
    return (this.session = toSession(auth));
  }

  private async authRequest(path: string, body: object): Promise<AtlasAuth> {
    const backoff = new Backoff(
      { initialMs: 1000, maxMs: 30_000, ...this.options.backoff },
      this.random,
    );
    for (let limited = 0; ; limited++) {
      const reply = await this.send('POST', path, body, undefined, {});
      const verdict = classifyReply(reply.status, reply.text, false);
      if (verdict.kind === 'ok') {
        const auth = parseBody<AtlasAuth>(reply, `POST /${path}`);
        if (typeof auth?.accessToken !== 'string')
          throw new CmmsError(
            'permanent',
            `POST /${path}: the answer has no accessToken; is ${this.base.href} the Atlas API?`,
          );
        return auth;
      }
      if (verdict.kind === 'rate-limit' && limited < this.options.maxRateLimitRetries) {
        this.stats.rateLimited += 1;
        await this.wait(retryAfterMs(reply.headers['retry-after']) ?? backoff.nextDelay());
        continue;
      }
      const message = replyMessage(reply.text) ?? 'no message';
      const kind =
        verdict.kind === 'rate-limit' || verdict.kind === 'transient' ? 'transient' : 'permanent';
      throw new CmmsError(
        kind,
        path === 'auth/signin' && kind === 'permanent'
          ? `sign-in as ${this.options.email} refused (${reply.status} ${message}); check cmms.email and the password file or variable, and that the user is a CLIENT user of the plant's company`
          : `POST /${path}: ${reply.status} ${message}`,
        reply.status,
      );
    }
  }

  private async wait(ms: number): Promise<void> {
    await sleep(ms, this.closed.signal);
    if (this.closed.signal.aborted) throw new CmmsError('transient', 'CMMS client closed');
  }
}

function toSession(auth: AtlasAuth): Session {
  const expiresAt =
    typeof auth.expiresAt === 'number'
      ? auth.expiresAt
      : typeof auth.expiresAt === 'string'
        ? Date.parse(auth.expiresAt)
        : Number.NaN;
  return {
    accessToken: auth.accessToken,
    ...(auth.refreshToken ? { refreshToken: auth.refreshToken } : {}),
    ...(Number.isFinite(expiresAt) ? { expiresAt } : {}),
  };
}

function parseBody<T>(reply: HttpReply, what: string): T {
  if (reply.text === '') return undefined as T;
  try {
    return JSON.parse(reply.text) as T;
  } catch {
    throw new CmmsError(
      'transient',
      `${what}: ${reply.status} with a body that is not JSON; is this the Atlas API?`,
    );
  }
}

/**
 * At most `perMinute` requests in any minute (a sliding window of send times), so a backlog
 * drains just below Atlas's limit instead of collecting 429s.
 */
class Pacer {
  private readonly sent: number[] = [];

  constructor(private readonly perMinute: number) {}

  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.sent.length > 0 && this.sent[0]! <= now - 60_000) this.sent.shift();
      if (this.sent.length < this.perMinute || signal.aborted) {
        this.sent.push(now);
        return;
      }
      await sleep(this.sent[0]! + 60_000 - now, signal);
    }
  }
}
