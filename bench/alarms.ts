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
 * the gateway. The fault → work order latency is measured end to end by the gateway's bench.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { packageVersion } from '../core/package-info.js';
import { AlarmEngine } from '../maintenance/alarms/engine.js';
import { alarmRulesSchema } from '../maintenance/alarms/rules.js';
import { AlarmStateStore } from '../maintenance/alarms/state-store.js';
import type { AlarmSample, SampleValue } from '../maintenance/alarms/types.js';

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
