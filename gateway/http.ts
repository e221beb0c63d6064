import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  send,
  sendJson,
  startHealthServer,
  type HealthServer,
  type RawRoute,
} from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import { packageRoot, packageVersion } from '../core/package-info.js';
import type { HttpConfig } from './config.js';
import type { GatewayStats } from './gateway.js';
import { createGatewayMetrics } from './metrics.js';
import { alarmRoutes } from './alarms-http.js';
import type { MaintenanceBridge } from '../maintenance/bridge.js';
import { featureOff, twinRoutes, TWIN_PUBLIC_PATHS } from './twin-http.js';
import type { TwinStore } from './twin-store.js';
import type { TagPoint } from './points.js';
import { RecentSamples } from './recent-samples.js';

/** What the HTTP side reads from the running gateway. */
export interface GatewaySource {
  readonly stats: GatewayStats;
  readonly brokerConnected: boolean;
  /** The fleet twin, when the gateway keeps one: served at /api/twin and /twin. */
  readonly twin?: TwinStore;
  readonly maintenance?: MaintenanceBridge;
}

export interface GatewayHealth {
  status: 'ok' | 'degraded';
  /** Why the status is not ok; empty when it is. */
  reasons: string[];
  name: string;
  version: string;
  uptimeSec: number;
  broker: { connected: boolean };
  nodes: { online: number; offline: number; status: Record<string, 'online' | 'offline'> };
  messages: number;
  points: number;
  rates: { messagesPerSec: number; pointsPerSec: number; writtenPerSec: number };
  invalid: { total: number; byReason: Record<string, number> };
  sink: {
    influx: 'up' | 'down' | 'off';
    written: number;
    pending: number;
    dropped: number;
    writeErrors: number;
    lastError?: string;
    spool?: {
      points: number;
      bytes: number;
      maxBytes: number;
      dropped: number;
      full: boolean;
      durable: boolean;
    };
    alarm?: string;
  };
  /**
   * Messages agents stamped with a sequence number that never reached this gateway (see
   * gateway/sequence.ts); present when this instance receives every message (no share group).
   */
  sequence?: { missing: number; late: number; duplicates: number; nodes: number };
}

/** How often rates are computed and the live page gets an update, ms. */
const TICK_MS = 1000;
/** Tags the live page can pick from; beyond, new tags are not offered (counted). */
const MAX_TAGS = 5000;
/** Tags one /api/recent request may ask for. */
const MAX_HISTORY_TAGS = 50;
/** Samples of one tag sent per tick; a faster tag is thinned to its latest ones. */
const MAX_SAMPLES_PER_TAG = 20;
/** Browsers connected to the event stream at once. */
const MAX_CLIENTS = 32;

const tagKey = (p: TagPoint) => `${p.site}/${p.area}/${p.line}/${p.asset}/${p.tag}`;

/** Chartable number of a sample, null for a gap (bad quality); strings are not charted. */
function chartValue(p: TagPoint): number | null | undefined {
  if (p.quality !== 'good' || p.value === null) return null;
  if (typeof p.value === 'number') return p.value;
  if (typeof p.value === 'boolean') return p.value ? 1 : 0;
  return undefined;
}

/** A live sample on the event stream: `[ts, value]`, or `[ts, null, reason]` for a gap. */
type LiveSample = [number, number] | [number, null, string];

function readAsset(file: string): Buffer {
  return readFileSync(file);
}

/**
 * The gateway's HTTP endpoint: `/health`, `/metrics` (Prometheus), and the live page (`/`,
 * its script, uPlot, and `/events`, a server-sent event stream of counts and tag samples).
 */
export class GatewayHttp {
  private server?: HealthServer;
  private timer?: NodeJS.Timeout;
  private readonly started = Date.now();
  private last?: { t: number; messages: number; points: number; written: number };
  private rates = { messagesPerSec: 0, pointsPerSec: 0, writtenPerSec: 0 };
  /** The last hour of every tag seen, by `site/area/line/asset/tag`: history on page load. */
  private readonly recent = new RecentSamples({ maxTags: MAX_TAGS });
  /** Samples since the last tick, by tag. */
  private fresh = new Map<string, LiveSample[]>();
  private readonly clients = new Set<ServerResponse>();

  constructor(
    private readonly config: HttpConfig,
    private readonly name: string,
    private readonly gateway: GatewaySource,
    private readonly log: Logger,
  ) {}

