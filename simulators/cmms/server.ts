import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../core/logger.js';
import { listenOn } from '../../core/listen.js';
import { JwtIssuer } from './jwt.js';
import {
  AtlasModel,
  SimError,
  type SimAsset,
  type SimComment,
  type SimUser,
  type SimWorkOrder,
} from './model.js';

/** Faults and limits, set by flags and the control API. */
export interface CmmsFaults {
  /** `refuse`: nothing listens (connection refused); `503`: every request answered 503. */
  down: false | 'refuse' | '503';
  /** Added before every answer, ms. */
  delayMs: number;
  /** Creates (work orders) whose answer waits this long, after the order is saved, ms. */
  createDelayMs: number;
  /** The next N work-order creates are saved, then their connection is destroyed unanswered. */
  dropAfterCreate: number;
  /** Requests per minute per user (Atlas: 100); beyond, 429. */
  rateLimitPerMinute: number;
  /** Sign-in requests per minute per client address (Atlas: 20). */
  signInPerMinute: number;
  /** Length of the rate-limit window, ms (Atlas: one minute); tests shorten it. */
  rateWindowMs: number;
  /** Lifetime of access tokens, ms (Atlas default 30 min). */
  tokenLifetimeMs: number;
  /**
   * How a refused token is answered: `spring`, the servlet error page Atlas's JWT filter
   * produces (500, `{timestamp, status, error, path}`, no message); `message`, 500
   * `{success:false, message:"Expired or invalid JWT token"}`.
   */
  authErrorStyle: 'spring' | 'message';
}

export const DEFAULT_FAULTS: CmmsFaults = {
  down: false,
  delayMs: 0,
  createDelayMs: 0,
  dropAfterCreate: 0,
  rateLimitPerMinute: 100,
  signInPerMinute: 20,
  rateWindowMs: 60_000,
  tokenLifetimeMs: 30 * 60_000,
  authErrorStyle: 'spring',
};

export interface CmmsSimulatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  users: { email: string; password: string }[];
  /** Assets created in every company at start. */
  seedAssets: string[];
  faults?: Partial<CmmsFaults>;
}

export interface SimStats {
  requests: number;
  byRoute: Record<string, number>;
  signIns: number;
  refreshes: number;
  authRefused: number;
  rateLimited: number;
  refusedWhileDown: number;
  createsDropped: number;
}

type Handler = (ctx: Ctx) => unknown;
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  user: SimUser;
  body: Record<string, unknown>;
  params: string[];
  query: URLSearchParams;
}

/** Most bytes of a request body: a work order is a few kB. */
const MAX_BODY = 1024 * 1024;

/**
 * A simulated Atlas CMMS API: the endpoints, JSON shapes, errors and limits of Grashjs/cmms
 * (see maintenance/cmms/README.md), in memory, with faults for tests.
 */
export class CmmsSimulator {
  readonly model = new AtlasModel();
  faults: CmmsFaults;
  readonly stats: SimStats = {
    requests: 0,
    byRoute: {},
    signIns: 0,
    refreshes: 0,
    authRefused: 0,
    rateLimited: 0,
    refusedWhileDown: 0,
    createsDropped: 0,
  };
  private readonly jwt = new JwtIssuer();
  private readonly refreshTokens = new Map<string, { userId: number; expiresAt: number }>();
  /** Tokens issued before this instant are refused (the "expire all tokens now" fault). */
  private revokedBefore = 0;
  private readonly windows = new Map<string, number[]>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private readonly routes: [string, RegExp, Handler, boolean][];

  constructor(
    private readonly options: CmmsSimulatorOptions,
    private readonly log: Logger,
  ) {
    this.faults = { ...DEFAULT_FAULTS, ...options.faults };
    for (const u of options.users) this.model.addUser(u.email, u.password);
    for (const companyUser of new Map(this.model.users.map((u) => [u.companyId, u])).values())
      for (const name of options.seedAssets) this.model.createAsset(companyUser, { name });
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // [method, pattern, handler, creates]
    this.routes = [
      [
        'GET',
        /^\/assets\/mini$/,
        ({ user }) => this.model.assetsOf(user.companyId).map(assetMini),
        false,
      ],
      [
        'GET',
        /^\/assets\/barcode$/,
        ({ user, query }) => assetMini(this.model.assetByBarcode(user, query.get('data') ?? '')),
        false,
      ],
      [
        'POST',
        /^\/assets$/,
        ({ user, body }) => assetShow(this.model.createAsset(user, body)),
        false,
      ],
      [
        'POST',
        /^\/work-orders\/search$/,
        ({ user, body }) => this.page(this.model.search(user, body)),
        false,
      ],
      [
        'GET',
        /^\/work-orders\/asset\/(\d+)$/,
        ({ user, params }) =>
          this.model.ordersOfAsset(user, Number(params[0])).map((o) => this.show(o)),
        false,
      ],
      [
        'GET',
        /^\/work-orders\/(\d+)$/,
        ({ user, params }) => this.show(this.model.order(user, Number(params[0]))),
        false,
      ],
      [
        'POST',
        /^\/work-orders$/,
        ({ user, body }) => this.show(this.model.createWorkOrder(user, body)),
        true,
      ],
      [
        'PATCH',
        /^\/work-orders\/(\d+)\/change-status$/,
        ({ user, body, params }) =>
          this.show(this.model.changeStatus(user, Number(params[0]), body)),
        false,
      ],
      [
        'POST',
        /^\/comments$/,
        ({ user, body }) => commentShow(this.model.addComment(user, body)),
        false,
      ],
      [
        'POST',
        /^\/comments\/search\/(\d+)$/,
        ({ user, params }) => this.model.commentsOf(user, Number(params[0])).map(commentShow),
        false,
      ],
    ];
  }

