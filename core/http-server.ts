import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { listenOn } from './listen.js';

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port (tests); turning the endpoint off is the caller's business. */
  port: number;
  /** Bearer token every request must carry. */
  token?: string;
  /** PEM files; serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Config section named in error messages (`health.port`); default `health`. */
  section?: string;
  /**
   * Also accept the token as `?token=` in the URL: a browser's page, script and EventSource
   * requests cannot carry an Authorization header.
   */
  queryToken?: boolean;
}

/** A GET route beyond /health and /metrics that writes its own response (pages, event streams). */
export type RawRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HealthHandlers {
  /** The health document; `status` other than `ok` answers 503. */
  health: () => object & { status: string };
  metrics: () => Promise<string>;
  metricsContentType: string;
  /** More GET routes by exact path. */
  routes?: Map<string, RawRoute>;
  /** Paths served without the token: static files that hold nothing secret (scripts, styles). */
  publicPaths?: Set<string>;
  /**
   * POST routes by exact path: operator actions. Without a token they are taken only from this
   * machine (loopback), since anyone who reaches the port could otherwise act.
   */
  actions?: Map<string, RawRoute>;
}

export interface HealthServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Server = ReturnType<typeof createHttpServer>;
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A stuck or slow client must not hold a socket of a small edge box for long. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Serves `GET /health` and `GET /metrics` (and any extra routes) with node:http(s) alone: the
 * agent's memory budget has no room for a web framework. The agent and the gateway share it.
 */
export async function startHealthServer(
  options: HealthServerOptions,
  handlers: HealthHandlers,
  log: Logger,
): Promise<HealthServer> {
  const section = options.section ?? 'health';
  const handler = requestHandler(options, handlers, log);
  const server = options.tls
    ? await createTlsServer(options.tls, section, handler)
    : createHttpServer({ requestTimeout: REQUEST_TIMEOUT_MS }, handler);
  const port = await listen(server, options, log);
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${port}`;
  log.info({ url, auth: options.token !== undefined }, 'health endpoint listening');
  return { url, port, close: () => close(server) };
}

async function createTlsServer(
  tls: { cert: string; key: string },
  section: string,
  handler: Handler,
): Promise<Server> {
  const pem = await readTls(tls, section);
  try {
    return createHttpsServer({ ...pem, requestTimeout: REQUEST_TIMEOUT_MS }, handler);
  } catch (err) {
    throw new Error(
      `${section}.tls: cannot serve HTTPS with cert ${tls.cert} and key ${tls.key}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

async function readTls(
  tls: { cert: string; key: string },
  section: string,
): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (field: 'cert' | 'key') => {
    try {
      return await readFile(tls[field]);
    } catch (err) {
      throw new Error(`${section}.tls.${field}: cannot read ${tls[field]}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  };
  return { cert: await read('cert'), key: await read('key') };
}

async function listen(server: Server, options: HealthServerOptions, log: Logger): Promise<number> {
  const port = await listenOn(server, options.port, options.host).catch((err: unknown) => {
    throw listenError(err as NodeJS.ErrnoException, options);
  });
  // Later errors (accept failing on EMFILE) must be logged, not crash the agent.
  server.on('error', (err) => log.error({ err }, 'health endpoint error'));
  return port;
}

function listenError(
  err: NodeJS.ErrnoException,
  { host, port, section = 'health' }: HealthServerOptions,
): Error {
  const message =
    err.code === 'EADDRINUSE'
      ? `port ${port} is in use; set ${section}.port to a free port or 0 to turn the endpoint off`
      : `${section} endpoint cannot listen on ${host}:${port}: ${err.message}`;
  return new Error(message, { cause: err });
}

/** How long requests in progress get to finish when the server closes, ms. */
const CLOSE_GRACE_MS = 1000;

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    // A connection that never sent a request (a browser opens spare ones in advance) is not
    // idle to node:http and would hold the close open until the process is killed: after a
    // grace period for requests in progress, whatever is left is closed.
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    // Keep-alive connections of scrapers would otherwise hold the close open.
    server.closeIdleConnections();
  });
}

function requestHandler(
  options: HealthServerOptions,
  handlers: HealthHandlers,
  log: Logger,
): Handler {
  const { token, queryToken } = options;
  const check = token === undefined ? undefined : bearerCheck(token);
  const authorized = (req: IncomingMessage, query: string | undefined): boolean => {
    if (!check) return true;
    if (check(req.headers.authorization)) return true;
    if (!queryToken || query === undefined) return false;
    const given = new URLSearchParams(query).get('token');
    return given !== null && check(`Bearer ${given}`);
  };
  // A Map, not an object literal: `/__proto__` must be a 404, not a lookup on the prototype.
  const routes = new Map<string, RawRoute>([
    [
      '/health',
      async (_req, res) => {
        const body = handlers.health();
        sendJson(res, body.status === 'ok' ? 200 : 503, body);
      },
    ],
    [
      '/metrics',
      async (_req, res) => send(res, 200, handlers.metricsContentType, await handlers.metrics()),
    ],
    ...(handlers.routes ?? []),
  ]);
  const actions = handlers.actions ?? new Map<string, RawRoute>();
  const known = [...routes.keys(), ...actions.keys()].join(', ');
  return (req, res) => {
    const [path = '/', query] = (req.url ?? '/').split('?', 2);
    if (!handlers.publicPaths?.has(path) && !authorized(req, query)) {
      log.debug({ path, remote: req.socket.remoteAddress }, 'health request without valid token');
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendJson(res, 401, { error: 'missing or wrong bearer token' });
    }
    const action = actions.get(path);
    const route = action ?? routes.get(path);
    if (!route) return sendJson(res, 404, { error: `no route ${path}; try ${known}` });
    const method = action ? 'POST' : 'GET';
    if (req.method !== method) {
      res.setHeader('Allow', method);
      return sendJson(res, 405, { error: `${req.method} not allowed; use ${method}` });
    }
    if (action && !check && !isLoopback(req.socket.remoteAddress))
      return sendJson(res, 403, {
        error: `${path} acts on the gateway: set a token in the ${options.section ?? 'health'} section to accept it from other machines`,
      });
    Promise.resolve()
      .then(() => route(req, res))
      .catch((err: unknown) => {
        log.error({ err, path }, 'health endpoint handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: `${path} failed: ${errorMessage(err)}` });
        else res.end();
      });
  };
}

/**
 * Hashing both sides first gives equal-length inputs, so neither the token nor its length leaks
 * through response timing.
 */
function bearerCheck(token: string): (header: string | undefined) => boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = digest(`Bearer ${token}`);
  return (header) => header !== undefined && timingSafeEqual(digest(header), expected);
}

function isLoopback(address: string | undefined): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address ?? '');
}

/** Largest JSON body an action accepts: operator requests are a few fields. */
const MAX_ACTION_BODY = 64 * 1024;

/** Reads a small JSON object body; throws a message fit for a 400 answer. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ACTION_BODY) throw new Error(`body over ${MAX_ACTION_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new Error(`body is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new Error('body must be a JSON object');
  return body as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: object): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

export function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}
