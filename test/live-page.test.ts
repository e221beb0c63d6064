import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { BrowserContext, ConsoleMessage } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { launchChromium } from './support/chromium.js';
import { startAgent, startGateway, startSimulator } from './support/pipeline.js';
import type { Running } from './support/processes.js';
import {
  startMosquitto,
  startVictoriaMetrics,
  vmExport,
  type Service,
} from './support/services.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'live-page-test-token-0123456789';
const ARTIFACTS = 'test-artifacts';

let mosquitto: Service;
let vm: Service;
let sim: Micro820Simulator;
let gateway: Running;
let agent: Running;
let browser: BrowserContext;
let profile: string;
let pageUrl: string;

beforeAll(async () => {
  [mosquitto, vm] = await Promise.all([startMosquitto(), startVictoriaMetrics()]);
  sim = await startSimulator();
  gateway = await startGateway({
    name: 'live',
    mqtt: { url: mosquitto.url },
    influx: { url: vm.url, batchSize: 500, flushIntervalMs: 200 },
    http: { host: '127.0.0.1', port: 0, token: TOKEN },
  });
  const listening = /"msg":"gateway http listening"/.exec(gateway.output());
  expect(listening).not.toBeNull();
  pageUrl = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(gateway.output())![1]!;
  ({ agent } = await startAgent(sim.port, mosquitto.url));
  profile = mkdtempSync(join(tmpdir(), 'factorylm-chromium-'));
  browser = await launchChromium(profile);
});

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await gateway?.stop();
  await sim?.stop();
  await Promise.all([mosquitto?.stop(), vm?.stop()]);
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };

/**
 * A console error of the page, except the 404 of the alarms panel's probe of /api/alarms: it is
 * how alarms.js learns this gateway runs no maintenance bridge (and hides its panel).
 */
const consoleError = (m: ConsoleMessage) =>
  m.type() === 'error' && !m.location().url.includes('/api/alarms');

/** What the live page exposes of its charts, as far as these tests read it (in the browser). */
interface LivePage {
  factorylmLive: {
    charts: Map<
      string,
      {
        el: { dataset: Record<string, string> };
        plot: {
          ctx: {
            getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
          };
          bbox: { left: number; top: number; width: number; height: number };
          scales: { x: { min: number; max: number } };
          over: { getBoundingClientRect(): { left: number; top: number; height: number } };
          valToPos(value: number, scale: string, canvasPixels?: boolean): number;
        };
      }
    >;
  };
}

