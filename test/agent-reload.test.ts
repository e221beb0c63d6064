import { writeFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { startSimulator, writeConfig } from './support/pipeline.js';
import { startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

const BASE = 'factorylm/plant1/packaging/line1/conveyor1';

let broker: Service;
let sim: Micro820Simulator;
let agent: Running;
let watcher: MqttClient;
let file: string;
const seen: { topic: string; hist: boolean; at: number; ts: number }[] = [];

function config(tags: { name: string; address: string }[], pollIntervalMs = 200) {
  return {
    site: 'plant1',
    area: 'packaging',
    line: 'line1',
    node: 'reload-node',
    mqtt: { url: broker.url },
    publish: { heartbeatMs: 1000 },
    outbox: { flushIntervalMs: 50, replayRatePerSec: 10_000 },
    devices: [
      {
        name: 'micro820',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: sim.port,
        asset: 'conveyor1',
        pollIntervalMs,
        tags,
      },
    ],
  };
}

beforeAll(async () => {
  broker = await startMosquitto();
  sim = await startSimulator();
  watcher = mqtt.connect(broker.url, { reconnectPeriod: 100 });
  watcher.on('message', (topic, payload) => {
    if (!topic.startsWith(BASE)) return;
    const o = JSON.parse(payload.toString()) as { ts: number; hist?: boolean };
    seen.push({ topic, hist: o.hist === true, at: Date.now(), ts: o.ts });
  });
  await new Promise<void>((resolve) => watcher.on('connect', () => resolve()));
  await watcher.subscribeAsync('factorylm/#', { qos: 1 });
  file = writeConfig('agent', config([{ name: 'motor_speed', address: 'hr:0' }]));
  agent = startCli(['agent', '--config', file]);
  await agent.waitForOutput(/"msg":"agent started"/);
});

afterAll(async () => {
  watcher?.end(true);
  await agent?.stop();
  await sim?.stop();
  await broker?.stop();
});

function rewrite(doc: unknown): void {
  // writeConfig added the outbox path and health port; keep them in every rewrite.
  const outbox = { path: file.replace(/agent\.yaml$/, 'outbox.db') };
  const d = doc as Record<string, Record<string, unknown>>;
  writeFileSync(file, stringify({ ...d, outbox: { ...d.outbox, ...outbox }, health: { port: 0 } }));
}

describe('config reload on SIGHUP', () => {
  it('adds a tag without a restart, refuses an invalid file, and keeps the outbox across reloads', async () => {
    await waitFor('first sample', () => seen.some((s) => s.topic === `${BASE}/motor_speed`));
    const pid = agent.child.pid!;

    rewrite(
      config([
        { name: 'motor_speed', address: 'hr:0' },
        { name: 'motor_current', address: 'hr:1' },
      ]),
    );
    const reloadAt = Date.now();
    process.kill(pid, 'SIGHUP');
    await agent.waitForOutput(/"msg":"config reloaded"/);
    await waitFor('the new tag', () =>
      seen.some((s) => s.topic === `${BASE}/motor_current` && s.at >= reloadAt),
    );

    writeFileSync(file, 'site: plant1\ndevices: [ { name: x } ]\n');
    process.kill(pid, 'SIGHUP');
    await agent.waitForOutput(/config reload rejected/);
    expect(agent.output()).toMatch(/devices\[0\]\.protocol/);
    const afterReject = Date.now();
    await waitFor('still publishing both tags with the old config', () =>
      ['motor_speed', 'motor_current'].every((t) =>
        seen.some((s) => s.topic === `${BASE}/${t}` && s.at > afterReject + 500),
      ),
    );
    expect(agent.child.exitCode).toBeNull();

    // Backlog during an outage, a reload in the middle of it, then every sample still arrives.
    await broker.kill('SIGKILL');
    const outageFrom = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    rewrite(
      config(
        [
          { name: 'motor_speed', address: 'hr:0' },
          { name: 'motor_current', address: 'hr:1' },
        ],
        100,
      ),
    );
    process.kill(pid, 'SIGHUP');
    await waitFor('second reload', () => agent.output().split('"config reloaded"').length === 3);
    await new Promise((r) => setTimeout(r, 1500));
    const outageTo = Date.now();
    broker = await startMosquitto({ port: broker.port, dir: broker.dir });
    await waitFor(
      'historical samples from both sides of the reload',
      () => {
        const hist = seen.filter((s) => s.hist && s.topic === `${BASE}/motor_speed`);
        return (
          hist.some((s) => s.ts < outageFrom + 1400) && hist.some((s) => s.ts > outageTo - 1400)
        );
      },
      45_000,
    );
    const hist = seen.filter((s) => s.hist && s.topic === `${BASE}/motor_speed`).map((s) => s.ts);
    expect(hist.slice().sort((a, b) => a - b)).toEqual(hist);
  });
});
