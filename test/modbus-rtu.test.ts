import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTagPayload } from '../protocols/mqtt/payload.js';
import { startCli, type Running } from './support/processes.js';
import { startMosquitto, startPtyPair, type PtyPair, type Service } from './support/services.js';
import { writeConfig } from './support/pipeline.js';
import { waitFor } from './support/wait.js';

let line: PtyPair;
let mosquitto: Service;
let sim: Running;
let agent: Running;
let watcher: MqttClient;
const latest = new Map<string, { v: unknown; q: string; count: number }>();
const statuses = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  [line, mosquitto] = await Promise.all([startPtyPair(), startMosquitto()]);
  sim = startCli([
    'sim',
    'modbus',
    '--units',
    '1,2',
    '--serial',
    `modbus-rtu://${line.a}?baud=19200`,
    '--no-tcp',
  ]);
  await sim.waitForOutput(/simulator on serial/);
  const serial = { path: line.b, baudRate: 19200 };
  const device = (name: string, unitId: number) => ({
    name,
    protocol: 'modbus-rtu',
    serial,
    unitId,
    asset: name,
    pollIntervalMs: 300,
    timeoutMs: 300,
    tags: [
      { name: 'motor_running', address: 'coil:0' },
      { name: 'motor_speed', address: 'hr:100', unit: 'rpm' },
      { name: 'temperature', address: 'hr:102', type: 'int16', scale: 0.1 },
    ],
  });
  // Unit 3 has no PLC behind it: it must not slow units 1 and 2 down.
  const file = writeConfig('agent', {
    site: 'plant1',
    area: 'a',
    line: 'l',
    node: 'rtu-node',
    mqtt: { url: mosquitto.url },
    devices: [device('press1', 1), device('press2', 2), device('ghost', 3)],
  });
  watcher = mqtt.connect(mosquitto.url);
  watcher.on('connect', () => watcher.subscribe('factorylm/plant1/#'));
  watcher.on('message', (topic, payload) => {
    if (topic.includes('/_nodes/rtu-node/devices/'))
      statuses.set(topic.split('/').pop()!, JSON.parse(payload.toString()));
    const decoded = decodeTagPayload(payload);
    if (!decoded.ok) return;
    const key = topic.split('/').slice(-2).join('/');
    latest.set(key, {
      v: decoded.value.v,
      q: decoded.value.q,
      count: (latest.get(key)?.count ?? 0) + 1,
    });
  });
  agent = startCli(['agent', '--config', file]);
});

afterAll(async () => {
  watcher?.end(true);
  await agent?.stop();
  await sim?.stop();
  await Promise.all([line?.stop(), mosquitto?.stop()]);
});

describe('Modbus RTU over a real serial line (socat pty pair)', () => {
  it('polls two unit ids on one line, and marks a silent unit bad without stalling them', async () => {
    await waitFor(
      'both units at rated speed',
      () =>
        latest.get('press1/motor_speed')?.v === 1750 &&
        latest.get('press2/motor_speed')?.v === 1750,
      20_000,
    );
    for (const unit of ['press1', 'press2']) {
      expect(latest.get(`${unit}/motor_running`)).toMatchObject({ v: true, q: 'good' });
      expect(latest.get(`${unit}/temperature`)?.q).toBe('good');
      expect(latest.get(`${unit}/temperature`)?.v as number).toBeGreaterThan(20);
    }
    // The ghost's first timeout may land after the healthy units are up: wait for it.
    await waitFor(
      'ghost published bad',
      () => latest.get('ghost/motor_speed')?.q === 'bad',
      15_000,
    );
    expect(latest.get('ghost/motor_speed')).toMatchObject({ q: 'bad', v: null });
    await waitFor(
      'ghost marked failing',
      () => statuses.get('ghost')?.status === 'failing',
      15_000,
    );
    expect(statuses.get('ghost')).toMatchObject({ reason: 'timeout' });
    expect(statuses.get('press1')).toMatchObject({ status: 'connected' });
    // The healthy units keep their poll rate while the ghost is on the slow schedule.
    const before =
      latest.get('press1/temperature')!.count + latest.get('press2/temperature')!.count;
    await new Promise((r) => setTimeout(r, 3000));
    const after = latest.get('press1/temperature')!.count + latest.get('press2/temperature')!.count;
    expect(after - before).toBeGreaterThanOrEqual(6);
    expect(agent.child.exitCode).toBeNull();
  });
});
