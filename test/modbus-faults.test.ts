import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTagPayload, type TagPayload } from '../protocols/mqtt/payload.js';
import { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { writeConfig } from './support/pipeline.js';
import { waitFor } from './support/wait.js';

interface Seen {
  key: string;
  at: number;
  p: TagPayload;
}

let mosquitto: Service;
let sim: Micro820Simulator;
let port: number;
let agent: Running;
let watcher: MqttClient;
const seen: Seen[] = [];
const statuses = new Map<string, Record<string, unknown>>();

const since = (t: number, key?: string) =>
  seen.filter((s) => s.at >= t && (key === undefined || s.key === key));
const latest = (key: string) => seen.filter((s) => s.key === key).at(-1)?.p;

async function startSim(): Promise<void> {
  sim = new Micro820Simulator({ port, unitIds: [1, 2], tickMs: 50 });
  port = await sim.start();
}

beforeAll(async () => {
  mosquitto = await startMosquitto();
  port = 0;
  await startSim();
  const device = (name: string, unitId: number) => ({
    name,
    protocol: 'modbus-tcp',
    host: '127.0.0.1',
    port,
    unitId,
    asset: name,
    pollIntervalMs: 200,
    timeoutMs: 300,
    retries: 0,
    tags: [
      { name: 'motor_running', address: 'coil:0' },
      { name: 'motor_speed', address: 'hr:100' },
      { name: 'motor_current', address: 'hr:101', scale: 0.1 },
    ],
  });
  const file = writeConfig('agent', {
    site: 'plant1',
    area: 'a',
    line: 'l',
    node: 'fault-node',
    mqtt: { url: mosquitto.url },
    publish: { heartbeatMs: 1000 },
    devices: [device('a', 1), device('b', 2)],
  });
  watcher = mqtt.connect(mosquitto.url);
  watcher.on('connect', () => watcher.subscribe('factorylm/plant1/#'));
  watcher.on('message', (topic, payload) => {
    if (topic.includes('/_nodes/fault-node/devices/'))
      statuses.set(topic.split('/').pop()!, JSON.parse(payload.toString()));
    const decoded = decodeTagPayload(payload);
    if (decoded.ok)
      seen.push({ key: topic.split('/').slice(-2).join('/'), at: Date.now(), p: decoded.value });
  });
  agent = startCli(['agent', '--config', file]);
  await waitFor(
    'both devices good',
    () => latest('a/motor_speed')?.q === 'good' && latest('b/motor_speed')?.q === 'good',
    20_000,
  );
});

afterAll(async () => {
  watcher?.end(true);
  await agent?.stop();
  await sim?.stop();
  await mosquitto?.stop();
});

describe('Modbus faults: the agent keeps polling healthy devices and recovers by itself', () => {
  it('a unit that stops answering goes bad and failing; its neighbour on the line keeps its rate', async () => {
    sim.faults.set({ silentUnits: [2] });
    const t = Date.now();
    await waitFor('b failing', () => statuses.get('b')?.status === 'failing', 15_000);
    expect(latest('b/motor_speed')).toMatchObject({ q: 'bad', r: 'timeout' });
    expect(statuses.get('b')).toMatchObject({ reason: 'timeout', failing: true });
    expect((statuses.get('b')!.timeouts as number) >= 3).toBe(true);
    // a kept publishing good samples all along (heartbeat 1 s at least).
    const aGood = since(t, 'a/motor_running').filter((s) => s.p.q === 'good');
    expect(aGood.length).toBeGreaterThanOrEqual(Math.floor((Date.now() - t) / 1000) - 1);
    expect(since(t, 'a/motor_speed').every((s) => s.p.q === 'good')).toBe(true);
    sim.faults.reset();
    await waitFor('b back', () => latest('b/motor_speed')?.q === 'good', 20_000);
    await waitFor('b connected', () => statuses.get('b')?.status === 'connected');
  });

  it('an exception code on one address marks the registers bad with the reason, coils stay good', async () => {
    const t = Date.now();
    sim.faults.set({ exceptions: [{ unitId: 1, area: 'hr', address: 101, code: 6 }] });
    const bad = await waitFor('exception 6 on a', () =>
      since(t, 'a/motor_current').find((s) => s.p.q === 'bad'),
    );
    expect(bad.p.r).toBe('exception 6 (server device busy)');
    expect(latest('a/motor_running')?.q).toBe('good');
    expect(latest('b/motor_current')?.q).toBe('good');
    sim.faults.reset();
    await waitFor('a registers good again', () => latest('a/motor_current')?.q === 'good', 10_000);
  });

  it('connections dropped mid-request and garbage answers do not crash the agent; it recovers', async () => {
    for (const fault of [{ dropRate: 1 }, { garbageRate: 1 }]) {
      const t = Date.now();
      sim.faults.set(fault);
      await waitFor(
        `bad samples under ${JSON.stringify(fault)}`,
        () => since(t, 'a/motor_speed').some((s) => s.p.q === 'bad'),
        15_000,
      );
      await new Promise((r) => setTimeout(r, 1500));
      sim.faults.reset();
      const healed = Date.now();
      await waitFor(
        `good after ${JSON.stringify(fault)}`,
        () =>
          since(healed, 'a/motor_speed').some((s) => s.p.q === 'good') &&
          since(healed, 'b/motor_speed').some((s) => s.p.q === 'good'),
        25_000,
      );
      expect(agent.child.exitCode).toBeNull();
    }
  });

  it('recovers after the PLC restarts', async () => {
    await sim.stop();
    const t = Date.now();
    await waitFor(
      'bad while the PLC is off',
      () => since(t, 'a/motor_speed').some((s) => s.p.q === 'bad'),
      10_000,
    );
    await startSim();
    const back = Date.now();
    await waitFor(
      'good after restart',
      () =>
        since(back, 'a/motor_speed').some((s) => s.p.q === 'good') &&
        since(back, 'b/motor_speed').some((s) => s.p.q === 'good'),
      25_000,
    );
    expect(agent.output()).not.toMatch(/"level":(50|60)/);
  });
});
