/**
 * Gateway benchmark. A real Mosquitto, one real gateway CLI process (`factorylm gateway
 * --config F`, measured from /proc) and a real VictoriaMetrics (InfluxDB line protocol on
 * /api/v2/write). Raw MQTT 3.1.1 publishers in this process (QoS 1, a window of PUBACKs
 * outstanding per connection; cheaper than mqtt.js, so the publisher is not the limit) send
 * BENCH_POINTS tag samples per scenario:
 *
 *   a. one JSON message per tag (factorylm/<site>/<area>/<line>/<asset>/<tag>), QoS 1;
 *   b. asset batches (factorylm/<site>/<area>/<line>/<asset>, BENCH_BATCH tags a message), QoS 1;
 *   c. Sparkplug B DDATA with many metrics a message (subscribe.sparkplug), QoS 1;
 *   d. spool drain: VictoriaMetrics stopped, BENCH_POINTS points published (batched) until all
 *      are in the gateway's spool file, VictoriaMetrics restarted; time until the spool is empty.
 *
 * End to end = first publish → every point of the scenario counted by VictoriaMetrics
 * (vm_rows_inserted_total for progress, then an exact count_over_time query on the scenario's
 * series). Each scenario gets a fresh gateway process (so peak RSS is its own).
 *
 *   npm run bench:gateway     (about 1-2 minutes)
 *
 * BENCH_POINTS (1000000) per scenario, BENCH_BATCH (1000) tags per batched message,
 * BENCH_PUBLISHERS (2) publisher connections, BENCH_WINDOW (5000) PUBACKs outstanding per
 * connection, BENCH_ONLY=tag,batch,sparkplug,drain runs a subset; BENCH_PROFILE=<dir> has each
 * gateway write a CPU profile there; BENCH_GATEWAY_NODE_OPTIONS replaces the V8 flags of the
 * systemd unit the gateway runs with.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeTagPayload } from '../protocols/mqtt/payload.js';
import { encodePayload, sparkplugTopic, type Metric } from '../protocols/mqtt/sparkplug.js';
import { CLI, start, startCli, type Running } from '../test/support/processes.js';
import { ensureServices } from '../test/support/system-services.js';
import { startMosquitto, startVictoriaMetrics, type Service } from '../test/support/services.js';
import { waitFor } from '../test/support/wait.js';
import { Publisher, type Message } from './mqtt-packets.js';
import { cpuSeconds, statusMb } from './proc.js';

const POINTS = Number(process.env.BENCH_POINTS ?? 1_000_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const PUBLISHERS = Number(process.env.BENCH_PUBLISHERS ?? 2);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 5000);
const ONLY = process.env.BENCH_ONLY?.split(',');
const runs = (part: string) => !ONLY || ONLY.includes(part);
/** Longest wait for one scenario's points to arrive, ms. */
const SCENARIO_TIMEOUT_MS = 120_000;
/** Spool retry cap in the bench config, so the drain is measured rather than the backoff. */
const RETRY_MAX_MS = 1000;
const ASSETS = 10;
/** Per-tag scenario: tags per asset (ASSETS x this series). */
const TAGS_PER_ASSET = 100;
const TARGETS = {
  tagPointsPerSec: 50_000,
  batchPointsPerSec: 200_000,
  rssMb: 150,
  drainS: 10,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

// ---------------------------------------------------------------- VictoriaMetrics

/** Fresh rows are queryable at once, so the count that ends a scenario is exact and prompt. */
const VM_ARGS = ['-search.latencyOffset=0s', '-search.disableCache'];

async function vmMetrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Rows VictoriaMetrics has taken in over the InfluxDB line protocol since it started. */
async function vmRowsInserted(url: string): Promise<number> {
  const m = /^vm_rows_inserted_total\{type="influx"\} (\d+)/m.exec(await vmMetrics(url));
  return m ? Number(m[1]) : 0;
}

/** Stored samples of `plc_tags_value` for one site (exact, after a force flush). */
async function vmCount(url: string, site: string): Promise<number> {
  await fetch(`${url}/internal/force_flush`);
  const q = `sum(count_over_time(plc_tags_value{site="${site}"}[3d]))`;
  const res = await fetch(
    `${url}/api/v1/query?${new URLSearchParams({ query: q, time: String(Date.now() / 1000 + 60), nocache: '1' })}`,
  );
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  return Number(body.data?.result?.[0]?.value[1] ?? 0);
}

// ---------------------------------------------------------------- raw MQTT publisher

/** Splits `count` messages over PUBLISHERS connections; resolves when all are acknowledged by Mosquitto. */
async function publishAll(
  port: number,
  count: number,
  make: (i: number) => Message,
  tag: string,
  connections = PUBLISHERS,
): Promise<void> {
  const pubs = await Promise.all(
    Array.from({ length: connections }, (_, k) =>
      Publisher.connect(port, `bench-${tag}-${process.pid}-${k}`, WINDOW),
    ),
  );
  try {
    await Promise.all(
      pubs.map((p, k) => {
        let i = k;
        return p.publish(() => {
          if (i >= count) return undefined;
          const m = make(i);
          i += connections;
          return m;
        });
      }),
    );
  } finally {
    for (const p of pubs) p.close();
  }
}

// ---------------------------------------------------------------- messages

/** Sample timestamps: distinct per series, in the last hour. */
const BASE_TS = Date.now() - 3600_000;

function tagMessage(site: string): (i: number) => Message {
  const series = ASSETS * TAGS_PER_ASSET;
  const topics = Array.from(
    { length: series },
    (_, s) => `factorylm/${site}/area1/line1/asset${s % ASSETS}/t${Math.floor(s / ASSETS)}`,
  );
  return (i) => ({
    topic: topics[i % series]!,
    payload: encodeTagPayload({ v: i % 1000, ts: BASE_TS + Math.floor(i / series), q: 'good' }),
    points: 1,
  });
}

function batchMessage(site: string): (j: number) => Message {
  const keys = Array.from({ length: BATCH }, (_, t) => `"t${t}":`);
  const topics = Array.from(
    { length: ASSETS },
    (_, a) => `factorylm/${site}/area1/line1/asset${a}`,
  );
  return (j) => {
    let v = '';
    for (let t = 0; t < BATCH; t++) v += (t === 0 ? '' : ',') + keys[t]! + ((j + t) % 1000);
    return {
      topic: topics[j % ASSETS]!,
      payload: `{"ts":${BASE_TS + Math.floor(j / ASSETS)},"v":{${v}}}`,
      points: BATCH,
    };
  };
}

// ---------------------------------------------------------------- the gateway under test

interface Env {
  brokerPort: number;
  brokerPid: number;
  vmUrl: string;
  vmPid: () => number;
}

interface Gw {
  running: Running;
  pid: number;
  spoolPath: string;
  dir: string;
}

function logLines(running: Running): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of running.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return out;
}

