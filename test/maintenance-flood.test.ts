import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startCmmsSim, SIM_USER, type CmmsSim } from './support/cmms-sim.js';
import { startLlmSim, type LlmSim } from './support/llm-sim.js';
import { writeConfig } from './support/pipeline.js';
import { freePort, startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 13, many alarms at once and one that will not settle: the gateway CLI with a
 * maintenance: section between a real Mosquitto and the LLM and CMMS simulators, fed fault bits
 * straight over MQTT (the unified namespace's per-tag messages).
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const QUEUE_MAX = 20;

interface Setup {
  broker: Service;
  llm: LlmSim;
  cmms: CmmsSim;
  gateway: Running;
  http: string;
  publisher: MqttClient;
}

async function setup(chatter = false): Promise<Setup> {
  const broker = await startMosquitto();
  cleanup.push(() => broker.stop());
  // A slow model, so alarms queue for it.
  const llm = await startLlmSim();
  cleanup.push(() => llm.stop());
  await llm.setFaults({ delayMs: 300 });
  const cmms = await startCmmsSim(['--rate-limit', '100000']);
  cleanup.push(() => cmms.stop());
  await cmms.limits({ workOrders: 1000, assets: 1000 });
  const port = await freePort();
  const gateway = startCli(
    [
      'gateway',
      '--config',
      writeConfig('gateway', {
        name: chatter ? 'chatter' : 'flood',
        mqtt: { url: broker.url },
        http: { host: '127.0.0.1', port, page: false },
        maintenance: {
          rules: [
            {
              name: 'fault',
              asset: '*',
              tag: 'fault_alarm',
              kind: 'boolean',
              onDelayMs: 0,
              offDelayMs: 0,
              severity: 'high',
            },
          ],
          alarms: {
            statePath: ':memory:',
            chatter: { activations: 3, windowMs: 60_000, shelveMs: 600_000 },
          },
          llm: { url: llm.url, waitMs: 2000, queueMax: QUEUE_MAX },
          cmms: {
            url: cmms.url,
            email: SIM_USER.email,
            passwordEnv: 'ATLAS_PASSWORD',
            createAssets: true,
            rateLimit: { requestsPerMinute: 100_000 },
            outbox: { path: ':memory:' },
          },
        },
      }),
    ],
    { ATLAS_PASSWORD: SIM_USER.password },
  );
  cleanup.push(() => gateway.stop('SIGKILL'));
  await gateway.waitForOutput(/holding the maintenance lease/, 30_000);
  const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  cleanup.push(() => publisher.endAsync(true));
  return { broker, llm, cmms, gateway, http: `http://127.0.0.1:${port}`, publisher };
}

function fault(client: MqttClient, asset: string, on: boolean): Promise<unknown> {
  return client.publishAsync(
    `factorylm/plant1/area1/line1/${asset}/fault_alarm`,
    JSON.stringify({ v: on, ts: Date.now(), q: 'good' }),
    { qos: 1 },
  );
}

interface BridgeAnswer {
  stats: { llm: { queueDepth: number; dropped: number; templated: number; answered: number } };
}

describe('maintenance bridge under a flood and a chattering alarm (issue 13)', () => {
  it('200 faults at once make 200 work orders, and the LLM queue stays bounded', async () => {
    const s = await setup();
    await Promise.all(Array.from({ length: 200 }, (_, i) => fault(s.publisher, `asset${i}`, true)));
    let deepest = 0;
    let last: BridgeAnswer | undefined;
    await waitFor(
      '200 work orders',
      async () => {
        last = (await (await fetch(`${s.http}/api/alarms`)).json()) as BridgeAnswer;
        deepest = Math.max(deepest, last.stats.llm.queueDepth);
        return (await s.cmms.orders()).length >= 200;
      },
      120_000,
      250,
    );
    await sleep(3000);
    const orders = await s.cmms.orders();
    const assets = new Set(orders.map((o) => o.asset?.name));
    console.log(
      `flood: ${orders.length} orders on ${assets.size} assets; LLM queue at most ${deepest} ` +
        `(queueMax ${QUEUE_MAX}); llm ${JSON.stringify(last?.stats.llm)}`,
    );
    expect(orders).toHaveLength(200);
    expect(assets.size).toBe(200);
    expect(deepest).toBeLessThanOrEqual(QUEUE_MAX);
    // Those the queue had no room for got the template at once, and say so.
    expect(last!.stats.llm.dropped).toBeGreaterThan(0);
    expect(orders.every((o) => o.priority === 'HIGH')).toBe(true);
  }, 180_000);

  it('a fault bit toggling every 2 s makes one work order and says once that it chatters', async () => {
    const s = await setup(true);
    for (let i = 0; i < 15; i++) {
      await fault(s.publisher, 'press1', i % 2 === 0);
      await sleep(2000);
    }
    await sleep(3000);
    const orders = await s.cmms.orders();
    const chatter = orders.flatMap((o) => o.comments).filter((c) => /chattering/i.test(c.content));
    console.log(
      `chatter: ${orders.length} order(s), comments: ${orders
        .flatMap((o) => o.comments)
        .map((c) => c.content.slice(0, 60))
        .join(' | ')}`,
    );
    expect(orders).toHaveLength(1);
    expect(chatter).toHaveLength(1);
  }, 120_000);
});
