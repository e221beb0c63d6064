/**
 * Alarm rule cost inside the gateway, in process: 10,000 rules (1,000 assets × 10 tags, every
 * rule kind) and a stream of samples at a simulated 100,000 samples/s (the engine's clock and
 * its 250 ms tick follow the samples' time), half of them on tags with rules and half on tags
 * without. Prints the CPU seconds per million samples of the same loop with the engine and
 * without it (building each sample object the same way), the difference being what the rules
 * add, and the heap the engine holds.
 *
 *   npm run bench:alarms      (a few seconds)
 *
 * BENCH_SAMPLES (1,000,000) samples per measured run; BENCH_RUNS (3) runs of each, interleaved,
 * so a slower moment of this shared machine hits both. A few alarms are raised and cleared on
 * the way (about one per 1,000 samples), through a SQLite state store in the temp folder, as in
 * the gateway.
 *
 * End to end (BENCH_ONLY=gateway; BENCH_ONLY=inprocess runs the part above alone): a real
 * Mosquitto, the gateway CLI without InfluxDB (no influx: section), a raw QoS 1 publisher pacing
 * asset batches (20 tags) at 100,000 samples/s: gateway CPU-s per 1M samples (/proc) without a
 * maintenance: section and with 10,000 threshold rules (BENCH_E2E_SAMPLES, 2,000,000). Then
 * fault → work order: one boolean rule (on-delay 1 s), `factorylm sim llm` (instant) and
 * `factorylm sim cmms` (its request and licence limits raised); 40 faults 500 ms apart, publish →
 * order seen on /state (polled every 20 ms); then 10 faults while the CMMS refuses connections
 * for 20 s: its return → the orders.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { packageVersion } from '../core/package-info.js';
import { AlarmEngine } from '../maintenance/alarms/engine.js';
import { alarmRulesSchema } from '../maintenance/alarms/rules.js';
import { AlarmStateStore } from '../maintenance/alarms/state-store.js';
import type { AlarmSample, SampleValue } from '../maintenance/alarms/types.js';
import { startCmmsSim, SIM_USER, type CmmsSim } from '../test/support/cmms-sim.js';
import { startLlmSim } from '../test/support/llm-sim.js';
import { freePort, startCli, type Running } from '../test/support/processes.js';
import { startMosquitto } from '../test/support/services.js';
import { ensureServices } from '../test/support/system-services.js';
import { Publisher, type Message } from './mqtt-packets.js';
import { cpuSeconds } from './proc.js';

const ASSETS = 1000;
const RULE_TAGS = 10;
const FREE_TAGS = 10;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Simulated time between samples: 100,000 samples/s. */
const SAMPLE_US = 10;
const TICK_MS = 250;
const T0 = Date.UTC(2026, 0, 1);

/** One rule per tag kind; tag `r<k>` of every asset gets rule kind k. */
function ruleFor(asset: string, k: number): Record<string, unknown> {
  const base = { name: `${asset}-r${k}`, asset, tag: `r${k}`, onDelayMs: 1000, offDelayMs: 2000 };
  switch (k) {
    case 0:
      return { ...base, kind: 'boolean' };
    case 1:
      return { ...base, kind: 'notEquals', value: 0, codes: 'micro820' };
    case 2:
      return { ...base, kind: 'high', limit: 90, deadband: 2 };
    case 3:
      return { ...base, kind: 'low', limit: 10, deadband: 1 };
    case 4:
      return { ...base, kind: 'rate', limit: 50, windowMs: 10_000 };
    case 5:
      return { ...base, kind: 'stale', afterMs: 60_000 };
    case 6:
      return { ...base, kind: 'in', values: [3, 4] };
    case 7:
      return { ...base, kind: 'equals', value: 9 };
    case 8:
      return { ...base, kind: 'high', limit: 1000 };
    default:
      return { ...base, kind: 'boolean', when: false };
  }
}

const assets = Array.from({ length: ASSETS }, (_, i) => `m${i}`);
const ruleTags = Array.from({ length: RULE_TAGS }, (_, k) => `r${k}`);
const freeTags = Array.from({ length: FREE_TAGS }, (_, k) => `f${k}`);
const SERIES = ASSETS * (RULE_TAGS + FREE_TAGS);