function gatewayConfig(name: string, env: Env, spoolPath: string, extra: object = {}): object {
  return {
    name,
    mqtt: { url: `mqtt://127.0.0.1:${env.brokerPort}` },
    subscribe: { shareGroup: null, ...extra },
    influx: { api: 'v2', url: env.vmUrl, token: 'bench', org: 'bench', bucket: 'bench' },
    spool: { path: spoolPath, retryMaxMs: RETRY_MAX_MS },
    log: { level: 'info' },
  };
}

/**
 * The gateway runs with the V8 flags its systemd unit gives it, so the figures are those of a
 * deployed gateway; BENCH_GATEWAY_NODE_OPTIONS replaces them ('' for Node's defaults).
 */
function unitNodeOptions(): string {
  const unit = readFileSync('deploy/systemd/factorylm-gateway.service', 'utf8');
  return /^Environment="NODE_OPTIONS=([^"]*)"/m.exec(unit)?.[1] ?? '';
}
const GATEWAY_NODE_OPTIONS = process.env.BENCH_GATEWAY_NODE_OPTIONS ?? unitNodeOptions();
const gatewayEnv: NodeJS.ProcessEnv = { NODE_OPTIONS: GATEWAY_NODE_OPTIONS };

async function startGateway(name: string, env: Env, extra: object = {}): Promise<Gw> {
  const dir = mkdtempSync(join(tmpdir(), `flm-bench-gw-${name}-`));
  const spoolPath = join(dir, 'spool.db');
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, JSON.stringify(gatewayConfig(name, env, spoolPath, extra)));
  // BENCH_PROFILE=<dir>: the gateway writes a V8 CPU profile there on stop (node --cpu-prof).
  const args = ['gateway', '--config', file];
  const running = process.env.BENCH_PROFILE
    ? start(
        process.execPath,
        ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, CLI, ...args],
        gatewayEnv,
      )
    : startCli(args, gatewayEnv);
  await running.waitForOutput(/"msg":"subscribed"/);
  return { running, pid: running.child.pid!, spoolPath, dir };
}

