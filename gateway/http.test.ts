import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { httpSchema } from './config.js';
import type { GatewayStats } from './gateway.js';
import { GatewayHttp, type GatewayHealth, type GatewaySource } from './http.js';
import type { SinkStats } from './sink-report.js';

const TOKEN = 'a-gateway-token-0123456789';

function sink(over: Partial<SinkStats> = {}): SinkStats {
  return {
    written: 1200,
    dropped: 0,
    pending: 12,
    writeErrors: 0,
    rejected: 0,
    influx: 'up',
    spool: {
      path: '/var/lib/factorylm/spool-gw.db',
      durable: true,
      batches: 0,
      points: 0,
      bytes: 4096,
      maxBytes: 1_000_000,
      spooled: 0,
      drained: 0,
      dropped: { batches: 0, points: 0 },
      full: false,
    },
    ...over,
  };
}

class FakeGateway implements GatewaySource {
  brokerConnected = true;
  stats: GatewayStats = {
    messages: 100,
    points: 1500,
    invalid: { 'not-json': 3, 'bad-value': 1 },
    nodes: { 'edge-01': 'online', 'edge-02': 'offline', 'edge-03': 'online' },
    sink: sink(),
  };
}

const running: GatewayHttp[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
});

async function start(source: GatewaySource, http: Record<string, unknown> = {}) {
  const server = new GatewayHttp(
    httpSchema.parse({ port: 0, ...http }),
    'gw-test',
    source,
    silentLogger,
  );
  running.push(server);
  const url = await server.start();
  return { server, url };
}

