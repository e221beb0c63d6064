/**
 * Footprint benchmark (issue 15): what the agent costs a Raspberry Pi in memory, CPU and SD-card
 * writes. Workload of bench/workload.ts: 10 simulated devices x 1,000 registers every 100 ms,
 * every value changing on every read (100,000 samples/s), real agent CLI, real Mosquitto.
 *
 *   1. live: per-tag QoS 0, asset batches QoS 1 + outbox, per-tag QoS 1 + outbox. Samples/s
 *      delivered (counted by a raw subscriber), agent CPU-s per 1M delivered, peak RSS (VmHWM),
 *      disk bytes per hour from /proc/<pid>/io write_bytes (broker up the whole time).
 *   2. outage: asset batches QoS 1; broker up, stopped, started again. write_bytes per phase,
 *      bytes per sample while the broker is down and over outage + drain (the WAL checkpoint of
 *      an outage's pages may come in the drain), outbox file sizes (db / WAL) at the end.
 *   3. idle: the Micro 820 config (deploy/examples/micro820.yaml, 2 requests, 18 tags) against
 *      the Micro 820 simulator; agent RSS after 15 s.
 *   4. imports: RSS of a fresh Node process after importing one module, minus a bare process.
 *
 *   npm run bench:footprint          (about 4 minutes)
 *
 * BENCH_SECONDS (20) per live scenario; BENCH_ONLY=tag0,asset1,tag1,outage,idle,imports runs a
 * subset; BENCH_AGENT_NODE_OPTIONS passes node/V8 flags to the agent as arguments (any V8 flag,
 * e.g. --max-semi-space-size=2 --optimize-for-size; NODE_OPTIONS would refuse most);
 * BENCH_LOG_DIR=<dir> keeps the agent logs of the live runs; BENCH_DELIVERY=subscriber (default),
 * broker or sink says who counts delivery in the live runs (see DELIVERY below).
 * Run under another Node by starting this file with it (the agent uses the same binary).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CLI, freePort, start, startCli, type Running } from '../test/support/processes.js';
import { ensureServices } from '../test/support/system-services.js';
import { AckSink } from './ack-sink.js';
import { cpuSeconds, statusMb } from './proc.js';
import {
  agentConfig,
  agentNodeFlags,
  FILTER,
  getHealth,
  type HealthDoc,
  logLines,
  round,
  SampleCounter,
  sleep,
  startAgent,
  startBroker,
  startLiveRig,
  startSim,
  stoppedStats,
  tempDir,
} from './workload.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_MS = 3000;
const ONLY = process.env.BENCH_ONLY?.split(',');
const runs = (part: string) => !ONLY || ONLY.includes(part);

/** Bytes the process caused to be written to storage (the kernel's per-process io counter). */
function writeBytes(pid: number): number {
  try {
    return Number(/^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
  } catch {
    return NaN;
  }
}

const mbPerHour = (bytes: number, seconds: number) => round((bytes / seconds) * 3.6e-3, 1);

// ---------------------------------------------------------------- 1. live

interface Live {
  part: string;
  name: string;
  mode: 'tag' | 'asset';
  qos: 0 | 1;
}

const LIVE: Live[] = [
  { part: 'tag0', name: 'per-tag, QoS 0', mode: 'tag', qos: 0 },
  { part: 'asset1', name: 'asset batches, QoS 1 + outbox', mode: 'asset', qos: 1 },
  { part: 'tag1', name: 'per-tag, QoS 1 + outbox', mode: 'tag', qos: 1 },
];

/**
 * Who counts delivery (BENCH_DELIVERY):
 * - subscriber (default): a raw subscriber behind Mosquitto counts the samples it gets;
 * - broker: no subscriber, so Mosquitto (single-threaded: it cannot both take in and fan out
 *   100,000 messages/s here) only takes them in, and "delivered" is what the agent counts
 *   published: PUBACKed at QoS 1, written to the socket at QoS 0;
 * - sink: no Mosquitto; bench/ack-sink.ts acknowledges and counts, so only the agent is measured.
 */
const DELIVERY = process.env.BENCH_DELIVERY ?? 'subscriber';
if (!['subscriber', 'broker', 'sink'].includes(DELIVERY))
  throw new Error(`BENCH_DELIVERY=${DELIVERY}: use subscriber, broker or sink`);

async function live(s: Live, mosquittoPort: number): Promise<Record<string, unknown>> {
  const sink =
    DELIVERY === 'sink' ? await AckSink.start(s.mode === 'asset', FILTER.slice(0, -1)) : undefined;
  const rig = await startLiveRig({
    brokerPort: sink?.port ?? mosquittoPort,
    mode: s.mode,
    qos: s.qos,
    ...(DELIVERY === 'subscriber' ? {} : { filter: 'bench/nothing/#' }),
  });
  const { agent, pid, healthUrl } = rig;
  const counter = sink ?? rig.counter;
  const deliveredOf = (h: HealthDoc) =>
    DELIVERY === 'broker' ? h.samples.published : counter.samples;
  try {
    await sleep(WARMUP_MS);
    const h0 = await getHealth(healthUrl);
    const cpu0 = cpuSeconds(pid);
    const io0 = writeBytes(pid);
    const delivered0 = deliveredOf(h0);
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    const cpu = cpuSeconds(pid) - cpu0;
    const written = writeBytes(pid) - io0;
    const h1 = await getHealth(healthUrl);
    const delivered = deliveredOf(h1) - delivered0;
    const elapsed = (Date.now() - t0) / 1000;
    const peakRss = statusMb(pid, 'VmHWM');
    const rssNow = statusMb(pid, 'VmRSS');
    await agent.stop();
    await counter.settle();
    if (process.env.BENCH_LOG_DIR)
      writeFileSync(join(process.env.BENCH_LOG_DIR, `agent-${s.part}.log`), agent.output());
    const windows = logLines(agent)
      .filter((l) => l.msg === 'agent stats' && (l.time as number) > t0 + 2100)
      .map((l) => l.window as { cycles: number; missedCycles: number });
    // An agent that dies on stop (it did, before the raw QoS 1 path) has no final stats.
    let stopped: { left: number | string; lost: number | string } = {
      left: 'n/a: agent died on stop',
      lost: 'n/a',
    };
    try {
      const { outbox } = stoppedStats(agent);
      const expected = outbox.accepted.samples - outbox.dropped.samples - outbox.depth.samples;
      stopped = {
        left: outbox.depth.samples,
        lost: expected - (DELIVERY === 'broker' ? outbox.published.samples : counter.samples),
      };
    } catch {
      // reported as n/a
    }
    return {
      scenario: s.name,
      'samples/s accepted': Math.round((h1.samples.accepted - h0.samples.accepted) / elapsed),
      'samples/s delivered': Math.round(delivered / elapsed),
      'CPU-s per 1M delivered': round((cpu / delivered) * 1e6),
      'CPU % of a core': round((cpu / elapsed) * 100, 1),
      'peak RSS MiB': round(peakRss, 1),
      'RSS at end MiB': round(rssNow, 1),
      'disk MB/h (write_bytes)': mbPerHour(written, elapsed),
      'missed cycles': `${windows.reduce((n, w) => n + w.missedCycles, 0)} of ${windows.reduce((n, w) => n + w.cycles, 0)}`,
      'left in outbox at stop': stopped.left,
      'not delivered (total)': stopped.lost,
    };
  } finally {
    await rig.close();
    await sink?.close();
  }
}

// ---------------------------------------------------------------- 2. outage

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function outage(): Promise<Record<string, unknown>> {
  const dir = tempDir('footprint-outage');
  const brokerDir = tempDir('footprint-outage-broker');
  const brokerPort = await freePort();
  const healthPort = await freePort();
  const outboxPath = join(dir, 'outbox.db');
  const phase = Math.max(10, Math.round(SECONDS / 2));
  let broker: Running | undefined = startBroker(brokerPort, brokerDir);
  let counter: SampleCounter | undefined = await SampleCounter.connect(
    brokerPort,
    FILTER,
    true,
    20_000,
  );
  const sim = await startSim();
  const { agent, pid, healthUrl } = await startAgent(
    agentConfig({
      mqttUrl: `mqtt://127.0.0.1:${brokerPort}`,
      simPort: sim.port,
      mode: 'asset',
      qos: 1,
      outboxPath,
      healthPort,
    }),
    dir,
    healthPort,
  );
  try {
    await sleep(WARMUP_MS);
    const io0 = writeBytes(pid);
    await sleep(phase * 1000);
    const io1 = writeBytes(pid);
    counter.close();
    counter = undefined;
    await broker.stop();
    broker = undefined;
    const down0 = (await getHealth(healthUrl)).samples.accepted;
    const t1 = Date.now();
    await sleep(phase * 1000);
    const io2 = writeBytes(pid);
    const down = (await getHealth(healthUrl)).samples.accepted - down0;
    const downS = (Date.now() - t1) / 1000;
    const files = {
      db: fileSize(outboxPath),
      wal: fileSize(`${outboxPath}-wal`),
    };
    broker = startBroker(brokerPort, brokerDir);
    counter = await SampleCounter.connect(brokerPort, FILTER, true, 20_000);
    let h = await getHealth(healthUrl);
    const t2 = Date.now();
    while (Date.now() - t2 < 60_000 && !(h.broker.connected && h.outbox!.depth.samples < 20_000)) {
      await sleep(100);
      h = await getHealth(healthUrl);
    }
    const drainS = (Date.now() - t2) / 1000;
    const io3 = writeBytes(pid);
    await sleep(phase * 1000);
    const io4 = writeBytes(pid);
    const walAfter = fileSize(`${outboxPath}-wal`);
    return {
      scenario: 'outage, asset batches QoS 1 + outbox',
      'phase s': phase,
      'broker up: disk MB/h': mbPerHour(io1 - io0, phase),
      'broker down: disk MB/h': mbPerHour(io2 - io1, downS),
      'broker down: bytes per sample': round((io2 - io1) / down, 2),
      'db / WAL bytes at end of outage': `${files.db} / ${files.wal}`,
      'drain s (to < 2 cycles queued)': round(drainS, 1),
      'draining: disk MB written': round((io3 - io2) / 1e6, 1),
      // The WAL checkpoint of what the outage wrote may fall in the drain: count both phases.
      'outage + drain: bytes per sample': round((io3 - io1) / down, 2),
      'after drain: disk MB/h': mbPerHour(io4 - io3, phase),
      'WAL bytes after drain': walAfter,
      'peak RSS MiB': round(statusMb(pid, 'VmHWM'), 1),
    };
  } finally {
    counter?.close();
    await agent.stop();
    await sim.running.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(brokerDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- 3. idle Micro 820

async function idle(brokerPort: number): Promise<Record<string, unknown>> {
  const dir = tempDir('footprint-idle');
  const simPort = await freePort();
  const healthPort = await freePort();
  const sim = startCli(['sim', 'modbus', '--port', String(simPort)]);
  await sim.waitForOutput(/Modbus server listening/);
  const agent = start(
    process.execPath,
    [...agentNodeFlags(), CLI, 'agent', '--config', 'deploy/examples/micro820.yaml'],
    {
      PLC_PORT: String(simPort),
      MQTT_URL: `mqtt://127.0.0.1:${brokerPort}`,
      FACTORYLM_OUTBOX: join(dir, 'outbox.db'),
      HEALTH_PORT: String(healthPort),
      NODE_OPTIONS: '',
    },
  );
  try {
    await agent.waitForOutput(/"msg":"health endpoint listening"/);
    await sleep(15_000);
    const pid = agent.child.pid!;
    const h = await getHealth(`http://127.0.0.1:${healthPort}/health`);
    return {
      scenario: 'idle, Micro 820 config (deploy/examples/micro820.yaml)',
      'samples read': h.samples.read,
      'RSS MiB after 15 s': round(statusMb(pid, 'VmRSS'), 1),
      'peak RSS MiB': round(statusMb(pid, 'VmHWM'), 1),
    };
  } finally {
    await agent.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- 4. RSS by module import

const IMPORTS = [
  'mqtt',
  'modbus-serial',
  'zod',
  'js-yaml',
  'pino',
  'prom-client',
  'better-sqlite3',
  'sparkplug-payload',
  'node-opcua-client',
  './dist/agent/config.js',
  './dist/agent/agent.js',
];

/** RSS and heap of a fresh process after importing `spec` and a full GC, MiB. */
function importCost(spec: string | undefined): { rss: number; heap: number } {
  const script = `${spec ? `await import(${JSON.stringify(spec.startsWith('./') ? join(process.cwd(), spec) : spec)});` : ''}
globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); globalThis.gc();
const m = process.memoryUsage(); console.log('IMPORT ' + JSON.stringify({ rss: m.rss, heap: m.heapUsed }));`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  // Libraries may print their own lines (node-opcua warns about RSA PKCS#1 v1.5).
  const m = JSON.parse(/^IMPORT (.*)$/m.exec(out)![1]!) as { rss: number; heap: number };
  return { rss: round(m.rss / 1048576, 1), heap: round(m.heap / 1048576, 1) };
}

function imports(): Record<string, unknown>[] {
  const bare = importCost(undefined);
  const rows: Record<string, unknown>[] = [
    { module: '(bare node)', 'RSS MiB': bare.rss, 'heap MiB': bare.heap, 'RSS added MiB': 0 },
  ];
  // The first import of anything pages in Node's module loader and compiler: this row is that
  // fixed cost, so each library's own share is its row minus this one.
  for (const spec of ['data:text/javascript,export default 1', ...IMPORTS]) {
    const c = importCost(spec);
    rows.push({
      module: spec,
      'RSS MiB': c.rss,
      'heap MiB': c.heap,
      'RSS added MiB': round(c.rss - bare.rss, 1),
    });
  }
  return rows;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  ensureServices(['mosquitto']);
  console.log(
    `# Footprint benchmark: 10 devices x 1,000 registers every 100 ms, every value changing; ${SECONDS} s per live scenario`,
  );
  console.log(
    JSON.stringify({
      node: process.version,
      cpu: cpus()[0]?.model ?? '?',
      cores: cpus().length,
      agentNodeOptions: process.env.BENCH_AGENT_NODE_OPTIONS ?? '',
      delivery: DELIVERY,
    }),
  );
  const brokerDir = tempDir('footprint-broker');
  const brokerPort = await freePort();
  const broker = startBroker(brokerPort, brokerDir);
  const results: Record<string, unknown>[] = [];
  const report = (r: Record<string, unknown>) => {
    results.push(r);
    console.log(JSON.stringify(r));
  };
  try {
    (await SampleCounter.connect(brokerPort, 'bench/none', false, 20_000)).close();
    for (const s of LIVE) if (runs(s.part)) report(await live(s, brokerPort));
    if (runs('outage')) report(await outage());
    if (runs('idle')) report(await idle(brokerPort));
    if (results.length > 0) console.table(results);
    if (runs('imports')) {
      const table = imports();
      for (const r of table) console.log(JSON.stringify(r));
      console.table(table);
    }
  } finally {
    await broker.stop();
    rmSync(brokerDir, { recursive: true, force: true });
  }
}

await main();
