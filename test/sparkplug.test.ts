import mqtt, { type MqttClient } from 'mqtt';
import sparkplugPayload from 'sparkplug-payload';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { startSimulator, writeConfig } from './support/pipeline.js';
import { startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

// What the agent sends is decoded with the sparkplug-payload package itself (Eclipse Tahu's
// codec), not with our own decoder, and checked against the Sparkplug B 3.0 rules.
const codec = sparkplugPayload.get('spBv1.0')!;
const GROUP = 'plant1';
const NODE = 'edge-sp';
const DEVICES = ['press1', 'press2'];

interface Metric {
  name?: string;
  alias?: number;
  type?: string;
  value: unknown;
  timestamp?: number;
  isHistorical?: boolean;
}

interface Seen {
  topic: string;
  verb: string;
  device?: string;
  seq?: number;
  metrics: Metric[];
  at: number;
}

let broker: Service;
/** One simulated PLC per device. */
let sims: Micro820Simulator[] = [];
let agent: Running;
let file: string;
let host: MqttClient;
const seen: Seen[] = [];

/** Long (from protobufjs) or number → number. */
function num(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  return (v as { toNumber: () => number }).toNumber();
}

function record(topic: string, payload: Buffer): void {
  const [, , verb, , device] = topic.split('/');
  const p = codec.decodePayload(payload);
  seen.push({
    topic,
    verb: verb!,
    ...(device ? { device } : {}),
    ...(p.seq !== undefined && p.seq !== null ? { seq: num(p.seq) } : {}),
    metrics: (p.metrics ?? []).map((m) => ({
      ...(m.name ? { name: m.name } : {}),
      ...(m.alias !== undefined && m.alias !== null ? { alias: num(m.alias) } : {}),
      ...(m.type ? { type: m.type } : {}),
      value: typeof m.value === 'object' && m.value !== null ? num(m.value) : m.value,
      timestamp: num(m.timestamp),
      isHistorical: m.isHistorical === true,
    })),
    at: Date.now(),
  });
}

const bdSeq = (s: Seen) => s.metrics.find((m) => m.name === 'bdSeq')?.value as number;
const births = () => seen.filter((s) => s.verb === 'NBIRTH');

function agentConfig(): Record<string, unknown> {
  const device = (name: string, i: number) => ({
    name,
    protocol: 'modbus-tcp',
    host: '127.0.0.1',
    port: sims[i]!.port,
    asset: name,
    pollIntervalMs: 50,
    tags: [
      { name: 'motor_running', address: 'coil:0', writable: true },
      // Noisy in the simulator: nearly a DDATA per device per cycle, so seq wraps within seconds.
      { name: 'motor_current', address: 'hr:101', type: 'uint16', scale: 0.1 },
      { name: 'pressure', address: 'hr:103', type: 'uint16' },
      { name: 'temperature', address: 'hr:102', type: 'int16', scale: 0.1 },
    ],
  });
  return {
    site: GROUP,
    area: 'packaging',
    line: 'line1',
    node: NODE,
    mqtt: { url: broker.url },
    publish: { output: 'sparkplug' },
    writes: { enabled: true },
    devices: DEVICES.map(device),
  };
}

function startAgent(): Running {
  return startCli(['agent', '--config', file]);
}

beforeAll(async () => {
  broker = await startMosquitto();
  sims = await Promise.all(DEVICES.map(() => startSimulator()));
  host = mqtt.connect(broker.url, { reconnectPeriod: 100 });
  host.on('connect', () => host.subscribe('spBv1.0/#', { qos: 1 }));
  host.on('message', (topic, payload) => record(topic, payload));
  await waitFor('host connected', () => host.connected);
  file = writeConfig('agent', agentConfig());
  agent = startAgent();
  await waitFor('DDATA', () => seen.some((s) => s.verb === 'DDATA')).catch((err) => {
    throw new Error(`${String(err)}\n${agent.output()}`);
  });
});

afterAll(async () => {
  await agent?.stop();
  host?.end(true);
  await Promise.all(sims.map((s) => s.stop()));
  await broker?.stop();
});

describe('Sparkplug B output of the agent', () => {
  it('births the node and each device with every metric and alias, then sends DDATA by alias', () => {
    const [nbirth, ...rest] = seen;
    expect(nbirth).toMatchObject({
      verb: 'NBIRTH',
      topic: `spBv1.0/${GROUP}/NBIRTH/${NODE}`,
      seq: 0,
    });
    expect(nbirth!.metrics.find((m) => m.name === 'bdSeq')).toMatchObject({ type: 'Int64' });
    expect(nbirth!.metrics.find((m) => m.name === 'Node Control/Rebirth')).toMatchObject({
      type: 'Boolean',
      value: false,
    });
    const dbirths = rest.slice(0, DEVICES.length);
    expect(dbirths.map((d) => [d.verb, d.device, d.seq])).toEqual([
      ['DBIRTH', 'press1', 1],
      ['DBIRTH', 'press2', 2],
    ]);
    const aliases = new Map<number, { device: string; name: string; type: string }>();
    for (const d of dbirths) {
      expect(d.metrics.map((m) => m.name).sort()).toEqual(
        ['motor_current', 'motor_running', 'pressure', 'temperature'].map(
          (t) => `${d.device}/${t}`,
        ),
      );
      for (const m of d.metrics) {
        expect(aliases.has(m.alias!)).toBe(false);
        aliases.set(m.alias!, { device: d.device!, name: m.name!, type: m.type! });
      }
    }
    expect(
      aliases.get(dbirths[0]!.metrics.find((m) => m.name!.endsWith('motor_running'))!.alias!),
    ).toMatchObject({ type: 'Boolean' });
    expect(
      aliases.get(dbirths[0]!.metrics.find((m) => m.name!.endsWith('temperature'))!.alias!),
    ).toMatchObject({ type: 'Double' });
    const ddata = seen.filter((s) => s.verb === 'DDATA');
    for (const d of ddata)
      for (const m of d.metrics) {
        // DATA carries aliases only, each one born on this device.
        expect(m.name).toBeUndefined();
        expect(aliases.get(m.alias!)?.device).toBe(d.device);
      }
  });

  it('numbers every message after NBIRTH with seq 0-255, wrapping to 0', async () => {
    const start = seen.length;
    await waitFor('more than 256 DDATA', () => seen.length - start > 300, 30_000);
    const stream = seen.filter((s) => s.verb !== 'NDEATH');
    for (let i = 1; i < stream.length; i++) {
      const s = stream[i]!;
      if (s.verb === 'NBIRTH') expect(s.seq).toBe(0);
      else expect(s.seq).toBe((stream[i - 1]!.seq! + 1) % 256);
    }
    expect(stream.some((s, i) => s.seq === 0 && stream[i - 1]?.seq === 255)).toBe(true);
  });

  it('births again on a Node Control/Rebirth NCMD, with the same bdSeq', async () => {
    const before = births();
    const from = seen.length;
    const ncmd = codec.encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
    });
    host.publish(`spBv1.0/${GROUP}/NCMD/${NODE}`, Buffer.from(ncmd), { qos: 0 });
    const rebirth = await waitFor('a new NBIRTH', () =>
      seen.slice(from).find((s) => s.verb === 'NBIRTH'),
    );
    expect(rebirth.seq).toBe(0);
    expect(bdSeq(rebirth)).toBe(bdSeq(before.at(-1)!));
    const i = seen.indexOf(rebirth);
    await waitFor('its DBIRTHs', () => seen.length > i + 2);
    expect(seen.slice(i + 1, i + 3).map((s) => [s.verb, s.seq])).toEqual([
      ['DBIRTH', 1],
      ['DBIRTH', 2],
    ]);
  });

  it('writes from a DCMD to a writable tag; refuses one that is not', async () => {
    const dbirth = seen.filter((s) => s.verb === 'DBIRTH' && s.device === 'press1').at(-1)!;
    const running = dbirth.metrics.find((m) => m.name === 'press1/motor_running')!;
    expect(sims[0]!.model.snapshot().coils[0]).toBe(true);
    const dcmd = (metrics: object[]) =>
      host.publish(
        `spBv1.0/${GROUP}/DCMD/${NODE}/press1`,
        Buffer.from(codec.encodePayload({ timestamp: Date.now(), metrics } as never)),
      );
    const from = seen.length;
    dcmd([{ alias: running.alias, type: 'Boolean', value: false }]);
    await waitFor(
      'the motor stopped by the write',
      () => sims[0]!.model.snapshot().coils[0] === false,
    );
    await waitFor('DDATA reporting it', () =>
      seen
        .slice(from)
        .some((s) => s.metrics.some((m) => m.alias === running.alias && m.value === false)),
    );
    dcmd([{ name: 'press1/temperature', type: 'Double', value: 99 }]);
    await agent.waitForOutput(/"ref":"press1\/temperature".*"msg":"write refused"/);
    expect(agent.output()).toMatch(/press1\/temperature is not writable/);
  });

  it('keeps DDATA through a broker outage and sends it after the new birth as is_historical', async () => {
    const bd = bdSeq(births().at(-1)!);
    const killedAt = Date.now();
    await broker.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 2000));
    const backAt = Date.now();
    broker = await startMosquitto({ port: broker.port, dir: broker.dir });
    const nbirth = await waitFor(
      'NBIRTH after the outage',
      () => seen.find((s) => s.verb === 'NBIRTH' && s.at >= backAt),
      30_000,
    );
    // A new CONNECT, a new bdSeq (one per connection attempt, so possibly more than one up).
    expect(bdSeq(nbirth)).not.toBe(bd);
    const i = seen.indexOf(nbirth);
    // Samples read while the broker was down arrive after the birth, marked historical, with
    // their own timestamps.
    await waitFor(
      'historical DDATA covering the outage',
      () => {
        const hist = seen
          .slice(i)
          .flatMap((s) => s.metrics.filter((m) => m.isHistorical).map((m) => m.timestamp!));
        return hist.some((t) => t > killedAt + 500 && t < backAt - 500);
      },
      30_000,
    );
    const after = seen.slice(i);
    expect(after.slice(0, 3).map((s) => s.verb)).toEqual(['NBIRTH', 'DBIRTH', 'DBIRTH']);
    // Nothing historical before the births.
    expect(
      seen
        .slice(0, i)
        .some((s) => s.metrics.some((m) => m.isHistorical && m.timestamp! > killedAt + 500)),
    ).toBe(false);
  });

  it('leaves NDEATH with the current bdSeq as its Will when killed', async () => {
    const bd = bdSeq(births().at(-1)!);
    const from = seen.length;
    agent.child.kill('SIGKILL');
    const death = await waitFor('NDEATH', () => seen.slice(from).find((s) => s.verb === 'NDEATH'));
    expect(death.topic).toBe(`spBv1.0/${GROUP}/NDEATH/${NODE}`);
    expect(bdSeq(death)).toBe(bd);
    expect(death.seq).toBeUndefined();
  });
});