describe('gateway GET /health', () => {
  it('answers 200 with the whole picture when all is well', async () => {
    const { url } = await start(new FakeGateway());
    const res = await fetch(`${url}health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as GatewayHealth;
    expect(body).toMatchObject({
      status: 'ok',
      reasons: [],
      name: 'gw-test',
      broker: { connected: true },
      nodes: { online: 2, offline: 1 },
      messages: 100,
      points: 1500,
      invalid: { total: 4, byReason: { 'not-json': 3, 'bad-value': 1 } },
      sink: {
        influx: 'up',
        written: 1200,
        pending: 12,
        spool: { points: 0, bytes: 4096, dropped: 0, full: false },
      },
    });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.rates).toEqual({ messagesPerSec: 0, pointsPerSec: 0, writtenPerSec: 0 });
  });

  it('answers 503 with the reasons when the broker or InfluxDB is down or points are at risk', async () => {
    const gw = new FakeGateway();
    gw.brokerConnected = false;
    gw.stats.sink = sink({
      influx: 'down',
      lastError: 'connect ECONNREFUSED 127.0.0.1:8086',
      alarm: 'spool full and InfluxDB down: oldest points are being dropped',
      spool: { ...sink().spool, points: 900_000, full: true, dropped: { batches: 3, points: 15 } },
    });
    const { url } = await start(gw);
    const res = await fetch(`${url}health`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as GatewayHealth;
    expect(body.status).toBe('degraded');
    expect(body.reasons).toEqual([
      'not connected to the MQTT broker',
      'InfluxDB is down: connect ECONNREFUSED 127.0.0.1:8086',
      'spool full and InfluxDB down: oldest points are being dropped',
    ]);
    expect(body.sink.spool).toMatchObject({ points: 900_000, dropped: 15, full: true });
  });

  it('says influx off without an InfluxDB section, and stays ok', async () => {
    const gw = new FakeGateway();
    delete gw.stats.sink;
    const { url } = await start(gw);
    const res = await fetch(`${url}health`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as GatewayHealth).sink.influx).toBe('off');
  });
});

describe('gateway GET /metrics', () => {
  it('exposes counters and levels in the Prometheus text format', async () => {
    const gw = new FakeGateway();
    gw.stats.sink = sink({ writeErrors: 7, influx: 'down' });
    const { url } = await start(gw);
    const res = await fetch(`${url}metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const line of [
      'factorylm_gateway_messages_total 100',
      'factorylm_gateway_points_total 1500',
      'factorylm_gateway_invalid_messages_total{reason="not-json"} 3',
      'factorylm_gateway_invalid_messages_total{reason="bad-value"} 1',
      'factorylm_gateway_points_written_total 1200',
      'factorylm_gateway_write_errors_total 7',
      'factorylm_gateway_spool_points 0',
      'factorylm_gateway_spool_bytes 4096',
      'factorylm_gateway_spool_dropped_points_total 0',
      'factorylm_gateway_influx_up 0',
      'factorylm_gateway_broker_connected 1',
      'factorylm_gateway_nodes_online 2',
      'factorylm_gateway_alarm 0',
    ])
      expect(text).toContain(`${line}\n`);
    expect(text).toMatch(/factorylm_gateway_info\{gateway="gw-test",version="[^"]+"\} 1/);
    expect(text).toContain('factorylm_gateway_process_resident_memory_bytes');
  });
});

describe('gateway HTTP with a token', () => {
  it('refuses /health, /metrics, the page and its events without the token', async () => {
    const { url } = await start(new FakeGateway(), { token: TOKEN });
    for (const path of ['health', 'metrics', '', 'events']) {
      const res = await fetch(url + path);
      expect(res.status, path).toBe(401);
    }
    const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
    expect((await fetch(`${url}health`, auth)).status).toBe(200);
    expect((await fetch(`${url}metrics`, auth)).status).toBe(200);
    expect((await fetch(`${url}?token=${TOKEN}`)).status).toBe(200);
    // The page's static files hold no secret; a browser fetches them without the header.
    expect((await fetch(`${url}uPlot.iife.min.js`)).status).toBe(200);
    expect((await fetch(`${url}live.js`)).status).toBe(200);
  });

  it('refuses a token shorter than 16 characters in the config', () => {
    expect(() => httpSchema.parse({ token: 'short' })).toThrow(/at least 16/);
  });
});

describe('gateway live page feed', () => {
  it('streams stats and the samples of the tags it sees', async () => {
    const gw = new FakeGateway();
    const { server, url } = await start(gw);
    const point = {
      site: 's',
      area: 'a',
      line: 'l',
      asset: 'm',
      quality: 'good' as const,
    };
    server.point({ ...point, tag: 'speed', value: 1750, ts: 1000 });
    const controller = new AbortController();
    const res = await fetch(`${url}events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += decoder.decode(value);
      }
    };
    await until(/event: tags\ndata: \{"s\/a\/l\/m\/speed":\[1000,1750\]\}/);
    await until(/event: stats\ndata: \{"status":"ok"/);
    server.point({ ...point, tag: 'speed', value: 1760, ts: 2000 });
    server.point({ ...point, tag: 'running', value: true, ts: 2000 });
    server.point({
      ...point,
      tag: 'bad',
      value: null,
      quality: 'bad',
      reason: 'timeout',
      ts: 2000,
    });
    server.point({ ...point, tag: 'text', value: 'hello', ts: 2000 });
    // A bad sample is a gap with its reason; a string is not charted.
    await until(
      /event: samples\ndata: \{"s\/a\/l\/m\/speed":\[\[2000,1760\]\],"s\/a\/l\/m\/running":\[\[2000,1\]\],"s\/a\/l\/m\/bad":\[\[2000,null,"timeout"\]\]\}/,
    );
    expect(text).not.toContain('m/text');
    controller.abort();
  });

  it('serves the recent samples of the asked tags, with the value held from before the window', async () => {
    const { server, url } = await start(new FakeGateway());
    const base = { site: 's', area: 'a', line: 'l', asset: 'm', tag: 'speed' };
    const now = Date.now();
    server.point({ ...base, value: 5, quality: 'good', ts: now - 30 * 60_000 });
    server.point({ ...base, value: null, quality: 'bad', reason: 'timeout', ts: now - 2 * 60_000 });
    server.point({ ...base, value: 7, quality: 'good', ts: now - 60_000 });
    const get = async (query: string) => {
      const res = await fetch(`${url}api/recent?${query}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const five = await get('tag=s/a/l/m/speed&tag=s/a/l/m/unknown&minutes=5');
    expect(five.status).toBe(200);
    expect(five.body).toMatchObject({
      windowMs: 3_600_000,
      tags: {
        's/a/l/m/speed': {
          ts: [now - 30 * 60_000, now - 2 * 60_000, now - 60_000],
          v: [5, null, 7],
          reasons: { 1: 'timeout' },
        },
      },
    });
    expect(Object.keys(five.body.tags as object)).toEqual(['s/a/l/m/speed']);
    const one = await get('tag=s/a/l/m/speed&minutes=1');
    expect((one.body.tags as Record<string, { v: unknown[] }>)['s/a/l/m/speed']!.v).toEqual([7]);
    expect((await get('minutes=0')).status).toBe(400);
    expect((await get(Array.from({ length: 51 }, (_, i) => `tag=t${i}`).join('&'))).status).toBe(
      400,
    );
  });
});

describe('pages of features that are off', () => {
  it.each([
    {
      path: 'twin',
      http: {},
      says: /fleet twin is off[\s\S]*twin:[\s\S]*inventory\.enabled: true/,
    },
    { path: '', http: { page: false }, says: /live page is off[\s\S]*http\.page: true/ },
  ])('/$path says how to turn it on', async ({ path, http, says }) => {
    const { url } = await start(new FakeGateway(), http);
    const res = await fetch(`${url}${path}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(says);
  });
});