async function stopGateway(gw: Gw): Promise<void> {
  await gw.running.stop();
  rmSync(gw.dir, { recursive: true, force: true });
}

/** What the gateway logged about itself on stop (its stats), in a few figures. */
function stoppedSummary(running: Running): string {
  const line = logLines(running).find((l) => l.msg === 'gateway stopped') as
    | {
        messages: number;
        points: number;
        sink?: {
          written: number;
          dropped: number;
          writeErrors: number;
          lastError?: string;
          spool: { spooled: number; drained: number };
        };
        acks?: { acked: number; redelivered: number };
      }
    | undefined;
  if (!line) {
    const { exitCode, signalCode } = running.child;
    if (exitCode === null && signalCode === null) return 'no "gateway stopped" log line';
    // It died on its own (out of heap, say): the end of what it printed says why.
    const tail = running.output().trim().split('\n').slice(-3).join(' | ').slice(0, 600);
    return `gateway exited (${signalCode ?? `code ${exitCode}`}) before the stop: ${tail}`;
  }
  const k = line.sink;
  return (
    `messages ${line.messages}, points ${line.points}` +
    (k
      ? `, written ${k.written}, dropped ${k.dropped}, write errors ${k.writeErrors}` +
        `${k.lastError ? ` (last: ${k.lastError.slice(0, 80)})` : ''}, spooled ${k.spool.spooled}, drained ${k.spool.drained}`
      : '') +
    (line.acks ? `, PUBACKs ${line.acks.acked}, redelivered ${line.acks.redelivered}` : '')
  );
}

/** Points in the spool file, read by a second connection. */
function spoolPoints(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (
        db.prepare('SELECT coalesce(sum(samples), 0) AS n FROM outbox').get() as { n: number }
      ).n;
    } finally {
      db.close();
    }
  } catch {
    return -1;
  }
}

// ---------------------------------------------------------------- scenarios

interface Cpu {
  gateway: number;
  mosquitto: number;
  vm: number;
  bench: number;
}

function cpuNow(env: Env, gw: Gw): Cpu {
  const u = process.cpuUsage();
  return {
    gateway: cpuSeconds(gw.pid),
    mosquitto: cpuSeconds(env.brokerPid),
    vm: cpuSeconds(env.vmPid()),
    bench: (u.user + u.system) / 1e6,
  };
}

function cpuDelta(a: Cpu, b: Cpu): Cpu {
  return {
    gateway: b.gateway - a.gateway,
    mosquitto: b.mosquitto - a.mosquitto,
    vm: b.vm - a.vm,
    bench: b.bench - a.bench,
  };
}

/**
 * Waits until VictoriaMetrics has taken in `rowsTarget` rows (cheap) and then holds `points`
 * samples of `site` (exact count); returns when.
 */
async function waitStored(
  env: Env,
  site: string,
  points: number,
  rowsTarget: number,
): Promise<number> {
  const deadline = Date.now() + SCENARIO_TIMEOUT_MS;
  // Cheap progress from the ingestion counter first, then the exact count.
  while (Date.now() < deadline && (await vmRowsInserted(env.vmUrl)) < rowsTarget) await sleep(50);
  for (;;) {
    const at = Date.now();
    if ((await vmCount(env.vmUrl, site)) >= points) return at;
    if (Date.now() > deadline) return NaN;
    await sleep(100);
  }
}