  async start(): Promise<number> {
    this.port = await this.listen(this.options.port);
    return this.port;
  }

  get url(): string {
    return `http://${this.options.host}:${this.port}`;
  }

  /** Applies new faults; `down: 'refuse'` closes the port (and every connection), lifting it reopens it. */
  async setFaults(patch: Partial<CmmsFaults>): Promise<CmmsFaults> {
    const wasRefusing = this.faults.down === 'refuse';
    this.faults = { ...this.faults, ...patch };
    const refusing = this.faults.down === 'refuse';
    if (refusing && !wasRefusing) await this.closeServer();
    if (!refusing && wasRefusing) await this.listen(this.port);
    return this.faults;
  }

  /** Every access token issued until now is refused from now on. */
  expireTokens(alsoRefresh: boolean): void {
    this.revokedBefore = Date.now() + 1;
    if (alsoRefresh) this.refreshTokens.clear();
  }

  /** Everything, for tests: per company, its users, assets and orders with their comments. */
  state(): object {
    return [...this.model.companies].map(([domain, companyId]) => ({
      company: domain,
      users: this.model.users.filter((u) => u.companyId === companyId).map((u) => u.email),
      assets: this.model.assetsOf(companyId).map(assetShow),
      orders: this.model.orders
        .filter((o) => o.companyId === companyId)
        .map((o) => ({
          ...this.show(o),
          comments: this.model.comments.filter((c) => c.workOrderId === o.id).map(commentShow),
        })),
    }));
  }

  async stop(): Promise<void> {
    if (this.faults.down !== 'refuse') await this.closeServer();
  }

  private listen(port: number): Promise<number> {
    return listenOn(this.server, port, this.options.host);
  }

