import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
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

describe('the gateway live page, fed by simulator → agent → Mosquitto → gateway → VictoriaMetrics', () => {
  it('shows live counts and charts whose values change, in headless Chromium', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

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

    // Two tags are charted without a click, and their charts gather points.
    await page.waitForSelector('.chart canvas', { timeout: 15_000 });
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
