import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxOptions } from '../agent/outbox.js';
import { DurableQueue } from '../core/durable-queue.js';
import { silentLogger } from '../core/logger.js';
import { markHistorical } from '../protocols/mqtt/payload.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';
import { testDir } from './support/temp.js';

let broker: Service;
let watcher: MqttClient;
const seen: { topic: string; n: number; hist: boolean }[] = [];
const open: { outbox: Outbox; client: MqttClient }[] = [];

function options(dir: string, extra: Partial<OutboxOptions> = {}): OutboxOptions {
  return {
    path: join(dir, 'outbox.db'),
    maxBytes: 64 * 1024 * 1024,
    maxAgeMs: 3600_000,
    flushIntervalMs: 50,
    replayRatePerSec: 20_000,
    maxMemoryMessages: 10_000,
    qos: 1,
    maxInflight: 100,
    ...extra,
  };
}

function startOutbox(
  opts: OutboxOptions,
  protocolVersion: 4 | 5 = 4,
): { outbox: Outbox; client: MqttClient } {
  // No reconnecting by itself: after a broker restart, restartBroker() reconnects it once the
  // watcher is subscribed again (else the first replayed messages can reach a broker with no
  // subscriber: one run in a few under load, before this was so).
  const client = mqtt.connect(broker.url, { reconnectPeriod: 0, clean: true, protocolVersion });
  const outbox = new Outbox(
    client,
    opts,
    (r, hist) => (hist ? markHistorical(r.payload as string) : r.payload),
    silentLogger,
  );
  client.on('connect', () => outbox.resume());
  const entry = { outbox, client };
  open.push(entry);
  return entry;
}

async function closeOutbox(entry: { outbox: Outbox; client: MqttClient }): Promise<void> {
  await entry.client.endAsync(true);
  entry.outbox.close();
  open.splice(open.indexOf(entry), 1);
}

function body(n: number): string {
  return `{"n":${n}}`;
}

/**
 * Starts the killed broker again, waits until the watcher's subscription works (a probe it
 * publishes comes back to it), then reconnects the outbox's client.
 */
async function restartBroker(entry: { client: MqttClient }): Promise<void> {
  broker = await startMosquitto({ port: broker.port, dir: broker.dir });
  await waitFor('watcher back', () => watcher.connected);
  const probe = `outbox/probe-${Date.now()}`;
  await waitFor('watcher subscribed again', async () => {
    await watcher.publishAsync(probe, '{"n":-1}', { qos: 1 });
    return received(probe).length > 0;
  });
  entry.client.reconnect();
}

function received(topic: string): { n: number; hist: boolean }[] {
  return seen.filter((s) => s.topic === topic);
}

/** Each number once, in increasing order: what the outbox promises per topic. */
function expectInOrder(topic: string, count: number): void {
  const ns = received(topic).map((s) => s.n);
  expect(new Set(ns).size).toBe(count);
  expect(ns.slice().sort((a, b) => a - b)).toEqual(ns);
  expect(ns[0]).toBe(0);
  expect(ns[ns.length - 1]).toBe(count - 1);
}

beforeAll(async () => {
  broker = await startMosquitto();
  watcher = mqtt.connect(broker.url, { reconnectPeriod: 100 });
  watcher.on('message', (topic, payload) => {
    const o = JSON.parse(payload.toString()) as { n: number; hist?: boolean };
    seen.push({ topic, n: o.n, hist: o.hist === true });
  });
  await new Promise<void>((resolve) => watcher.on('connect', () => resolve()));
  await watcher.subscribeAsync('outbox/#', { qos: 1 });
});

afterEach(async () => {
  for (const entry of [...open]) await closeOutbox(entry);
});

afterAll(async () => {
  await watcher.endAsync(true);
  await broker.stop();
});

