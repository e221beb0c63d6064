import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import { startCmmsSim, SIM_USER } from './support/cmms-sim.js';
import { startLlmSim } from './support/llm-sim.js';
import { writeConfig } from './support/pipeline.js';
import { freePort, startCli } from './support/processes.js';
import { startMosquitto } from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 13, the operator's view: the gateway's live page in headless Chromium lists the alarm
 * with a link to its work order in the CMMS. Real Mosquitto, gateway CLI, LLM and CMMS simulators.
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

const ARTIFACTS = 'test-artifacts';

describe('live page alarms (issue 13)', () => {
  it('shows the active alarm and links its work order', async () => {
    const broker = await startMosquitto();
    cleanup.push(() => broker.stop());
    const llm = await startLlmSim();
    cleanup.push(() => llm.stop());
    const cmms = await startCmmsSim(['--seed-assets', 'press7']);
    cleanup.push(() => cmms.stop());
    const port = await freePort();
    const gateway = startCli(
      [
        'gateway',
        '--config',
        writeConfig('gateway', {
          name: 'page-alarms',
          mqtt: { url: broker.url },
          http: { host: '127.0.0.1', port },
          maintenance: {
            rules: [{ name: 'overheat', asset: '*', tag: 'temperature', kind: 'high', limit: 90 }],
            alarms: { statePath: ':memory:' },
            llm: { url: llm.url },
            cmms: {
              url: cmms.url,
              frontendUrl: 'http://atlas.example:3000',
              email: SIM_USER.email,
              passwordEnv: 'ATLAS_PASSWORD',
              outbox: { path: ':memory:' },
            },
          },
        }),
      ],
      { ATLAS_PASSWORD: SIM_USER.password },
    );
    cleanup.push(() => gateway.stop('SIGKILL'));
    await gateway.waitForOutput(/holding the maintenance lease/, 30_000);
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanup.push(() => client.endAsync(true));
    await client.publishAsync(
      'factorylm/plant1/area1/line1/press7/temperature',
      JSON.stringify({ v: 97.5, ts: Date.now(), q: 'good' }),
      { qos: 1 },
    );
    await waitFor('the work order', async () => (await cmms.orders()).length === 1, 30_000);
    const [order] = await cmms.orders();

    const profile = mkdtempSync(join(tmpdir(), 'factorylm-chromium-'));
    cleanup.push(async () => rmSync(profile, { recursive: true, force: true }));
    const browser = await launchChromium(profile);
    cleanup.push(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const link = page.locator('#alarms a');
    await link.waitFor({ timeout: 20_000 });
    const rowText = await page.locator('#alarm-rows tr').first().innerText();
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-page-alarms.png'), fullPage: true });
    expect(rowText).toMatch(/press7/);
    expect(rowText).toMatch(/temperature 97\.5 .*> 90/);
    expect(rowText).toMatch(/active unacked/);
    expect(await link.innerText()).toBe(order!.customId);
    expect(await link.getAttribute('href')).toBe(
      `http://atlas.example:3000/app/work-orders/${order!.id}`,
    );
  }, 90_000);
});