  private closeServer(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      this.route(req, res, Buffer.concat(chunks).toString('utf8'), size > MAX_BODY).catch(
        (err: unknown) => {
          this.log.error({ err: String(err) }, 'simulator handler failed');
          if (!res.headersSent) reply(res, 500, { success: false, message: String(err) });
        },
      );
    });
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    text: string,
    tooLarge: boolean,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    this.stats.requests += 1;
    const route = `${method} ${url.pathname.replace(/\/\d+/g, '/{id}')}`;
    this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
    if (this.faults.delayMs > 0) await delay(this.faults.delayMs);
    if (this.faults.down === '503') {
      this.stats.refusedWhileDown += 1;
      return reply(res, 503, {
        timestamp: new Date().toISOString(),
        status: 503,
        error: 'Service Unavailable',
        path: url.pathname,
      });
    }
    if (tooLarge) return reply(res, 413, { success: false, message: 'Request body too large' });
    let body: Record<string, unknown> = {};
    if (text !== '') {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return reply(res, 400, { success: false, message: 'JSON parse error' });
      }
    }
    if (method === 'POST' && url.pathname === '/auth/signin') return this.signIn(req, res, body);
    if (method === 'POST' && url.pathname === '/auth/refresh') return this.refresh(req, res, body);
    // Atlas's filter order: the JWT filter answers before the rate limit is counted.
    const user = this.authenticate(req);
    if (user === 'refused') {
      this.stats.authRefused += 1;
      return this.faults.authErrorStyle === 'message'
        ? reply(res, 500, { success: false, message: 'Expired or invalid JWT token' })
        : reply(res, 500, {
            timestamp: new Date().toISOString(),
            status: 500,
            error: 'Internal Server Error',
            path: url.pathname,
          });
    }
    if (!user)
      return reply(res, 403, {
        timestamp: new Date().toISOString(),
        status: 403,
        error: 'Forbidden',
        path: url.pathname,
      });
    if (!this.allow(`user:${user.id}`, this.faults.rateLimitPerMinute)) return this.tooMany(res);
    for (const [m, pattern, handler, creates] of this.routes) {
      const match = m === method ? pattern.exec(url.pathname) : null;
      if (!match) continue;
      let result: unknown;
      try {
        result = handler({ req, res, user, body, params: match.slice(1), query: url.searchParams });
      } catch (err) {
        if (err instanceof SimError)
          return reply(res, err.status, { success: false, message: err.message });
        throw err;
      }
      if (creates && this.faults.dropAfterCreate > 0) {
        this.faults.dropAfterCreate -= 1;
        this.stats.createsDropped += 1;
        req.socket.destroy();
        return;
      }
      if (creates && this.faults.createDelayMs > 0) await delay(this.faults.createDelayMs);
      return reply(res, 200, result);
    }
    return reply(res, 404, {
      timestamp: new Date().toISOString(),
      status: 404,
      error: 'Not Found',
      path: url.pathname,
    });
  }

  private signIn(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    if (!this.allow(`ip:${req.socket.remoteAddress}`, this.faults.signInPerMinute))
      return this.tooMany(res);
    if (typeof body.email !== 'string' || typeof body.password !== 'string')
      return reply(res, 400, { success: false, message: 'email and password must not be null' });
    const user = this.model.signIn(body.email, body.password);
    const type = typeof body.type === 'string' ? body.type.toUpperCase() : 'CLIENT';
    if (!user || type !== 'CLIENT')
      return reply(res, 403, { success: false, message: 'Invalid credentials' });
    this.stats.signIns += 1;
    reply(res, 200, this.tokens(user));
  }

  private refresh(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    if (!this.allow(`ip:${req.socket.remoteAddress}`, this.faults.signInPerMinute))
      return this.tooMany(res);
    const old =
      typeof body.refreshToken === 'string' ? this.refreshTokens.get(body.refreshToken) : undefined;
    if (!old) return reply(res, 401, { success: false, message: 'Invalid refresh token' });
    this.refreshTokens.delete(body.refreshToken as string);
    if (old.expiresAt < Date.now())
      return reply(res, 401, {
        success: false,
        message: 'Refresh token expired. Please sign in again',
      });
    const user = this.model.users.find((u) => u.id === old.userId)!;
    this.stats.refreshes += 1;
    reply(res, 200, this.tokens(user));
  }

  private tokens(user: SimUser): object {
    const now = Date.now();
    const refreshToken = randomBytes(24).toString('hex');
    this.refreshTokens.set(refreshToken, { userId: user.id, expiresAt: now + 7 * 24 * 3600_000 });
    return {
      accessToken: this.jwt.issue(user.email, this.faults.tokenLifetimeMs, now),
      refreshToken,
      tokenType: 'Bearer',
      expiresAt: new Date(now + this.faults.tokenLifetimeMs).toISOString(),
    };
  }

  private authenticate(req: IncomingMessage): SimUser | 'refused' | undefined {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return undefined;
    const claims = this.jwt.verify(header.slice(7));
    if (!claims || claims.issuedAt < this.revokedBefore) return 'refused';
    return this.model.userByEmail(claims.email) ?? 'refused';
  }

  /** A sliding window per key (one minute unless rateWindowMs says otherwise). */
  private allow(key: string, perMinute: number): boolean {
    const now = Date.now();
    const window = (this.windows.get(key) ?? []).filter((t) => t > now - this.faults.rateWindowMs);
    this.windows.set(key, window);
    if (window.length >= perMinute) return false;
    window.push(now);
    return true;
  }

  private tooMany(res: ServerResponse): void {
    this.stats.rateLimited += 1;
    // RateLimitFilter's body, and no Retry-After header, as Atlas sends it.
    reply(res, 429, {
      error: 'Rate limit exceeded',
      message: 'Too many requests. Please try again later.',
    });
  }

  private page(result: ReturnType<AtlasModel['search']>): object {
    const { content, totalElements, pageNum, pageSize } = result;
    const totalPages = Math.ceil(totalElements / Math.max(1, pageSize));
    return {
      content: content.map((o) => this.show(o)),
      totalElements,
      totalPages,
      number: pageNum,
      size: pageSize,
      numberOfElements: content.length,
      first: pageNum === 0,
      last: pageNum >= totalPages - 1,
      empty: content.length === 0,
    };
  }

  private show(o: SimWorkOrder): object {
    const asset = o.assetId === null ? null : this.model.assets.find((a) => a.id === o.assetId);
    return {
      id: o.id,
      customId: o.customId,
      title: o.title,
      description: o.description,
      priority: o.priority,
      status: o.status,
      dueDate: o.dueDate,
      asset: asset ? assetMini(asset) : null,
      feedback: o.feedback,
      archived: false,
      completedOn: o.completedOn,
      createdAt: o.createdAt,
      updatedAt: o.updatedAt,
    };
  }
}

function assetMini(a: SimAsset): object {
  return { id: a.id, name: a.name, customId: a.customId, parentId: null, locationId: null };
}

function assetShow(a: SimAsset): object {
  return {
    ...assetMini(a),
    status: a.status,
    barCode: a.barCode ?? null,
    description: a.description ?? null,
  };
}

function commentShow(c: SimComment): object {
  return {
    id: c.id,
    content: c.content,
    system: false,
    createdAt: c.createdAt,
    user: { id: c.userId },
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