describe('Outbox against a real Mosquitto', () => {
  it('passes live messages straight through, in order, and leaves nothing on disk', async () => {
    const dir = testDir('outbox-');
    const entry = startOutbox(options(dir));
    await waitFor('connected', () => entry.client.connected);
    for (let i = 0; i < 5000; i++) entry.outbox.append('outbox/live', body(i), 1);
    await waitFor('all delivered', () => received('outbox/live').length >= 5000, 20_000);
    expectInOrder('outbox/live', 5000);
    expect(received('outbox/live').some((s) => s.hist)).toBe(false);
    // The subscriber can see the last message before the publisher has its PUBACK.
    await waitFor('all acknowledged', () => {
      entry.outbox.flush();
      return entry.outbox.stats.depth.messages === 0;
    });
    expect(entry.outbox.stats.published.messages).toBe(5000);
    expect(entry.outbox.queue.totals.messages).toBe(0);
  });

  it('writes nothing to disk for messages the broker acknowledges within the flush interval', async () => {
    const dir = testDir('outbox-');
    // A long interval, so a slow machine still gets every PUBACK in time.
    const entry = startOutbox(options(dir, { flushIntervalMs: 10_000 }));
    await waitFor('connected', () => entry.client.connected);
    for (let i = 0; i < 2000; i++) entry.outbox.append('outbox/no-disk', body(i), 1);
    await waitFor('all acknowledged', () => entry.outbox.stats.published.messages === 2000);
    expect(entry.outbox.stats.written.messages).toBe(0);
    // The broker goes away: now what is accepted is committed by the next full flush.
    await broker.kill('SIGKILL');
    await waitFor('client sees the outage', () => !entry.client.connected);
    for (let i = 2000; i < 2100; i++) entry.outbox.append('outbox/no-disk', body(i), 1);
    entry.outbox.flush();
    expect(entry.outbox.stats.written.messages).toBe(100);
    await restartBroker(entry);
    await waitFor('backlog delivered', () => entry.outbox.stats.depth.messages === 0, 20_000);
  });

  it('keeps messages on disk while the broker is down and replays them in order, marked historical', async () => {
    const dir = testDir('outbox-');
    const entry = startOutbox(options(dir, { replayRatePerSec: 2000 }));
    await waitFor('connected', () => entry.client.connected);
    for (let i = 0; i < 100; i++) entry.outbox.append('outbox/outage', body(i), 1);
    await waitFor('live part delivered', () => received('outbox/outage').length >= 100);
    await broker.kill('SIGKILL');
    await waitFor('client sees the outage', () => !entry.client.connected);
    for (let i = 100; i < 3000; i++) entry.outbox.append('outbox/outage', body(i), 1);
    await waitFor('backlog committed', () => entry.outbox.queue.totals.messages === 2900);
    await restartBroker(entry);
    // Live messages after the reconnect go out at once, beside the replay.
    await waitFor('agent back', () => entry.client.connected);
    for (let i = 3000; i < 3100; i++) entry.outbox.append('outbox/outage', body(i), 1);
    await waitFor('backlog delivered', () => entry.outbox.stats.depth.messages === 0, 20_000);
    await waitFor(
      'watcher has all',
      () => new Set(received('outbox/outage').map((s) => s.n)).size === 3100,
    );
    const all = received('outbox/outage');
    const hist = all.filter((s) => s.hist).map((s) => s.n);
    const live = all.filter((s) => !s.hist).map((s) => s.n);
    expect(hist.slice().sort((a, b) => a - b)).toEqual(hist);
    expect(live.slice().sort((a, b) => a - b)).toEqual(live);
    expect(new Set(hist)).toEqual(new Set(Array.from({ length: 2900 }, (_, i) => i + 100)));
    expect(live.filter((n) => n >= 3000)).toHaveLength(100);
    // Replayed at the configured rate, so live messages arrive while the replay is running.
    const firstLive = all.findIndex((s) => s.n === 3000);
    const lastHist = all.map((s) => s.hist).lastIndexOf(true);
    expect(firstLive).toBeLessThan(lastHist);
    entry.outbox.flush();
    expect(entry.outbox.queue.totals.messages).toBe(0);
  });

  it('replays the backlog of a previous process after a restart', async () => {
    const dir = testDir('outbox-');
    const queue = new DurableQueue(join(dir, 'outbox.db'), { maxBytes: 1e9, maxAgeMs: 3600_000 });
    queue.commit(
      Array.from({ length: 500 }, (_, n) => ({
        id: n + 1,
        ts: Date.now(),
        topic: 'outbox/restart',
        payload: body(n),
        samples: 1,
      })),
      [],
    );
    // Closed without a checkpoint, as after kill -9: the rows live only in the WAL.
    const entry = startOutbox(options(dir));
    await waitFor('backlog delivered', () => received('outbox/restart').length >= 500, 20_000);
    expectInOrder('outbox/restart', 500);
    expect(received('outbox/restart').every((s) => s.hist)).toBe(true);
    entry.outbox.append('outbox/restart', body(500), 1);
    await waitFor('new message after the backlog', () =>
      received('outbox/restart').some((s) => s.n === 500 && !s.hist),
    );
    queue.close();
  });

  it('drops the oldest messages beyond maxBytes and counts them', async () => {
    const dir = testDir('outbox-');
    const entry = startOutbox(options(dir, { maxBytes: 1_000_000 }));
    await waitFor('connected', () => entry.client.connected);
    await broker.kill('SIGKILL');
    await waitFor('client sees the outage', () => !entry.client.connected);
    // Random, so that storing it deflated does not make it fit: maxBytes counts stored bytes.
    const pad = randomBytes(1200).toString('base64');
    for (let i = 0; i < 3000; i++)
      entry.outbox.append('outbox/full', `{"n":${i},"pad":"${pad}"}`, 2);
    entry.outbox.flush();
    const { dropped, depth } = entry.outbox.stats;
    expect(depth.bytes).toBeLessThanOrEqual(1_000_000);
    expect(dropped.messages).toBeGreaterThan(1500);
    expect(dropped.samples).toBe(dropped.messages * 2);
    expect(dropped.messages + depth.messages).toBe(3000);
    await restartBroker(entry);
    await waitFor('backlog delivered', () => entry.outbox.stats.depth.messages === 0, 20_000);
    const ns = received('outbox/full').map((s) => s.n);
    // The newest survive, the oldest went.
    expect(ns[ns.length - 1]).toBe(2999);
    expect(Math.min(...ns)).toBe(dropped.messages);
  });

  it.each([4, 5] as const)(
    'QoS 0 over MQTT %s: sent without waiting, in order, multi-byte and large bodies intact',
    async (protocolVersion) => {
      const dir = testDir('outbox-');
      const entry = startOutbox(options(dir, { qos: 0 }), protocolVersion);
      await waitFor('connected', () => entry.client.connected);
      const topic = `outbox/qos0-v${protocolVersion}/°C`;
      for (let i = 0; i < 2000; i++) entry.outbox.append(topic, body(i), 1);
      // Larger than one socket write batch, and more bytes than characters.
      entry.outbox.append(topic, `{"n":2000,"pad":"${'é'.repeat(40_000)}"}`, 1);
      await waitFor('all delivered', () => received(topic).length >= 2001, 20_000);
      expectInOrder(topic, 2001);
      const { published, depth } = entry.outbox.stats;
      expect(published.messages).toBe(2001);
      expect(depth.messages).toBe(0);
    },
  );

  it('QoS 0: keeps messages while the broker is down and replays them in order, marked historical', async () => {
    const dir = testDir('outbox-');
    const entry = startOutbox(options(dir, { qos: 0, replayRatePerSec: 2000 }), 5);
    await waitFor('connected', () => entry.client.connected);
    for (let i = 0; i < 100; i++) entry.outbox.append('outbox/qos0-outage', body(i), 1);
    await waitFor('live part delivered', () => received('outbox/qos0-outage').length >= 100);
    await broker.kill('SIGKILL');
    await waitFor('client sees the outage', () => !entry.client.connected);
    for (let i = 100; i < 2000; i++) entry.outbox.append('outbox/qos0-outage', body(i), 1);
    await restartBroker(entry);
    await waitFor('agent back', () => entry.client.connected);
    await waitFor('backlog sent', () => entry.outbox.stats.depth.messages === 0, 20_000);
    await waitFor(
      'watcher has all',
      () => new Set(received('outbox/qos0-outage').map((s) => s.n)).size === 2000,
    );
    const hist = received('outbox/qos0-outage')
      .filter((s) => s.hist)
      .map((s) => s.n);
    expect(hist).toEqual(Array.from({ length: 1900 }, (_, i) => i + 100));
  });

  it('falls back to memory with a clear error when the file cannot be opened', async () => {
    const dir = testDir('outbox-');
    const readOnly = join(dir, 'ro');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o500);
    const path = join(readOnly, 'sub', 'outbox.db');
    const entry = startOutbox(options(dir, { path }));
    expect(entry.outbox.durable).toBe(false);
    expect(entry.outbox.stats.lastError).toMatch(/cannot be opened.*memory only/);
    await waitFor('connected', () => entry.client.connected);
    for (let i = 0; i < 100; i++) entry.outbox.append('outbox/memory', body(i), 1);
    await waitFor('delivered', () => received('outbox/memory').length >= 100);
    expectInOrder('outbox/memory', 100);
  });
});