  /** Feed for the live page; give it to the Gateway as `onPoint`. */
  readonly point = (p: TagPoint): void => {
    const v = chartValue(p);
    if (v === undefined) return;
    const key = tagKey(p);
    const reason = v === null ? (p.reason ?? `quality ${p.quality}`) : undefined;
    const before = this.recent.dropped;
    this.recent.add(
      key,
      reason === undefined ? { ts: p.ts, value: v } : { ts: p.ts, value: null, reason },
    );
    if (this.clients.size === 0 || this.recent.dropped !== before) return;
    let list = this.fresh.get(key);
    if (!list) this.fresh.set(key, (list = []));
    list.push(reason === undefined ? [p.ts, v!] : [p.ts, null, reason]);
    if (list.length > MAX_SAMPLES_PER_TAG) list.shift();
  };

  /** Starts listening; returns the URL of the live page. */
  async start(): Promise<string> {
    const registry = createGatewayMetrics(() => ({
      name: this.name,
      stats: this.gateway.stats,
      brokerConnected: this.gateway.brokerConnected,
    }));
    const routes = new Map<string, RawRoute>();
    const publicPaths = new Set<string>();
    if (this.config.page) {
      const web = join(packageRoot(), 'gateway/web');
      const uplot = join(dirname(createRequire(import.meta.url).resolve('uplot')));
      const asset = (path: string, file: string, type: string, isPublic = true) => {
        const body = readAsset(file);
        if (isPublic) publicPaths.add(path);
        routes.set(path, (_req, res) => {
          res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
          res.end(body);
        });
      };
      asset('/', join(web, 'index.html'), 'text/html; charset=utf-8', false);
      asset('/live.js', join(web, 'live.js'), 'text/javascript; charset=utf-8');
      asset('/alarms.js', join(web, 'alarms.js'), 'text/javascript; charset=utf-8');
      asset('/uPlot.iife.min.js', join(uplot, 'uPlot.iife.min.js'), 'text/javascript');
      asset('/uPlot.min.css', join(uplot, 'uPlot.min.css'), 'text/css');
      // Browsers ask for it on their own; an answer keeps their console free of errors.
      publicPaths.add('/favicon.ico');
      routes.set('/favicon.ico', (_req, res) => {
        res.writeHead(204, { 'Cache-Control': 'max-age=86400' });
        res.end();
      });
      routes.set('/events', (req, res) => this.subscribe(req.socket.remoteAddress, res));
      routes.set('/api/recent', (req, res) => this.history(req.url ?? '', res));
    } else {
      routes.set('/', (_req, res) =>
        featureOff(res, 'The live page is off on this gateway', [
          'Set http.page: true in the gateway config (it is the default) and restart the gateway.',
          '/health and /metrics answer either way.',
        ]),
      );
    }
    // The gateway opens its twin store when it starts, which may be after this: look it up per request.
    for (const [path, route] of twinRoutes(() => this.gateway.twin)) routes.set(path, route);
    for (const path of TWIN_PUBLIC_PATHS) publicPaths.add(path);
    const alarms = alarmRoutes(() => this.gateway.maintenance);
    for (const [path, route] of alarms.routes) routes.set(path, route);
    this.server = await startHealthServer(
      {
        host: this.config.host,
        port: this.config.port,
        token: this.config.token,
        tls: this.config.tls,
        section: 'http',
        queryToken: true,
      },
      {
        health: () => this.health(),
        metrics: () => registry.metrics(),
        metricsContentType: registry.contentType,
        routes,
        publicPaths,
        actions: alarms.actions,
      },
      this.log,
    );
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    const url = `${this.server.url}/`;
    this.log.info({ url, page: this.config.page }, 'gateway http listening');
    return url;
  }

  get url(): string | undefined {
    return this.server ? `${this.server.url}/` : undefined;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // An event stream never ends by itself: close its socket so the server can close.
    for (const res of this.clients) res.destroy();
    this.clients.clear();
    await this.server?.close();
  }