async function throughput(
  env: Env,
  s: { key: string; name: string; site: string; target: number; messages: number },
  make: (i: number) => Message,
  extra: object = {},
  before?: { publish: () => Promise<void>; points: number },
) {
  const gw = await startGateway(`bench-${s.key}`, env, extra);
  try {
    let stored0 = 0;
    if (before) {
      // Points the hook's messages store (Sparkplug births carry values): counted apart.
      await before.publish();
      await waitFor(
        'birth points stored',
        async () => (await vmCount(env.vmUrl, s.site)) >= before.points,
        30_000,
        100,
      );
      stored0 = await vmCount(env.vmUrl, s.site);
    }
    await sleep(500);
    const rows0 = await vmRowsInserted(env.vmUrl);
    const c0 = cpuNow(env, gw);
    const t0 = Date.now();
    const published = publishAll(env.brokerPort, s.messages, make, s.key).then(() => Date.now());
    const storedAt = await waitStored(env, s.site, stored0 + POINTS, rows0 + POINTS);
    const publishedAt = await published;
    const c = cpuDelta(c0, cpuNow(env, gw));
    const stored = (await vmCount(env.vmUrl, s.site)) - stored0;
    const wall = ((storedAt || Date.now()) - t0) / 1000;
    const rate = POINTS / wall;
    const hwm = statusMb(gw.pid, 'VmHWM');
    const pubWall = (publishedAt - t0) / 1000;
    const invalid = [
      ...new Set(
        logLines(gw.running)
          .filter((l) => l.msg === 'invalid message dropped')
          .map((l) => String(l.reason)),
      ),
    ];
    await gw.running.stop();
    return {
      scenario: s.name,
      messages: s.messages,
      'points stored (VictoriaMetrics count)': stored,
      'stored twice (same series and timestamp)': stored - POINTS,
      'end to end s': round(wall, 2),
      'points/s end to end': Math.round(rate),
      'target points/s': `>= ${s.target} ${rate >= s.target ? 'MET' : 'MISSED'}`,
      'publishers done (all PUBACKed by Mosquitto) s': round(pubWall, 2),
      'gateway CPU-s': round(c.gateway),
      'gateway CPU-s per 1M points': round((c.gateway / POINTS) * 1e6),
      'gateway cores busy': round(c.gateway / wall),
      'gateway peak RSS MB (VmHWM)': round(hwm, 1),
      'RSS target <= 150 MB': hwm <= TARGETS.rssMb ? 'MET' : 'MISSED',
      'mosquitto CPU-s (cores busy)': `${round(c.mosquitto)} (${round(c.mosquitto / wall)})`,
      'victoria-metrics CPU-s (cores busy)': `${round(c.vm)} (${round(c.vm / wall)})`,
      'bench publishers CPU-s (cores busy)': `${round(c.bench)} (${round(c.bench / wall)})`,
      'gateway invalid-message reasons (log)': invalid.join(',') || 'none',
      'gateway stats at stop': stoppedSummary(gw.running),
      'publisher the limit?':
        pubWall >= 0.9 * wall
          ? 'possibly: publishing took most of the run'
          : `no: Mosquitto had PUBACKed every message at ${round(pubWall, 1)} s of ${round(wall, 1)} s`,
      'all CPU-s / (wall x cores)': round(
        (c.gateway + c.mosquitto + c.vm + c.bench) / (wall * cpus().length),
        2,
      ),
    };
  } finally {
    await stopGateway(gw);
  }
}

const SPARKPLUG_GROUP = 'bench-sparkplug';

/**
 * Births (NBIRTH per edge node, DBIRTH per device with every metric's name and alias) and DDATA
 * carrying BATCH metrics by alias only, as Sparkplug edge nodes send them. Edge node k is
 * publisher connection k, so each node's messages stay in order.
 */
function sparkplugMessages(): { birth: Message[]; make: (j: number) => Message } {
  const group = SPARKPLUG_GROUP;
  const aliases = Array.from({ length: BATCH }, (_, t) => t);
  const birth: Message[] = [];
  for (let k = 0; k < PUBLISHERS; k++) {
    const edgeNode = `edge${k}`;
    birth.push({
      topic: sparkplugTopic({ group, verb: 'NBIRTH', edgeNode }),
      payload: encodePayload({
        timestamp: Date.now(),
        seq: 0,
        metrics: [{ name: 'bdSeq', type: 'UInt64', value: 0 }],
      }),
      points: 0,
    });
    for (let a = 0; a < ASSETS; a++)
      birth.push({
        topic: sparkplugTopic({ group, verb: 'DBIRTH', edgeNode, device: `asset${a}` }),
        payload: encodePayload({
          timestamp: Date.now(),
          seq: a + 1,
          metrics: aliases.map((t) => ({ name: `t${t}`, alias: t, type: 'Double', value: 0 })),
        }),
        points: 0,
      });
  }
  const make = (j: number): Message => {
    const k = j % PUBLISHERS;
    const n = Math.floor(j / PUBLISHERS);
    const ts = BASE_TS + Math.floor(n / ASSETS);
    const metrics: Metric[] = aliases.map((t) => ({
      alias: t,
      timestamp: ts,
      type: 'Double',
      value: (j + t) % 1000,
    }));
    return {
      topic: sparkplugTopic({
        group,
        verb: 'DDATA',
        edgeNode: `edge${k}`,
        device: `asset${n % ASSETS}`,
      }),
      payload: encodePayload({ timestamp: ts, seq: (ASSETS + 1 + n) % 256, metrics }),
      points: BATCH,
    };
  };
  return { birth, make };
}

