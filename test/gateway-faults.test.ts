import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayStats } from '../gateway/gateway.js';
import { writeConfig } from './support/pipeline.js';
import { startCli, type Running } from './support/processes.js';
import {
  influxQuery,
  startInfluxDb1,
  startMosquitto,
  startVictoriaMetrics,
  vmExport,
  type Service,
} from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * The gateway's no-loss promise with real processes: the `factorylm gateway` CLI between a real
 * Mosquitto and a real VictoriaMetrics or InfluxDB 1.6, fed by a publisher at a steady rate.
 * Every point is counted at the database.
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function mosquitto(): Promise<Service> {
  // The broker must hold what the gateway has not acknowledged yet, and a stopped gateway's
  // queue: Mosquitto's default of 1000 queued messages per client would drop the rest.
  const broker = await startMosquitto({ maxQueuedMessages: 1_000_000 });
  cleanup.push(() => broker.stop());
  return broker;
}

/** Starts the gateway CLI on a config file; resolves once it has subscribed. */
async function gatewayOn(file: string): Promise<Running> {
  const gateway = startCli(['gateway', '--config', file]);
  cleanup.push(() => gateway.stop('SIGKILL'));
  await gateway.waitForOutput(/"msg":"subscribed"/);
  return gateway;
}

/** The JSON log lines of a process, parsed. */
function logLines(running: Running): Record<string, unknown>[] {
  return running
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** SIGTERM, then the stats the gateway logs as it stops. */
async function stopAndReadStats(gateway: Running): Promise<Required<GatewayStats>> {
  await gateway.stop();
  const stopped = logLines(gateway).find((l) => l.msg === 'gateway stopped');
  expect(stopped, gateway.output().slice(-3000)).toBeDefined();
  return stopped as unknown as Required<GatewayStats>;
}

/**
 * Publishes at a steady rate through its own connection, QoS 1: every tick one message per tag
 * of 5 assets × 10 tags, and one asset-batch message of 10 tags, all stamped with the tick's
 * time (unique per series). Remembers every point it published.
 */
class LoadPublisher {
  /** `asset/tag` → timestamps published. */
  readonly expected = new Map<string, Set<number>>();
  points = 0;
  messages = 0;
  private timer?: NodeJS.Timeout;
  private last = 0;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly client: MqttClient,
    private readonly area: string,
  ) {}

  static async connect(url: string, area: string): Promise<LoadPublisher> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `load-${area}` });
    cleanup.push(() => client.endAsync(true));
    return new LoadPublisher(client, area);
  }

  start(ticksPerSec: number): void {
    this.timer = setInterval(() => this.tick(), 1000 / ticksPerSec);
  }

  /** Stops and waits until the broker has every message. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.pending]);
  }

  get totalPoints(): number {
    return this.points;
  }

  private tick(): void {
    const ts = Math.max(Date.now(), this.last + 1);
    this.last = ts;
    const base = `factorylm/plant1/${this.area}/line1`;
    for (let a = 0; a < 5; a++) {
      for (let t = 0; t < 10; t++) {
        this.publish(`${base}/asset${a}/t${t}`, JSON.stringify({ v: (ts % 1000) + t, ts }));
        this.note(`asset${a}`, `t${t}`, ts);
      }
    }
    const v: Record<string, number> = {};
    for (let b = 0; b < 10; b++) {
      v[`b${b}`] = (ts % 997) + b;
      this.note('batch', `b${b}`, ts);
    }
    this.publish(`${base}/batch`, JSON.stringify({ ts, v }));
  }

  private note(asset: string, tag: string, ts: number): void {
    const key = `${asset}/${tag}`;
    let set = this.expected.get(key);
    if (!set) this.expected.set(key, (set = new Set()));
    set.add(ts);
    this.points += 1;
  }

  private publish(topic: string, payload: string): void {
    this.messages += 1;
    const p = this.client.publishAsync(topic, payload, { qos: 1 });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

interface Census {
  /** Distinct (series, timestamp) stored. */
  stored: number;
  /** Stored more than once (at-least-once delivery after a crash). */
  duplicates: number;
  missing: number;
  /** Stored but never published (must be 0). */
  extra: number;
  sampleMissing: string[];
}

