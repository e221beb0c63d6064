import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from './logger.js';
import {
  startHealthServer,
  type HealthHandlers,
  type HealthServer,
  type HealthServerOptions,
  type RawRoute,
} from './http-server.js';

const METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const TOKEN = 'an-unguessable-token-0123456789';

const servers: HealthServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(
  handlers: Partial<HealthHandlers> = {},
  options: Partial<HealthServerOptions> = {},
  log: Logger = silentLogger,
): Promise<HealthServer> {
  const server = await startHealthServer(
    { host: '127.0.0.1', port: 0, ...options },
    {
      health: () => ({ status: 'ok', node: 'edge-7' }),
      metrics: async () => 'factorylm_agent_samples_read_total 42\n',
      metricsContentType: METRICS_TYPE,
      ...handlers,
    },
    log,
  );
  servers.push(server);
  return server;
}

function capturingLogger() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return { log, lines };
}

describe('startHealthServer over HTTP', () => {
  it('answers GET /health with the document and 200 when ok', async () => {
    const server = await start();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ status: 'ok', node: 'edge-7' });
  });

  it.each(['degraded', 'down'])('answers 503 when the status is %s', async (status) => {
    const reasons = ['event-loop lag p99 812 ms > 500 ms'];
    const server = await start({ health: () => ({ status, reasons }) });
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status, reasons });
  });

  it('ignores a query string', async () => {
    const server = await start();
    expect((await fetch(`${server.url}/health?verbose=1`)).status).toBe(200);
  });

  it('answers GET /metrics with the Prometheus text and content type', async () => {
    const server = await start();
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(METRICS_TYPE);
    expect(await res.text()).toBe('factorylm_agent_samples_read_total 42\n');
  });

  it.each(['/', '/nope', '/health/x', '/__proto__', '/constructor'])(
    'answers 404 with a JSON error for %s',
    async (path) => {
      const server = await start();
      const res = await fetch(server.url + path);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: `no route ${path}; try /health, /metrics` });
    },
  );

  it.each(['POST', 'PUT', 'DELETE', 'HEAD'])(
    'answers %s with 405 and Allow: GET',
    async (method) => {
      const server = await start();
      const res = await fetch(`${server.url}/health`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET');
    },
  );

  it('answers 500 with a JSON error when a handler throws, logs it, and keeps serving', async () => {
    const { log, lines } = capturingLogger();
    let broken = true;
    const server = await start(
      {
        health: () => {
          if (broken) throw new Error('snapshot unavailable');
          return { status: 'ok' };
        },
        metrics: () => Promise.reject(new Error('registry exploded')),
      },
      {},
      log,
    );
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(500);
    expect(await health.json()).toEqual({ error: '/health failed: snapshot unavailable' });
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(500);
    expect(await metrics.json()).toEqual({ error: '/metrics failed: registry exploded' });

    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 50);
    expect(errors.map((e) => [e.msg, e.path, e.err.message])).toEqual([
      ['health endpoint handler failed', '/health', 'snapshot unavailable'],
      ['health endpoint handler failed', '/metrics', 'registry exploded'],
    ]);

    broken = false;
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('refuses to start on a port in use, saying what to do', async () => {
    const first = await start();
    await expect(start({}, { port: first.port })).rejects.toThrow(
      `port ${first.port} is in use; set health.port to a free port or 0 to turn the endpoint off`,
    );
    expect((await fetch(`${first.url}/health`)).status).toBe(200);
  });

  it('stops answering once closed', async () => {
    const server = await startHealthServer(
      { host: '127.0.0.1', port: 0 },
      { health: () => ({ status: 'ok' }), metrics: async () => '', metricsContentType: 'x' },
      silentLogger,
    );
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    await server.close();
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  it('closes even while a client holds a connection open without a request', async () => {
    const server = await startHealthServer(
      { host: '127.0.0.1', port: 0 },
      { health: () => ({ status: 'ok' }), metrics: async () => '', metricsContentType: 'x' },
      silentLogger,
    );
    // What a browser's speculative connection looks like: connected, nothing sent yet.
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const closedByServer = new Promise((resolve) => socket.once('close', resolve));
    const outcome = await Promise.race([
      server.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000)),
    ]);
    expect(outcome).toBe('closed');
    await closedByServer;
  });
});