async function drain(env: Env, vm: { stop: () => Promise<void>; start: () => Promise<void> }) {
  const site = 'bench-drain';
  const gw = await startGateway('bench-drain', env);
  try {
    await sleep(500);
    await vm.stop();
    const messages = Math.ceil(POINTS / BATCH);
    const tSpool = Date.now();
    await publishAll(env.brokerPort, messages, batchMessage(site), 'drain');
    const deadline = Date.now() + SCENARIO_TIMEOUT_MS;
    let spooled = 0;
    while (Date.now() < deadline && (spooled = spoolPoints(gw.spoolPath)) < POINTS)
      await sleep(100);
    const spoolS = (Date.now() - tSpool) / 1000;
    const rssBefore = statusMb(gw.pid, 'VmHWM');
    let peakRss = 0;
    const sampler = setInterval(
      () => (peakRss = Math.max(peakRss, statusMb(gw.pid, 'VmRSS'))),
      100,
    );
    const restart = Date.now();
    const c0 = { gateway: cpuSeconds(gw.pid), mosquitto: cpuSeconds(env.brokerPid) };
    await vm.start();
    const vmUp = Date.now();
    const vmCpu0 = cpuSeconds(env.vmPid());
    let emptyAt = NaN;
    while (Date.now() - restart < SCENARIO_TIMEOUT_MS) {
      if (spoolPoints(gw.spoolPath) === 0) {
        emptyAt = Date.now();
        break;
      }
      await sleep(50);
    }
    clearInterval(sampler);
    // The last batches leave the spool once VictoriaMetrics acknowledged them; counted there too.
    const storedAt = await waitStored(env, site, POINTS, 0);
    const gwCpu = cpuSeconds(gw.pid) - c0.gateway;
    const vmCpu = cpuSeconds(env.vmPid()) - vmCpu0;
    const stored = await vmCount(env.vmUrl, site);
    const lines = logLines(gw.running);
    const answers = lines.find(
      (l) => l.msg === 'InfluxDB answers again: writing the spool back beside live data',
    );
    const drained = lines.find((l) => l.msg === 'spool drained');
    const answeredAt = (answers?.time as number | undefined) ?? NaN;
    await gw.running.stop();
    const drainS = (emptyAt - restart) / 1000;
    return {
      scenario: `d. spool drain: ${POINTS} points spooled (batched, ${BATCH} a message) while VictoriaMetrics was down`,
      'points in spool before restart': spooled,
      'publish start -> all in spool s': round(spoolS, 2),
      'spool.retryMaxMs (bench config)': RETRY_MAX_MS,
      'VM restart -> VM answers /health s': round((vmUp - restart) / 1000, 2),
      'VM restart -> gateway sees VM up s (log)': round((answeredAt - restart) / 1000, 2),
      'VM restart -> spool empty s': round(drainS, 2),
      'drain rate points/s (restart -> empty)': Math.round(POINTS / drainS),
      'VM restart -> all points counted by VictoriaMetrics s': round(
        (storedAt - restart) / 1000,
        2,
      ),
      "gateway 'spool drained' log {points, ms}": drained
        ? `${String(drained.points)} points, ${String(drained.ms)} ms`
        : 'not logged',
      'target drained <= 10 s': drainS <= TARGETS.drainS ? 'MET' : 'MISSED',
      'points stored (VictoriaMetrics count)': stored,
      'gateway CPU-s during drain': round(gwCpu),
      'victoria-metrics CPU-s during drain (since /health ok)': round(vmCpu),
      'gateway peak RSS MB spooling (VmHWM)': round(rssBefore, 1),
      'gateway peak RSS MB draining (VmRSS max)': round(peakRss, 1),
      'gateway stats at stop': stoppedSummary(gw.running),
    };
  } finally {
    await stopGateway(gw);
  }
}

// ---------------------------------------------------------------- main