  health(): GatewayHealth {
    const s = this.gateway.stats;
    const connected = this.gateway.brokerConnected;
    const nodes = Object.values(s.nodes);
    const reasons: string[] = [];
    if (!connected) reasons.push('not connected to the MQTT broker');
    const sink = s.sink;
    if (sink?.influx === 'down')
      reasons.push(`InfluxDB is down${sink.lastError ? `: ${sink.lastError}` : ''}`);
    if (sink?.alarm) reasons.push(sink.alarm);
    if (sink && !sink.spool.durable) reasons.push('the spool is in memory: lost on restart');
    for (const problem of this.gateway.maintenance?.problems ?? []) reasons.push(problem);
    const invalidTotal = Object.values(s.invalid).reduce((a, b) => a + b, 0);
    return {
      status: reasons.length === 0 ? 'ok' : 'degraded',
      reasons,
      name: this.name,
      version: packageVersion(),
      uptimeSec: Math.round((Date.now() - this.started) / 1000),
      broker: { connected },
      nodes: {
        online: nodes.filter((n) => n === 'online').length,
        offline: nodes.filter((n) => n === 'offline').length,
        status: s.nodes,
      },
      messages: s.messages,
      points: s.points,
      rates: this.rates,
      invalid: { total: invalidTotal, byReason: s.invalid },
      sink: sink
        ? {
            influx: sink.influx,
            written: sink.written,
            pending: sink.pending,
            dropped: sink.dropped,
            writeErrors: sink.writeErrors,
            ...(sink.lastError ? { lastError: sink.lastError } : {}),
            spool: {
              points: sink.spool.points,
              bytes: sink.spool.bytes,
              maxBytes: sink.spool.maxBytes,
              dropped: sink.spool.dropped.points,
              full: sink.spool.full,
              durable: sink.spool.durable,
            },
            ...(sink.alarm ? { alarm: sink.alarm } : {}),
          }
        : { influx: 'off', written: 0, pending: 0, dropped: 0, writeErrors: 0 },
      ...(s.sequence
        ? {
            sequence: {
              missing: s.sequence.missing,
              late: s.sequence.late,
              duplicates: s.sequence.duplicates,
              nodes: s.sequence.nodes,
            },
          }
        : {}),
    };
  }

  /** Rates over the last tick, then one `stats` and one `samples` event to every browser. */
  private tick(): void {
    const s = this.gateway.stats;
    const now = Date.now();
    const written = s.sink?.written ?? 0;
    if (this.last) {
      const dt = Math.max(1, now - this.last.t) / 1000;
      const rate = (a: number, b: number) => Math.round(((a - b) / dt) * 10) / 10;
      this.rates = {
        messagesPerSec: rate(s.messages, this.last.messages),
        pointsPerSec: rate(s.points, this.last.points),
        writtenPerSec: rate(written, this.last.written),
      };
    }
    this.last = { t: now, messages: s.messages, points: s.points, written };
    if (this.clients.size === 0) return;
    const samples = Object.fromEntries(this.fresh);
    this.fresh = new Map();
    this.broadcast('stats', this.summary());
    this.broadcast('samples', samples);
  }

  private summary(): object {
    const h = this.health();
    return {
      status: h.status,
      reasons: h.reasons,
      name: h.name,
      uptimeSec: h.uptimeSec,
      brokerConnected: h.broker.connected,
      nodesOnline: h.nodes.online,
      nodesOffline: h.nodes.offline,
      messages: h.messages,
      points: h.points,
      rates: h.rates,
      invalid: h.invalid.total,
      influx: h.sink.influx,
      written: h.sink.written,
      spoolPoints: h.sink.spool?.points ?? 0,
      spoolDropped: h.sink.spool?.dropped ?? 0,
      alarm: h.sink.alarm,
      tags: this.recent.tagCount,
      tagsDropped: this.recent.dropped,
    };
  }

  private subscribe(remote: string | undefined, res: ServerResponse): void {
    if (this.clients.size >= MAX_CLIENTS) {
      send(res, 503, 'text/plain', `at most ${MAX_CLIENTS} live pages at once`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    res.socket?.setTimeout(0);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    this.log.debug({ remote }, 'live page connected');
    // The tags seen so far, with their last sample, so the picker fills at once.
    this.write(res, 'tags', this.recent.latest());
    this.write(res, 'stats', this.summary());
  }

  /**
   * `/api/recent?tag=KEY&tag=KEY[&minutes=N]`: the recent samples of up to 50 tags (the charts a
   * page shows), so a page load draws the last window at once instead of starting empty.
   */
  private history(url: string, res: ServerResponse): void {
    const query = new URLSearchParams(url.split('?', 2)[1] ?? '');
    const keys = query.getAll('tag');
    const minutes = Number(query.get('minutes') ?? 60);
    if (keys.length > MAX_HISTORY_TAGS || !(minutes > 0)) {
      sendJson(res, 400, {
        error: `ask for 1 to ${MAX_HISTORY_TAGS} tags (?tag=site/area/line/asset/tag) and minutes > 0`,
      });
      return;
    }
    const now = Date.now();
    const since = now - Math.min(minutes * 60_000, this.recent.windowMs);
    const tags: Record<string, object> = {};
    for (const key of keys) {
      const h = this.recent.history(key, since);
      if (h) tags[key] = h;
    }
    sendJson(res, 200, { now, windowMs: this.recent.windowMs, tags });
  }

  private broadcast(event: string, data: object): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(frame);
  }

  private write(res: ServerResponse, event: string, data: object): void {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}