describe('startHealthServer with a bearer token', () => {
  const auth = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', auth('an-unguessable-token-0123456780')],
    ['a token of another length', auth('short')],
    ['another scheme', { headers: { Authorization: `Basic ${TOKEN}` } }],
  ])('answers 401 to a request with %s', async (_what, init) => {
    const server = await start({}, { token: TOKEN });
    for (const path of ['/health', '/metrics', '/nope']) {
      const res = await fetch(server.url + path, init);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toEqual({ error: 'missing or wrong bearer token' });
    }
  });

  it('serves a request with the token and never logs it', async () => {
    const { log, lines } = capturingLogger();
    const server = await start({}, { token: TOKEN }, log);
    expect((await fetch(`${server.url}/health`, auth(TOKEN))).status).toBe(200);
    const metrics = await fetch(`${server.url}/metrics`, auth(TOKEN));
    expect(await metrics.text()).toContain('samples_read_total 42');
    expect((await fetch(`${server.url}/health`, auth('wrong-token-wrong-token'))).status).toBe(401);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });
});

describe('startHealthServer with extra routes (the gateway)', () => {
  const routes = new Map<string, RawRoute>([
    ['/page', (_req, res) => void res.end('page')],
    ['/script.js', (_req, res) => void res.end('js')],
  ]);

  it('serves them, lists them in a 404, and names its config section', async () => {
    const server = await start({ routes }, { section: 'http' });
    expect(await (await fetch(`${server.url}/page`)).text()).toBe('page');
    expect(await (await fetch(`${server.url}/x`)).json()).toEqual({
      error: 'no route /x; try /health, /metrics, /page, /script.js',
    });
    await expect(start({}, { port: server.port, section: 'http' })).rejects.toThrow(
      'set http.port to a free port',
    );
  });

  it('takes the token as ?token= only when asked, and serves public paths without it', async () => {
    const publicPaths = new Set(['/script.js']);
    const strict = await start({ routes, publicPaths }, { token: TOKEN });
    expect((await fetch(`${strict.url}/page?token=${TOKEN}`)).status).toBe(401);
    expect((await fetch(`${strict.url}/script.js`)).status).toBe(200);
    const browser = await start({ routes, publicPaths }, { token: TOKEN, queryToken: true });
    expect((await fetch(`${browser.url}/page?token=${TOKEN}`)).status).toBe(200);
    expect((await fetch(`${browser.url}/health?token=${TOKEN}`)).status).toBe(200);
    expect((await fetch(`${browser.url}/page?token=wrong-token-wrong-token`)).status).toBe(401);
    expect((await fetch(`${browser.url}/page`)).status).toBe(401);
  });
});

describe('startHealthServer over HTTPS', () => {
  let dir: string;
  let cert: string;
  let key: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'factorylm-health-'));
    cert = join(dir, 'c.pem');
    key = join(dir, 'k.pem');
    // The IP SAN lets the client verify the certificate for 127.0.0.1 instead of skipping checks.
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'],
        ...['-keyout', key, '-out', cert],
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function get(url: string, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(url, { ca: readFileSync(cert), headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves health and metrics with a certificate the client verifies', async () => {
    const server = await start({}, { tls: { cert, key }, token: TOKEN });
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
    const authorization = `Bearer ${TOKEN}`;
    const health = await get(`${server.url}/health`, { authorization });
    expect(health).toEqual({ status: 200, body: JSON.stringify({ status: 'ok', node: 'edge-7' }) });
    expect((await get(`${server.url}/metrics`, { authorization })).body).toContain('42');
    expect((await get(`${server.url}/health`)).status).toBe(401);
  });

  it('does not speak plain HTTP on the TLS port', async () => {
    const server = await start({}, { tls: { cert, key } });
    await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow();
  });

  it('names both files when they are not a usable PEM pair', async () => {
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    await expect(start({}, { tls: { cert: garbage, key } })).rejects.toThrow(
      `health.tls: cannot serve HTTPS with cert ${garbage} and key ${key}: `,
    );
  });

  it.each(['cert', 'key'] as const)(
    'names the file and health.tls.%s when it cannot be read',
    async (field) => {
      const missing = join(dir, `missing-${field}.pem`);
      const tls = { cert, key, [field]: missing };
      await expect(start({}, { tls })).rejects.toThrow(
        new RegExp(`^health\\.tls\\.${field}: cannot read ${missing}: .*ENOENT`),
      );
    },
  );
});
