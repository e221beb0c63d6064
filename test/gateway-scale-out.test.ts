import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from './support/pipeline.js';
import type { Running } from './support/processes.js';
import {
  startMosquitto,
  startVictoriaMetrics,
  vmExport,
  type Service,
  type VmSeries,
} from './support/services.js';
import { waitFor } from './support/wait.js';

// Scale-out (issue 6, item 7): two gateway processes in one MQTT 5 shared-subscription group
// ($share/<group>/factorylm/…) on a real Mosquitto split the traffic, and every sample reaches
// VictoriaMetrics exactly once.

const TAGS = 100;
const PER_TAG = 200;
const N = TAGS * PER_TAG;
/** Messages per second the test publisher sends, evenly spread. */
const RATE = 2500;
const T0 = Date.now() - 3_600_000;
const SITE = 'scaleout';

let mosquitto: Service;
let vm: Service;
const gateways: Running[] = [];

function gatewayConfig(name: string): Record<string, unknown> {
  return {
    name,
    mqtt: { url: mosquitto.url, protocolVersion: 5 },
    subscribe: { site: SITE, shareGroup: 'scale-test', qos: 1 },
    influx: { api: 'v2', url: vm.url, batchSize: 2000, flushIntervalMs: 200 },
  };
}

/** Stats of a stopped gateway CLI, from its "gateway stopped" log line. */
function stoppedStats(g: Running): { messages: number; points: number } {
  const line = g
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"gateway stopped"'));
  if (!line) throw new Error(`no "gateway stopped" line in\n${g.output().slice(-3000)}`);
  return JSON.parse(line) as { messages: number; points: number };
}

beforeAll(async () => {
  // Room in the broker's per-client queue for a burst while a gateway holds PUBACKs until its
  // batch is written (a production broker is configured the same way).
  [mosquitto, vm] = await Promise.all([
    startMosquitto({ maxQueuedMessages: 100_000 }),
    startVictoriaMetrics(),
  ]);
  // Each its own name: the client id of the persistent session comes from it.
  for (const name of ['scale-a', 'scale-b']) gateways.push(await startGateway(gatewayConfig(name)));
}, 60_000);

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all([mosquitto?.stop(), vm?.stop()]);
});

describe('two gateways in one shared-subscription group', () => {
  it(`write each of ${N} samples exactly once, and both take a share`, async () => {
    const client = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5 });
    const started = Date.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      // Steady rate: sample i leaves at started + i / RATE seconds.
      const due = started + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 2) await new Promise((r) => setTimeout(r, wait));
      const tag = `t${String(i % TAGS).padStart(3, '0')}`;
      const sample = { v: i, ts: T0 + Math.floor(i / TAGS) * 1000, q: 'good' };
      pending.push(
        client.publishAsync(`factorylm/${SITE}/area1/line1/asset1/${tag}`, JSON.stringify(sample), {
          qos: 1,
        }),
      );
    }
    await Promise.all(pending);
    const publishMs = Date.now() - started;
    await client.endAsync();

    let series: VmSeries[] = [];
    const total = () => series.reduce((n, s) => n + s.values.length, 0);
    await waitFor(
      `${N} samples in VictoriaMetrics`,
      async () => {
        series = await vmExport(vm.url, `{__name__="plc_tags_value",site="${SITE}"}`);
        return total() >= N;
      },
      30_000,
      500,
    );
    // Let a late duplicate, if any, arrive before counting.
    await new Promise((r) => setTimeout(r, 1000));
    series = await vmExport(vm.url, `{__name__="plc_tags_value",site="${SITE}"}`);
    const distinct = new Set<string>();
    for (const s of series) {
      s.values.forEach((v, i) => {
        // The value is the sample's index: it must sit on its own tag and timestamp.
        expect(s.metric.tag).toBe(`t${String(v % TAGS).padStart(3, '0')}`);
        expect(s.timestamps[i]).toBe(T0 + Math.floor(v / TAGS) * 1000);
        distinct.add(String(v));
      });
    }
    expect(series).toHaveLength(TAGS);
    expect(distinct.size).toBe(N);
    expect(total()).toBe(N);

    await Promise.all(gateways.map((g) => g.stop()));
    const stats = gateways.map(stoppedStats);
    const shares = stats.map((s) => s.points);
    // Each message reached one gateway only: the shares add up to N, and both did work.
    expect(shares.reduce((a, b) => a + b, 0)).toBe(N);
    for (const share of shares) expect(share).toBeGreaterThan(N * 0.2);
    console.log(
      `scale-out: ${N} samples at ${Math.round((N * 1000) / publishMs)}/s; gateway shares ${shares.join(' + ')}; VictoriaMetrics ${total()} stored, ${distinct.size} distinct`,
    );
  }, 80_000);
});