async function versions(vmUrl: string): Promise<Record<string, string>> {
  const pkg = (name: string) =>
    (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string })
      .version;
  let mosquitto = '?';
  try {
    execFileSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8' });
  } catch (err) {
    mosquitto = /version ([\d.]+)/.exec(String((err as { stdout?: string }).stdout))?.[1] ?? '?';
  }
  const labels = /^vm_app_version\{([^}]*)\}/m.exec(await vmMetrics(vmUrl))?.[1] ?? '';
  let vm = /short_version="([^"]+)"/.exec(labels)?.[1] ?? /version="([^"]+)"/.exec(labels)?.[1];
  if (!vm)
    try {
      // Distribution builds report an empty version: ask the package manager.
      vm = `${execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'victoria-metrics'], { encoding: 'utf8' })} (Debian package)`;
    } catch {
      vm = '?';
    }
  return {
    node: process.version,
    mqtt: pkg('mqtt'),
    mosquitto,
    'victoria-metrics': vm,
    cpu: cpus()[0]?.model ?? '?',
    cores: String(cpus().length),
  };
}

async function main(): Promise<void> {
  ensureServices(['mosquitto', 'victoria-metrics']);
  console.log(
    `# Gateway benchmark: ${POINTS} points per scenario; batches of ${BATCH} tags; ${PUBLISHERS} publisher connections (raw MQTT 3.1.1, QoS 1, ${WINDOW} PUBACKs outstanding each); one gateway CLI process per scenario (MQTT 5, QoS 1, defaults otherwise; NODE_OPTIONS "${GATEWAY_NODE_OPTIONS}"); Mosquitto max_queued_messages 0`,
  );
  // Without a per-client queue limit: by default Mosquitto drops QoS 1 messages for a
  // subscriber with 1,000 queued, which a publisher running ahead would hit.
  const broker = await startMosquitto({ maxQueuedMessages: 0 });
  let vm: Service | undefined = await startVictoriaMetrics({ args: VM_ARGS });
  const { port: vmPort, dir: vmDir } = vm;
  const env: Env = {
    brokerPort: broker.port,
    brokerPid: broker.process.child.pid!,
    vmUrl: vm.url,
    vmPid: () => vm?.process.child.pid ?? 0,
  };
  const results: Record<string, unknown>[] = [];
  const report = (r: Record<string, unknown>) => {
    results.push(r);
    console.log(JSON.stringify(r));
  };
  try {
    console.log(JSON.stringify(await versions(env.vmUrl)));
    if (runs('tag'))
      report(
        await throughput(
          env,
          {
            key: 'tag',
            name: 'a. one JSON message per tag, QoS 1',
            site: 'bench-tag',
            target: TARGETS.tagPointsPerSec,
            messages: POINTS,
          },
          tagMessage('bench-tag'),
        ),
      );
    if (runs('batch'))
      report(
        await throughput(
          env,
          {
            key: 'batch',
            name: `b. asset-batch JSON, ${BATCH} tags a message, QoS 1`,
            site: 'bench-batch',
            target: TARGETS.batchPointsPerSec,
            messages: Math.ceil(POINTS / BATCH),
          },
          batchMessage('bench-batch'),
        ),
      );
    if (runs('sparkplug')) {
      const { birth, make } = sparkplugMessages();
      report(
        await throughput(
          env,
          {
            key: 'sparkplug',
            name: `c. Sparkplug B DDATA, ${BATCH} metrics a message (by alias), QoS 1`,
            site: SPARKPLUG_GROUP,
            target: TARGETS.batchPointsPerSec,
            messages: Math.ceil(POINTS / BATCH),
          },
          make,
          { sparkplug: { enabled: true, groups: [SPARKPLUG_GROUP] } },
          {
            publish: () => publishAll(env.brokerPort, birth.length, (i) => birth[i]!, 'spbirth', 1),
            points: PUBLISHERS * ASSETS * BATCH,
          },
        ),
      );
    }
    if (runs('drain'))
      report(
        await drain(env, {
          stop: async () => {
            await vm?.kill();
            vm = undefined;
          },
          start: async () => {
            vm = await startVictoriaMetrics({ port: vmPort, dir: vmDir, args: VM_ARGS });
          },
        }),
      );
    console.log(
      JSON.stringify({
        targets: `>= ${TARGETS.tagPointsPerSec} points/s per tag; >= ${TARGETS.batchPointsPerSec} points/s batched; RSS <= ${TARGETS.rssMb} MB; ${POINTS}-point spool drained <= ${TARGETS.drainS} s`,
      }),
    );
  } finally {
    await vm?.stop();
    await broker.stop();
    rmSync(vmDir, { recursive: true, force: true });
  }
}

await main();
