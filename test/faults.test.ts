import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTagPayload, type TagPayload } from '../protocols/mqtt/payload.js';
import { exampleEnv } from './support/pipeline.js';
import { freePort, startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

interface Seen {
  topic: string;
  text: string;
  tag?: TagPayload;
  at: number;
}

let mosquitto: Service;
let simPort: number;
let sim: Running;
let agent: Running;
let watcher: MqttClient;
const seen: Seen[] = [];

const SPEED = 'factorylm/plant1/packaging/line1/conveyor1/motor_speed';
const DEVICE = 'factorylm/plant1/_nodes/edge-01/devices/micro820';
const STATUS = 'factorylm/plant1/_nodes/edge-01/status';

function startSim(): Running {
  return startCli(['sim', 'modbus', '--port', String(simPort)]);
}

function watch(url: string): MqttClient {
  const client = mqtt.connect(url, { reconnectPeriod: 200 });
  client.on('connect', () => client.subscribe('factorylm/#', { qos: 1 }));
  client.on('message', (topic, payload) => {
    const text = payload.toString();
    const decoded = decodeTagPayload(payload);
    seen.push({ topic, text, at: Date.now(), ...(decoded.ok ? { tag: decoded.value } : {}) });
  });
  return client;
}

const since = (t: number) => seen.filter((s) => s.at >= t);

beforeAll(async () => {
  mosquitto = await startMosquitto();
  simPort = await freePort();
  sim = startSim();
  await sim.waitForOutput(/Micro 820 simulator on modbus:\/\//);
  watcher = watch(mosquitto.url);
  agent = startCli(
    ['agent', '--config', 'deploy/examples/micro820.yaml'],
    exampleEnv(simPort, mosquitto.url),
  );
  await waitFor('first good sample', () =>
    seen.some((s) => s.topic === SPEED && s.tag?.q === 'good'),
  );
});

afterAll(async () => {
  watcher?.end(true);
  await agent?.stop();
  await sim?.stop();
  await mosquitto?.stop();
});

describe('fault handling', () => {
  it('publishes quality bad when the PLC dies, keeps running, and recovers when it returns', async () => {
    const killedAt = Date.now();
    await sim.stop('SIGKILL');
    const bad = await waitFor(
      'bad quality after the PLC died',
      () => since(killedAt).find((s) => s.topic === SPEED && s.tag?.q === 'bad'),
      15_000,
    );
    expect(bad.tag).toMatchObject({ v: null, q: 'bad' });
    expect(bad.tag!.r).toMatch(/disconnected|timeout/);
    const offline = await waitFor('device status disconnected', () =>
      since(killedAt).find(
        (s) => s.topic === DEVICE && JSON.parse(s.text).status === 'disconnected',
      ),
    );
    expect(JSON.parse(offline.text).reason).toMatch(/disconnected|timeout/);
    // Every tag of the device goes bad, not just one.
    await waitFor(
      'all 24 tags bad',
      () =>
        new Set(
          since(killedAt)
            .filter((s) => s.tag?.q === 'bad')
            .map((s) => s.topic),
        ).size === 24,
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(agent.child.exitCode).toBeNull();

    const restartedAt = Date.now();
    sim = startSim();
    await sim.waitForOutput(/Micro 820 simulator/);
    await waitFor(
      'good samples after the PLC returned',
      () => since(restartedAt).find((s) => s.topic === SPEED && s.tag?.q === 'good'),
      20_000,
    );
    await waitFor('device status connected', () =>
      since(restartedAt).find(
        (s) => s.topic === DEVICE && JSON.parse(s.text).status === 'connected',
      ),
    );
    expect(agent.child.exitCode).toBeNull();
  });

  it('buffers samples while the broker is down and delivers them when it returns', async () => {
    const killedAt = Date.now();
    await mosquitto.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 4000));
    const backAt = Date.now();
    mosquitto = await startMosquitto({ port: mosquitto.port, dir: mosquitto.dir });
    await waitFor(
      'agent online again (status re-published)',
      () => since(backAt).find((s) => s.topic === STATUS && s.text === 'online'),
      30_000,
    );
    // Samples read during the outage arrive after it, with their original timestamps.
    const fromOutage = await waitFor(
      'samples read while the broker was down',
      () => {
        const list = since(backAt).filter(
          (s) => s.tag && s.tag.ts > killedAt + 500 && s.tag.ts < backAt - 500,
        );
        return list.length > 0 ? list : undefined;
      },
      30_000,
    );
    expect(fromOutage.length).toBeGreaterThan(0);
    expect(agent.child.exitCode).toBeNull();
  });
});