/**
 * The value of sample `n`: in range for every rule, except tag r0 of one asset in 50, which is
 * true for ten passes over the series (2 s of sample time: raised after its 1 s on-delay, then
 * cleared after its 2 s off-delay).
 */
function valueOf(n: number, asset: number, tag: number, pass: number): SampleValue {
  if (tag === 0) return (asset + Math.floor(pass / 10)) % 50 === 0;
  if (tag === 9) return true;
  if (tag === 1 || tag === 6 || tag === 7) return 0;
  if (tag === 3) return 20;
  return 50 + (n % 7);
}

let sink: AlarmSample | undefined;

/**
 * Runs `count` samples from sample number `from`, building each as the gateway does, handing it
 * to `take`, and ticking every 250 ms of sample time. Returns the CPU seconds it used.
 */
function run(
  from: number,
  count: number,
  take: (s: AlarmSample) => void,
  tick: (now: number) => void,
): number {
  const start = process.cpuUsage();
  let nextTick = T0 + ((from * SAMPLE_US) / 1000 + TICK_MS);
  for (let n = from; n < from + count; n++) {
    const i = n % SERIES;
    const pass = Math.floor(n / SERIES);
    const perAsset = RULE_TAGS + FREE_TAGS;
    const asset = Math.floor(i / perAsset);
    const t = i % perAsset;
    const ts = T0 + (n * SAMPLE_US) / 1000;
    const onRule = t < RULE_TAGS;
    take({
      site: 'plant1',
      area: 'area1',
      line: 'line1',
      asset: assets[asset]!,
      tag: onRule ? ruleTags[t]! : freeTags[t - RULE_TAGS]!,
      node: 'edge-01',
      value: onRule ? valueOf(n, asset, t, pass) : n % 100,
      quality: 'good',
      ts,
    });
    if (ts >= nextTick) {
      tick(ts);
      nextTick += TICK_MS;
    }
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** JS heap plus typed-array memory (the rate windows), after a full collection, MB. */
function heapMb(): number {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1024 / 1024;
}

function version(name: string): string {
  return (
    JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }
  ).version;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The in-process part: the engine alone, with and without rules, on a simulated clock. */
function inProcess(): void {
  const dir = mkdtempSync(join(tmpdir(), 'bench-alarms-'));
  try {
    const rules = alarmRulesSchema.parse(
      assets.flatMap((a) => ruleTags.map((_, k) => ruleFor(a, k))),
    );
    const heapBefore = heapMb();
    let clock = T0;
    let events = 0;
    const store = new AlarmStateStore(join(dir, 'alarms.db'));
    const engine = new AlarmEngine(
      { rules, options: { maxAlarms: 100_000 } },
      { onEvent: () => (events += 1), store, now: () => clock },
    );
    const take = (s: AlarmSample) => {
      clock = s.ts;
      engine.onSample(s);
    };
    const tick = (now: number) => engine.tick(now);
    const baseTake = (s: AlarmSample) => {
      clock = s.ts;
      sink = s;
    };
    const baseTick = (now: number) => {
      clock = now;
    };

    // First pass over every series: binds rules to assets and creates the 10,000 alarms.
    const bindCpu = run(0, SERIES, take, tick);
    const heapAfter = heapMb();
    let at = SERIES;
    // Unmeasured warm-up of both loops, so the JIT has compiled them before the first run.
    run(at, SAMPLES / 2, baseTake, baseTick);
    run(at, SAMPLES / 2, take, tick);
    at += SAMPLES / 2;
    const withRules: number[] = [];
    const without: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      without.push(run(at, SAMPLES, baseTake, baseTick));
      withRules.push(run(at, SAMPLES, take, tick));
      at += SAMPLES;
    }
    const perM = (cpu: number) => (cpu * 1_000_000) / SAMPLES;
    const added = withRules.map((w, i) => perM(w - without[i]!));
    const stats = engine.stats;
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
    console.log(
      `versions: node ${process.version}, factorylm-edge ${packageVersion()}, zod ${version('zod')}, better-sqlite3 ${version('better-sqlite3')}`,
    );
    console.log(
      `workload: ${stats.rules} rules on ${ASSETS} assets (${RULE_TAGS} tags with rules, ${FREE_TAGS} without, each), ${SAMPLES.toLocaleString('en')} samples per run at a simulated ${1000 / SAMPLE_US}k samples/s, ${RUNS} runs`,
    );
    console.log(
      `binding the first ${SERIES.toLocaleString('en')} samples (creates ${stats.alarms} alarms): ${bindCpu.toFixed(3)} CPU-s`,
    );
    console.log(`CPU-s per 1M samples without the engine: ${fmt(without.map(perM))}`);
    console.log(`CPU-s per 1M samples with 10,000 rules:  ${fmt(withRules.map(perM))}`);
    console.log(
      `added by the rules, CPU-s per 1M samples: ${fmt(added)} (median ${median(added).toFixed(3)}; target <= 0.5)`,
    );
    console.log(
      `evaluations ${stats.evaluations.toLocaleString('en')}, events ${events} (raised ${stats.events.raised}, cleared ${stats.events.cleared}), active now ${stats.active}`,
    );
    console.log(`heap held by the engine and its rules: ${(heapAfter - heapBefore).toFixed(1)} MB`);
    console.log(
      JSON.stringify({
        rules: stats.rules,
        alarms: stats.alarms,
        samplesPerRun: SAMPLES,
        cpuPerMWithout: without.map(perM),
        cpuPerMWith: withRules.map(perM),
        addedPerM: added,
        addedMedian: median(added),
        heapMb: heapAfter - heapBefore,
        events,
      }),
    );
    engine.flush();
    store.close();
    void sink;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- end to end

const E2E_SAMPLES = Number(process.env.BENCH_E2E_SAMPLES ?? 2_000_000);
/** Samples per second the paced publisher aims at. */
const E2E_RATE = 100_000;
/** Tags per asset batch: r0..r9 with a rule each, f0..f9 without. */
const BATCH_TAGS = RULE_TAGS + FREE_TAGS;
/** Publishing slice: the publisher sends a slice's messages, then waits for the next slice's time. */
const SLICE_MS = 50;
// The CMMS sim seeds at most 50 assets (the free tier's limit): 40 + DOWN_FAULTS.
const FAULTS = Number(process.env.BENCH_FAULTS ?? 40);
const FAULT_SPACING_MS = 500;
const ON_DELAY_MS = 1000;
const DOWN_FAULTS = 10;
const DOWN_MS = 20_000;
/** Longest wait for the gateway to take in what was published, or for orders to appear. */
const E2E_TIMEOUT_MS = 120_000;
/** The CMMS sim's control API is polled this often for new orders. */
const POLL_MS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mosquittoVersion(): string {
  try {
    execFileSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8' });
  } catch (err) {
    // `mosquitto -h` prints its version and exits with 3.
    return /version ([\d.]+)/.exec(String((err as { stdout?: string }).stdout))?.[1] ?? '?';
  }
  return '?';
}

/** The JSON log lines of a process. */
function logLines(running: Running): Record<string, unknown>[] {
  return running
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

interface Gateway {
  running: Running;
  pid: number;
  http: string;
  dir: string;
}

/** `factorylm gateway --config F` with this config (plus name, MQTT, HTTP, log), in its own temp folder. */
async function startGateway(
  name: string,
  brokerUrl: string,
  extra: (dir: string) => object,
  env: NodeJS.ProcessEnv = {},
): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), `flm-bench-alarms-${name}-`));
  const port = await freePort();
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      name,
      mqtt: { url: brokerUrl },
      subscribe: { shareGroup: null },
      http: { host: '127.0.0.1', port, page: false },
      log: { level: 'info' },
      ...extra(dir),
    }),
  );
  const running = startCli(['gateway', '--config', file], env);
  await running.waitForOutput(/"msg":"subscribed"/, 60_000);
  return { running, pid: running.child.pid!, http: `http://127.0.0.1:${port}`, dir };
}