describe('the gateway live page, fed by simulator → agent → Mosquitto → gateway → VictoriaMetrics', () => {
  it('shows live counts and charts whose values change, in headless Chromium', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => consoleError(m) && errors.push(m.text()));

    const res = await page.goto(`${pageUrl}?token=${TOKEN}`);
    expect(res?.status()).toBe(200);
    const text = async (selector: string) => (await page.textContent(selector))?.trim();
    await waitFor('one node online on the page', async () => (await text('#nodes-online')) === '1');
    await waitFor('status ok on the page', async () => (await text('#status')) === 'ok');

    // The message count on the page moves between two reads.
    const messages = async () => Number((await page.textContent('#messages'))!.replace(/,/g, ''));
    const first = await messages();
    await waitFor(
      'the displayed message count to grow',
      async () => (await messages()) > first,
      10_000,
    );

    // Two tags are charted without a click, and their charts gather points. The charts appear
    // one by one: wait for both (at load 10 the second came after the first was counted).
    await waitFor(
      'two charts drawn',
      async () => (await page.locator('.chart canvas').count()) === 2,
      15_000,
    );
    const points = async () =>
      Promise.all(
        (await page.locator('.chart').all()).map(async (c) =>
          Number(await c.getAttribute('data-points')),
        ),
      );
    const before = await points();
    expect(before).toHaveLength(2);
    await waitFor(
      'chart data to grow',
      async () => (await points()).some((n, i) => n > before[i]!),
      15_000,
    );

    // The picker lists every tag seen; picking motor_current adds its chart.
    const current = page.locator('#tags input[value$="/conveyor1/motor_current"]');
    await current.waitFor({ timeout: 10_000 });
    if (!(await current.isChecked())) {
      await current.check();
    }
    const chart = page.locator('.chart[data-tag$="/conveyor1/motor_current"]');
    await chart.waitFor({ timeout: 5000 });
    await waitFor(
      'motor_current chart to gather points',
      async () => Number(await chart.getAttribute('data-points')) >= 3,
      15_000,
    );
    // Points reach VictoriaMetrics, so the page shows a write rate.
    await waitFor(
      'a write rate on the page',
      async () => Number((await page.textContent('#write-rate'))!.replace(/,/g, '')) > 0,
      15_000,
    );
    expect(await page.textContent('#influx')).toBe('up');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-page.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws a trend: a fixed window ending now, history at load, held values and gaps with reasons', async () => {
    // A tag with a past the page never saw: good 3, bad for a minute, then 4 held since.
    const probe = 'plant1/packaging/line1/probe/level';
    const reason = 'exception 2 (illegal data address)';
    const t0 = Date.now();
    const client = await mqtt.connectAsync(mosquitto.url);
    const topic = `factorylm/${probe}`;
    for (const body of [
      { v: 3, ts: t0 - 600_000, q: 'good' },
      { v: null, ts: t0 - 240_000, q: 'bad', r: reason },
      { v: 4, ts: t0 - 180_000, q: 'good' },
    ])
      await client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
    await client.endAsync();
    const di05 = 'plant1/packaging/line1/conveyor1/DI_05';
    await waitFor('the gateway to hold the probe history', async () => {
      const res = await fetch(`${pageUrl}api/recent?tag=${probe}`, auth);
      const body = (await res.json()) as { tags: Record<string, { v: unknown[] }> };
      return body.tags[probe]?.v.length === 3;
    });

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => consoleError(m) && errors.push(m.text()));
    await page.addInitScript(
      ([tags]) => {
        type Store = { setItem(key: string, value: string): void };
        const store = (globalThis as unknown as { localStorage: Store }).localStorage;
        store.setItem('factorylm-live-tags', JSON.stringify(tags));
        store.setItem('factorylm-live-window', '60');
      },
      [[probe, di05]],
    );
    await page.goto(`${pageUrl}?token=${TOKEN}`);
    const chart = (key: string) => page.locator(`.chart[data-tag="${key}"]`);
    // History is there at once: the three samples from before the page existed.
    // A deadline, not a timing check: in a CI rehearsal at load 10 the page took over 15 s.
    await waitFor(
      'the probe chart with its history',
      async () => (await chart(probe).getAttribute('data-points')) === '3',
      30_000,
    );
    await waitFor(
      'the DI_05 chart',
      async () => Number(await chart(di05).getAttribute('data-points')) >= 1,
      15_000,
    );
    /** The x range drawn, the held value, and the canvas colour at the left and right edge at its height. */
    const drawn = (key: string) =>
      page.evaluate((k) => {
        const c = (globalThis as unknown as LivePage).factorylmLive.charts.get(k)!;
        const u = c.plot;
        const held = Number(c.el.dataset['held']);
        const y = Math.round(u.valToPos(held, 'y', true));
        const blueAt = (x: number) => {
          const d = u.ctx.getImageData(Math.round(x), y - 2, 1, 5).data;
          for (let i = 0; i < d.length; i += 4) if (d[i + 2]! > 150 && d[i]! < 120) return true;
          return false;
        };
        return {
          min: u.scales.x.min,
          max: u.scales.x.max,
          now: Date.now() / 1000,
          held,
          left: blueAt(u.bbox.left + 4),
          right: blueAt(u.bbox.left + u.bbox.width - 4),
        };
      }, key);

    // 1 min window: the probe's 4 (sent 3 minutes ago) holds across the whole window, up to now.
    const one = await drawn(probe);
    expect(one.max - one.min).toBeCloseTo(60, 3);
    expect(Math.abs(one.max - one.now)).toBeLessThan(5);
    expect(one).toMatchObject({ held: 4, left: true, right: true });
    // A bit reported by exception (DI_05, guard door closed) holds 1 up to now, not a lone dot.
    const door = await drawn(di05);
    expect(door.max - door.min).toBeCloseTo(60, 3);
    expect(door).toMatchObject({ held: 1, right: true });

    // 5 min window: the gap is there, and hovering over it tells why.
    await page.selectOption('#window', '300');
    await waitFor('a 5 minute axis', async () => {
      const d = await drawn(probe);
      return Math.abs(d.max - d.min - 300) < 0.001;
    });
    const over = await page.evaluate(
      ([k, t]) => {
        const c = (globalThis as unknown as LivePage).factorylmLive.charts.get(k)!;
        const r = c.plot.over.getBoundingClientRect();
        return { x: r.left + c.plot.valToPos(t, 'x'), y: r.top + r.height / 2 };
      },
      [probe, (t0 - 210_000) / 1000] as const,
    );
    await page.mouse.move(over.x, over.y);
    await waitFor(
      'the reason on hover',
      async () => ((await chart(probe).locator('.hover').textContent()) ?? '').includes(reason),
      5000,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-trend.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('answers /health and /metrics from the running pipeline, with the token only', async () => {
    expect((await fetch(`${pageUrl}health`)).status).toBe(401);
    expect((await fetch(`${pageUrl}metrics`)).status).toBe(401);
    const health = await fetch(`${pageUrl}health`, auth);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { points: number };
    expect(body).toMatchObject({
      status: 'ok',
      name: 'live',
      broker: { connected: true },
      nodes: { online: 1, status: { 'edge-01': 'online' } },
      sink: { influx: 'up' },
    });
    expect(body.points).toBeGreaterThan(0);
    const metrics = await (await fetch(`${pageUrl}metrics`, auth)).text();
    expect(metrics).toMatch(/^factorylm_gateway_points_written_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^factorylm_gateway_nodes_online 1$/m);
    expect(metrics).toMatch(/^factorylm_gateway_influx_up 1$/m);
    // What /metrics says was written is in the database.
    const stored = await vmExport(vm.url, '{__name__="plc_tags_value"}');
    expect(stored.length).toBeGreaterThan(0);
  });

  it('turns 503 with a reason when InfluxDB goes away', async () => {
    await vm.kill();
    await waitFor(
      '/health to report InfluxDB down',
      async () => (await fetch(`${pageUrl}health`, auth)).status === 503,
      30_000,
      250,
    );
    const body = (await (await fetch(`${pageUrl}health`, auth)).json()) as {
      status: string;
      reasons: string[];
    };
    expect(body.status).toBe('degraded');
    expect(body.reasons.join('\n')).toMatch(/InfluxDB is down/);
    const metrics = await (await fetch(`${pageUrl}metrics`, auth)).text();
    expect(metrics).toMatch(/^factorylm_gateway_influx_up 0$/m);
  });
});