/** Compares what VictoriaMetrics holds for `area` with what was published. */
async function vmCensus(url: string, area: string, expected: LoadPublisher): Promise<Census> {
  const series = await vmExport(url, `{__name__="plc_tags_value",area="${area}"}`);
  const stored = new Map<string, Set<number>>();
  let raw = 0;
  for (const s of series) {
    const key = `${s.metric.asset}/${s.metric.tag}`;
    const set = stored.get(key) ?? new Set<number>();
    for (const ts of s.timestamps) set.add(ts);
    raw += s.timestamps.length;
    stored.set(key, set);
  }
  let missing = 0;
  let extra = 0;
  let distinct = 0;
  const sampleMissing: string[] = [];
  for (const [key, want] of expected.expected) {
    const have = stored.get(key) ?? new Set<number>();
    for (const ts of want) {
      if (have.has(ts)) continue;
      missing += 1;
      if (sampleMissing.length < 5) sampleMissing.push(`${key}@${ts}`);
    }
  }
  for (const [key, have] of stored) {
    distinct += have.size;
    const want = expected.expected.get(key);
    for (const ts of have) if (!want?.has(ts)) extra += 1;
  }
  return { stored: distinct, duplicates: raw - distinct, missing, extra, sampleMissing };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gateway faults (real Mosquitto, gateway CLI, real databases)', () => {
  it('VictoriaMetrics stopped for 60 s under load: every point arrives with its timestamp, live data flows during the drain', async () => {
    const broker = await mosquitto();
    let vm = await startVictoriaMetrics();
    const { port, dir } = vm;
    cleanup.push(() => vm.stop());
    const file = writeConfig('gateway', {
      name: 'fault-vm',
      mqtt: { url: broker.url },
      influx: {
        api: 'v2',
        url: vm.url,
        batchSize: 1000,
        flushIntervalMs: 200,
        timeoutMs: 2000,
      },
      // A drain slower than the default, so the test can see live points pass during it.
      spool: { retryMaxMs: 2000, drainRatePerSec: 10_000 },
    });
    const gateway = await gatewayOn(file);
    const load = await LoadPublisher.connect(broker.url, 'outage');
    load.start(20); // 1,200 points/s in 1,020 messages/s

    await sleep(5000);
    await vm.kill('SIGTERM');
    const downAt = Date.now();
    await gateway.waitForOutput(/InfluxDB unreachable: spooling/, 15_000);
    await sleep(60_000 - (Date.now() - downAt));
    vm = await startVictoriaMetrics({ port, dir });
    const upAt = Date.now();
    await gateway.waitForOutput(/InfluxDB answers again/, 15_000);

    // A point published after the restart is in VictoriaMetrics while the spool is still draining.
    let liveWhileDraining = false;
    await waitFor(
      'a live point after the restart',
      async () => {
        const drained = /"msg":"spool drained"/.test(gateway.output());
        const series = await vmExport(
          vm.url,
          '{__name__="plc_tags_value",area="outage",asset="asset0",tag="t0"}',
        );
        const seen = series[0]?.timestamps.some((ts) => ts > upAt + 500) ?? false;
        if (seen) liveWhileDraining = !drained;
        return seen;
      },
      20_000,
      200,
    );
    await sleep(3000);
    await load.stop();
    await gateway.waitForOutput(/"msg":"spool drained"/, 60_000);

    let census: Census | undefined;
    await waitFor(
      'every published point in VictoriaMetrics',
      async () => {
        census = await vmCensus(vm.url, 'outage', load);
        return census.missing === 0;
      },
      60_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last census ${JSON.stringify(census)}`);
    });
    const stats = await stopAndReadStats(gateway);
    console.log(
      `VM outage 60 s: ${load.totalPoints} points published in ${load.messages} messages; ` +
        `${census!.stored} stored, ${census!.missing} missing, ${census!.duplicates} duplicates; ` +
        `spooled ${stats.sink.spool.spooled}, drained ${stats.sink.spool.drained}, dropped ${stats.sink.dropped}`,
    );
    expect(census).toMatchObject({ missing: 0, extra: 0, stored: load.totalPoints });
    expect(liveWhileDraining).toBe(true);
    expect(stats.sink.spool.spooled).toBeGreaterThan(50_000);
    expect(stats.sink.spool.drained).toBe(stats.sink.spool.spooled);
    expect(stats.sink).toMatchObject({ dropped: 0, rejected: 0, influx: 'up' });
    expect(stats.invalid).toEqual({});
  }, 170_000);

  it('kill -9 of the gateway while it spools (InfluxDB 1.6 down): restarted on the same spool, nothing is lost', async () => {
    const broker = await mosquitto();
    let influx = await startInfluxDb1('sensors');
    const { port, dir } = influx;
    cleanup.push(() => influx.stop());
    const file = writeConfig('gateway', {
      name: 'fault-kill',
      mqtt: { url: broker.url },
      influx: {
        api: 'v1',
        url: influx.url,
        database: 'sensors',
        batchSize: 1000,
        flushIntervalMs: 200,
        timeoutMs: 2000,
      },
      spool: { retryMaxMs: 1000 },
    });
    const first = await gatewayOn(file);
    const load = await LoadPublisher.connect(broker.url, 'crash');
    load.start(20);

    await sleep(3000);
    await influx.kill('SIGTERM');
    await first.waitForOutput(/InfluxDB unreachable: spooling/, 15_000);
    await sleep(3000);
    await first.stop('SIGKILL');
    // Published while no gateway runs: the broker queues them for the persistent session.
    await sleep(3000);
    const second = await gatewayOn(file);
    expect(second.output()).toMatch(/the spool holds points from before the restart/);
    const backlog = logLines(second).find((l) => /before the restart/.test(String(l.msg)));
    await sleep(2000);
    influx = await startInfluxDb1('sensors', { port, dir });
    await second.waitForOutput(/InfluxDB answers again/, 15_000);
    await sleep(2000);
    await load.stop();

    const count = async () => {
      const rows = await influxQuery(
        influx.url,
        `SELECT count("value") FROM "plc_tags" WHERE "area" = 'crash'`,
        'sensors',
      );
      return (rows[0]?.values[0]?.[1] as number | undefined) ?? 0;
    };
    let stored = 0;
    await waitFor(
      'every published point in InfluxDB',
      async () => (stored = await count()) >= load.totalPoints,
      60_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; stored ${stored} of ${load.totalPoints}`);
    });
    const stats = await stopAndReadStats(second);
    console.log(
      `kill -9 while spooling: ${load.totalPoints} points published, ${stored} in InfluxDB; ` +
        `spool held ${String(backlog?.points)} points at the restart; ` +
        `after the restart spooled ${stats.sink.spool.spooled}, drained ${stats.sink.spool.drained}`,
    );
    // InfluxDB keeps one point per series and timestamp, so this is the distinct count.
    expect(stored).toBe(load.totalPoints);
    expect(backlog?.points).toBeGreaterThan(1000);
    expect(stats.sink).toMatchObject({ dropped: 0, rejected: 0 });
  }, 120_000);

  it('10,000 malformed payloads mixed into valid traffic: every valid point written, every bad one counted by reason', async () => {
    const broker = await mosquitto();
    const vm = await startVictoriaMetrics();
    cleanup.push(() => vm.stop());
    const gateway = await gatewayOn(
      writeConfig('gateway', {
        name: 'fault-junk',
        mqtt: { url: broker.url },
        influx: { api: 'v2', url: vm.url, batchSize: 2000, flushIntervalMs: 200 },
      }),
    );
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanup.push(() => client.endAsync(true));

    const base = 'factorylm/plant1/junk/line1';
    const t0 = Date.now() - 600_000;
    const junk: { reason: string; topic: string; payload: string | Buffer }[] = [
      { reason: 'not-json', topic: `${base}/a/t`, payload: '{"v": 1,' },
      { reason: 'not-json', topic: `${base}/a/t`, payload: '' },
      { reason: 'not-json', topic: `${base}/a/t`, payload: Buffer.from([0xff, 0x00, 0x7b]) },
      { reason: 'not-object', topic: `${base}/a/t`, payload: '[1,2]' },
      { reason: 'bad-value', topic: `${base}/a/t`, payload: `{"v":[1],"ts":${t0}}` },
      { reason: 'bad-value', topic: `${base}/a/t`, payload: `{"v":null,"ts":${t0},"q":"good"}` },
      { reason: 'bad-value', topic: `${base}/a`, payload: `{"ts":${t0},"v":5}` },
      { reason: 'bad-timestamp', topic: `${base}/a/t`, payload: '{"v":1,"ts":1732480000}' },
      { reason: 'bad-timestamp', topic: `${base}/a/t`, payload: '{"v":1}' },
      { reason: 'bad-quality', topic: `${base}/a/t`, payload: `{"v":1,"ts":${t0},"q":"meh"}` },
      { reason: 'unknown-topic', topic: 'factorylm/plant1/x', payload: `{"v":1,"ts":${t0}}` },
      { reason: 'unknown-topic', topic: `${base}/a/t/deeper`, payload: `{"v":1,"ts":${t0}}` },
    ];
    const expectedInvalid: Record<string, number> = {};
    const expected = new Map<string, Set<number>>();
    let validPoints = 0;
    const note = (asset: string, tag: string, ts: number) => {
      const key = `${asset}/${tag}`;
      expected.set(key, (expected.get(key) ?? new Set()).add(ts));
      validPoints += 1;
    };
    const inflight: Promise<unknown>[] = [];
    const send = async (topic: string, payload: string | Buffer) => {
      inflight.push(client.publishAsync(topic, payload, { qos: 1 }));
      if (inflight.length >= 500) await Promise.all(inflight.splice(0));
    };
    // Two bad messages, then one valid one (a tag, every tenth an asset batch; some tag names
    // that line protocol must escape), until 10,000 bad ones are out.
    let ts = t0;
    for (let i = 0; i < 10_000; i++) {
      const bad = junk[i % junk.length]!;
      expectedInvalid[bad.reason] = (expectedInvalid[bad.reason] ?? 0) + 1;
      await send(bad.topic, bad.payload);
      if (i % 2 === 1) {
        ts += 1;
        if (i % 20 === 1) {
          await send(
            `${base}/press`,
            JSON.stringify({ ts, v: { p1: i, 'p 2': i + 1, 'p,3=x': 1 } }),
          );
          for (const tag of ['p1', 'p 2', 'p,3=x']) note('press', tag, ts);
        } else {
          const tag = `t${i % 7}`;
          await send(`${base}/valve/${tag}`, JSON.stringify({ v: i, ts, q: 'good' }));
          note('valve', tag, ts);
        }
      }
    }
    await Promise.all(inflight);

    const census = async () => {
      const series = await vmExport(vm.url, '{__name__="plc_tags_value",area="junk"}');
      let missing = 0;
      let stored = 0;
      for (const [key, want] of expected) {
        const [asset, tag] = key.split('/') as [string, string];
        const s = series.find((x) => x.metric.asset === asset && x.metric.tag === tag);
        const have = new Set(s?.timestamps);
        stored += have.size;
        for (const t of want) if (!have.has(t)) missing += 1;
      }
      return { missing, stored, series: series.length };
    };
    let last = { missing: -1, stored: 0, series: 0 };
    await waitFor('every valid point in VictoriaMetrics', async () => {
      last = await census();
      return last.missing === 0;
    }).catch((err: Error) => {
      throw new Error(`${err.message}; last census ${JSON.stringify(last)}`);
    });
    const stats = await stopAndReadStats(gateway);
    console.log(
      `malformed: 10000 bad and ${validPoints} valid points; stored ${last.stored}; invalid ${JSON.stringify(stats.invalid)}`,
    );
    expect(last).toEqual({ missing: 0, stored: validPoints, series: expected.size });
    expect(stats.invalid).toEqual(expectedInvalid);
    expect(Object.values(stats.invalid).reduce((a, b) => a + b)).toBe(10_000);
    expect(stats.points).toBe(validPoints);
    expect(stats.sink).toMatchObject({ dropped: 0, rejected: 0 });
    // A sample of each reason in the log, not 10,000 lines.
    const warned = logLines(gateway).filter((l) => l.msg === 'invalid message dropped');
    expect(new Set(warned.map((l) => l.reason))).toEqual(new Set(Object.keys(expectedInvalid)));
    expect(warned.length).toBeLessThan(50);
  }, 90_000);
});