async function stopGateway(gw: Gateway): Promise<void> {
  await gw.running.stop();
  rmSync(gw.dir, { recursive: true, force: true });
}

async function pointsTaken(gw: Gateway): Promise<number> {
  // A scrape can fail on this loaded machine (connection reset): counted as not yet.
  const text = await fetch(`${gw.http}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  return Number(/^factorylm_gateway_points_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Waits until the gateway has accepted `points` samples; false after E2E_TIMEOUT_MS. */
async function waitTaken(gw: Gateway, points: number): Promise<boolean> {
  const deadline = Date.now() + E2E_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await pointsTaken(gw)) >= points) return true;
    await sleep(50);
  }
  return false;
}

/** Asset batch `j` (asset j % ASSETS): r0..r9 within every rule's limits, f0..f9 anything. */
function costMessage(j: number, ts: number): Message {
  let v = '';
  for (let k = 0; k < RULE_TAGS; k++) v += `${k ? ',' : ''}"r${k}":${50 + ((j + k) % 7)}`;
  for (let k = 0; k < FREE_TAGS; k++) v += `,"f${k}":${(j + k) % 100}`;
  return {
    topic: `factorylm/plant1/area1/line1/m${j % ASSETS}`,
    payload: `{"ts":${ts},"v":{${v}}}`,
    points: BATCH_TAGS,
  };
}

/**
 * Publishes `messages` asset batches from number `from`, paced at E2E_RATE samples/s in slices
 * (a slice behind its time goes at once). Returns the achieved samples/s.
 */
async function publishPaced(pub: Publisher, from: number, messages: number): Promise<number> {
  const perSlice = Math.round((E2E_RATE * SLICE_MS) / 1000 / BATCH_TAGS);
  const t0 = Date.now();
  for (let s = 0; s * perSlice < messages; s++) {
    const wait = t0 + s * SLICE_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const end = Math.min(messages, (s + 1) * perSlice);
    const ts = Date.now();
    let j = s * perSlice;
    await pub.publish(() => (j < end ? costMessage(from + j++, ts) : undefined));
  }
  return (messages * BATCH_TAGS) / ((Date.now() - t0) / 1000);
}

/** 10 threshold rules per asset on r0..r9 (high on r0..r4, low on r5..r9), none ever raised. */
function costRules(): object[] {
  return assets.flatMap((asset) =>
    ruleTags.map((tag, k) => ({
      name: `${asset}-${tag}`,
      asset,
      tag,
      ...(k < 5 ? { kind: 'high', limit: 1000, deadband: 5 } : { kind: 'low', limit: -1000 }),
    })),
  );
}

interface CostResult {
  cpuPerM: number;
  rate: number;
  evaluations: number | undefined;
  taken: boolean;
}

/**
 * One gateway process (with `rules` or without a maintenance: section) fed ASSETS × BATCH_TAGS
 * samples to warm up (binds every rule), then E2E_SAMPLES at E2E_RATE; its CPU from /proc
 * between the first measured publish and the moment its points counter has them all.
 */
async function gatewayRun(brokerUrl: string, brokerPort: number, rules: boolean) {
  const gw = await startGateway(rules ? 'bench-rules' : 'bench-norules', brokerUrl, (dir) =>
    rules
      ? {
          maintenance: {
            rules: costRules(),
            alarms: { statePath: join(dir, 'alarms.db') },
            // Never called: no rule is ever raised, and there is no cmms.
            llm: { url: 'http://127.0.0.1:9' },
          },
        }
      : {},
  );
  const pub = await Publisher.connect(brokerPort, `bench-alarms-${process.pid}`, 5000);
  try {
    await publishPaced(pub, 0, ASSETS);
    const warm = ASSETS * BATCH_TAGS;
    if (!(await waitTaken(gw, warm))) throw new Error('the gateway did not take the warm-up');
    await sleep(500);
    const messages = Math.ceil(E2E_SAMPLES / BATCH_TAGS);
    const c0 = cpuSeconds(gw.pid);
    const rate = await publishPaced(pub, ASSETS, messages);
    const taken = await waitTaken(gw, warm + messages * BATCH_TAGS);
    const cpu = cpuSeconds(gw.pid) - c0;
    await gw.running.stop();
    const stopped = logLines(gw.running).find((l) => l.msg === 'gateway stopped') as
      { maintenance?: { alarms?: { evaluations?: number } } } | undefined;
    return {
      cpuPerM: (cpu * 1e6) / (messages * BATCH_TAGS),
      rate,
      evaluations: stopped?.maintenance?.alarms?.evaluations,
      taken,
    } satisfies CostResult;
  } finally {
    pub.close();
    await stopGateway(gw);
  }
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

/**
 * Polls the CMMS simulator's /state every POLL_MS until an order exists for each of `names`
 * (or E2E_TIMEOUT_MS); returns when each first appeared, and the orders per asset at the end.
 */
async function watchOrders(
  cmms: CmmsSim,
  names: string[],
): Promise<{ seen: Map<string, number>; perAsset: Map<string, number> }> {
  const seen = new Map<string, number>();
  const perAsset = new Map<string, number>();
  const deadline = Date.now() + E2E_TIMEOUT_MS;
  const wanted = new Set(names);
  while (seen.size < names.length && Date.now() < deadline) {
    const orders = await cmms.orders();
    const now = Date.now();
    perAsset.clear();
    for (const o of orders) {
      const name = o.asset?.name;
      if (!name || !wanted.has(name)) continue;
      perAsset.set(name, (perAsset.get(name) ?? 0) + 1);
      if (!seen.has(name)) seen.set(name, now);
    }
    await sleep(POLL_MS);
  }
  return { seen, perAsset };
}

/**
 * Fault → work order: a gateway with one boolean rule (fault_alarm on every asset,
 * ON_DELAY_MS), the LLM simulator answering at once, the CMMS simulator; FAULTS assets get
 * fault_alarm true one after another, then the CMMS refuses connections while DOWN_FAULTS more
 * are raised, and comes back after DOWN_MS.
 */
async function faultLatency(brokerUrl: string, brokerPort: number) {
  const faultAssets = Array.from({ length: FAULTS }, (_, i) => `a${i}`);
  const downAssets = Array.from({ length: DOWN_FAULTS }, (_, i) => `d${i}`);
  const llm = await startLlmSim();
  const cmms = await startCmmsSim([
    '--seed-assets',
    [...faultAssets, ...downAssets].join(','),
    // Atlas allows 100 requests a minute and 30 open orders on its free tier; the bench
    // measures the bridge, not those limits.
    '--rate-limit',
    '100000',
    '--licence-limit',
    '10000',
  ]);
  let gw: Gateway | undefined;
  const pub = await Publisher.connect(brokerPort, `bench-alarms-faults-${process.pid}`, 100);
  const publish = (asset: string, on: boolean) => {
    let sent = false;
    return pub.publish(() => {
      if (sent) return undefined;
      sent = true;
      return {
        topic: `factorylm/plant1/area1/line1/${asset}`,
        payload: JSON.stringify({ ts: Date.now(), v: { fault_alarm: on } }),
        points: 1,
      };
    });
  };
  try {
    gw = await startGateway(
      'bench-faults',
      brokerUrl,
      (dir) => ({
        maintenance: {
          rules: [
            {
              name: 'fault',
              kind: 'boolean',
              asset: '*',
              tag: 'fault_alarm',
              onDelayMs: ON_DELAY_MS,
            },
          ],
          alarms: { statePath: join(dir, 'alarms.db') },
          llm: { url: llm.url, waitMs: 10_000 },
          cmms: {
            url: cmms.url,
            email: SIM_USER.email,
            passwordEnv: 'ATLAS_PASSWORD',
            outbox: { path: join(dir, 'cmms.db') },
            rateLimit: { requestsPerMinute: 60_000 },
          },
        },
      }),
      { ATLAS_PASSWORD: SIM_USER.password },
    );
    await gw.running.waitForOutput(/holding the maintenance lease/, 60_000);
    for (const a of [...faultAssets, ...downAssets]) await publish(a, false);
    await sleep(2000);

    const publishedAt = new Map<string, number>();
    const watching = watchOrders(cmms, faultAssets);
    for (const a of faultAssets) {
      publishedAt.set(a, Date.now());
      await publish(a, true);
      await sleep(FAULT_SPACING_MS);
    }
    const { seen, perAsset } = await watching;
    const latencies = faultAssets.flatMap((a) =>
      seen.has(a) ? [seen.get(a)! - publishedAt.get(a)!] : [],
    );

    await cmms.faults({ down: 'refuse' });
    for (const a of downAssets) await publish(a, true);
    await sleep(DOWN_MS);
    const back = Date.now();
    await cmms.faults({ down: false });
    const down = await watchOrders(cmms, downAssets);
    const appeared = [...down.seen.values()].map((t) => t - back);
    const ordersPerFault = (m: Map<string, number>) => [...new Set(m.values())].join('/') || '0';
    return {
      orders: `${seen.size} of ${FAULTS}`,
      ordersPerFault: ordersPerFault(perAsset),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      min: Math.min(...latencies),
      downOrders: `${down.seen.size} of ${DOWN_FAULTS}`,
      downOrdersPerFault: ordersPerFault(down.perAsset),
      backToFirst: Math.min(...appeared),
      backToLast: Math.max(...appeared),
    };
  } finally {
    pub.close();
    if (gw) await stopGateway(gw);
    await cmms.stop();
    await llm.stop();
  }
}

async function endToEnd(): Promise<void> {
  ensureServices(['mosquitto']);
  // Without a per-client queue limit: Mosquitto's default (1,000) drops QoS 1 messages for a
  // subscriber that falls behind the publisher for a moment.
  const broker = await startMosquitto({ maxQueuedMessages: 0 });
  try {
    console.log(
      `end to end: node ${process.version}, mosquitto ${mosquittoVersion()}, no InfluxDB (no influx: section)`,
    );
    const brokerPort = broker.port;
    const without = await gatewayRun(broker.url, brokerPort, false);
    const withRules = await gatewayRun(broker.url, brokerPort, true);
    const fmt = (r: CostResult) =>
      `${r.cpuPerM.toFixed(3)} CPU-s per 1M samples at ${Math.round(r.rate).toLocaleString('en')} samples/s${r.taken ? '' : ' (NOT all taken in time)'}`;
    console.log(
      `gateway CLI, ${(E2E_SAMPLES / 1e6).toFixed(1)}M samples in asset batches of ${BATCH_TAGS} tags (QoS 1), ${ASSETS} assets:`,
    );
    console.log(`  without a maintenance: section: ${fmt(without)}`);
    console.log(
      `  with ${ASSETS * RULE_TAGS} threshold rules: ${fmt(withRules)}; rule evaluations ${withRules.evaluations?.toLocaleString('en') ?? '?'}`,
    );
    const added = withRules.cpuPerM - without.cpuPerM;
    console.log(`  added by the rules: ${added.toFixed(3)} CPU-s per 1M samples (target <= 0.5)`);

    const f = await faultLatency(broker.url, brokerPort);
    console.log(
      `fault -> work order (${FAULTS} faults ${FAULT_SPACING_MS} ms apart, on-delay ${ON_DELAY_MS} ms, instant LLM sim, CMMS sim polled every ${POLL_MS} ms): ${f.orders} orders (${f.ordersPerFault} per fault), p50 ${f.p50} ms, p99 ${f.p99} ms, max ${f.max} ms, min ${f.min} ms (target p99 <= ${ON_DELAY_MS + 1000} ms)`,
    );
    console.log(
      `CMMS refusing connections for ${DOWN_MS / 1000} s with ${DOWN_FAULTS} faults raised: ${f.downOrders} orders (${f.downOrdersPerFault} per fault), back -> first order ${f.backToFirst} ms, back -> last order ${f.backToLast} ms (cmms.retryMaxMs default)`,
    );
    console.log(
      JSON.stringify({
        gatewayCpuPerMWithout: without.cpuPerM,
        gatewayCpuPerMWith: withRules.cpuPerM,
        gatewayAddedPerM: added,
        rates: [without.rate, withRules.rate],
        evaluations: withRules.evaluations,
        ...f,
      }),
    );
  } finally {
    await broker.stop();
  }
}

const PARTS = (process.env.BENCH_ONLY ?? 'inprocess,gateway').split(',');
if (PARTS.includes('inprocess')) inProcess();
if (PARTS.includes('gateway')) await endToEnd();
