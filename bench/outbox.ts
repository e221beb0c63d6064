/**
 * Outbox benchmark. A change-on-read Modbus simulator (its own process: the synthetic layout of
 * `factorylm sim modbus --synthetic`, but every tag changes on every read, so every sample is
 * published), the real agent CLI (its own process, measured from /proc) and a real Mosquitto.
 * A raw MQTT subscriber in this process counts the samples that arrive.
 *
 *   1. Live cost at 10 devices x 1,000 tags every 100 ms (100,000 samples/s), agent CPU-seconds
 *      per million samples: (a) publish.mode asset, QoS 1 (budget <= 2); (b) per-tag, QoS 0
 *      (budget <= 8.8); (r) reference: the same polling with nothing published. Peak RSS,
 *      delivered/accepted.
 *   2. The outbox's share: an Outbox fed the same stream in a process of its own (see METHOD).
 *   3. Backlog drain: broker down until the agent holds BENCH_BACKLOG (1,000,000) samples, then
 *      the broker starts; time to outbox depth 0 (GET /health), samples lost, disk bytes per
 *      sample, agent RSS during the drain (VmRSS every 100 ms).
 *
 *   npm run bench:outbox     (about 3 minutes)
 *
 * BENCH_SECONDS (15) per live scenario, BENCH_HARNESS_SECONDS (10), BENCH_BACKLOG (1000000);
 * BENCH_ONLY=live-ref,live-asset,live-tag,share,drain runs a subset; BENCH_PROFILE=<dir> has the
 * agent write a CPU profile; BENCH_AGENT_NODE_OPTIONS passes V8 flags to the agent;
 * BENCH_LOG_DIR=<dir> keeps the agent logs of the live runs; BENCH_TIMELINE=1 prints the drain.
 */
import { statSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mqtt, { type IClientPublishOptions, type MqttClient, type PacketCallback } from 'mqtt';
import { Outbox } from '../agent/outbox.js';
import { silentLogger } from '../core/logger.js';
import { AssetBatchWriter, encodeTagPayload, markHistorical } from '../protocols/mqtt/payload.js';
import { assetTopic, tagTopic } from '../protocols/mqtt/topics.js';
import { syntheticLayout } from '../simulators/synthetic.js';
import { freePort, start, type Running } from '../test/support/processes.js';
import { ensureServices } from '../test/support/system-services.js';
import { cpuSeconds, statusMb } from './proc.js';
import {
  agentConfig,
  DEVICES,
  FILTER,
  FLUSH_MS,
  getHealth,
  logLines,
  MAX_INFLIGHT,
  POLL_MS,
  REPLAY_RATE,
  round,
  SAMPLES_PER_CYCLE,
  SampleCounter,
  SITE,
  sleep,
  startAgent,
  startBroker,
  startLiveRig,
  startSim,
  stoppedStats,
  TAGS_PER_DEVICE,
  tempDir,
} from './workload.js';

const SELF = fileURLToPath(import.meta.url);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const HARNESS_SECONDS = Number(process.env.BENCH_HARNESS_SECONDS ?? 10);
const BACKLOG_SAMPLES = Number(process.env.BENCH_BACKLOG ?? 1_000_000);
const ONLY = process.env.BENCH_ONLY?.split(',');
const runs = (part: string) => !ONLY || ONLY.includes(part);
const WARMUP_MS = 3000;

const METHOD =
  'in-process, in a child process of its own: one Outbox (real SQLite file, flush 200 ms, maxInflight 1000) on an mqtt.js client to the local Mosquitto, fed the agent stream (10 assets x 1000 tags per 100 ms, payloads built beforehand with the agent encoders). ' +
  'process.cpuUsage(), exclusive of nested regions, around each poll cycle of Outbox.append calls (QoS 0: incl. packet encoding; QoS 1: incl. the mqtt.js publish() they make), each QoS 0 socket write batch, each PUBACK callback (ack + pump) and each flush (SQLite commit/delete/limits). ' +
  'Outbox calls = their sum; outbox process total = whole CPU of that child (adds socket reads, timers, GC). Bare = the same stream through mqtt.js publish() without the outbox, for comparison.';

// ---------------------------------------------------------------- 1. live cost

interface LiveScenario {
  name: string;
  mode: 'tag' | 'asset';
  qos: 0 | 1;
  budget?: number;
  minIntervalMs?: number;
}

async function live(s: LiveScenario, brokerPort: number, brokerPid: number) {
  const rig = await startLiveRig({ brokerPort, ...s });
  const { counter, agent, pid, healthUrl } = rig;
  const sim = { running: rig.sim };
  try {
    await sleep(WARMUP_MS);
    const h0 = await getHealth(healthUrl);
    const cpu0 = cpuSeconds(pid);
    const sys0 = cpuSeconds(pid, 'system');
    const brokerCpu0 = cpuSeconds(brokerPid);
    const simCpu0 = cpuSeconds(sim.running.child.pid!);
    const benchCpu0 = process.cpuUsage();
    const delivered0 = counter.samples;
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    const cpu = cpuSeconds(pid) - cpu0;
    const sys = cpuSeconds(pid, 'system') - sys0;
    const brokerCpu = cpuSeconds(brokerPid) - brokerCpu0;
    const simCpu = cpuSeconds(sim.running.child.pid!) - simCpu0;
    const benchCpu = process.cpuUsage(benchCpu0);
    const h1 = await getHealth(healthUrl);
    const t1 = Date.now();
    const delivered = counter.samples - delivered0;
    const elapsed = (t1 - t0) / 1000;
    const peakRss = statusMb(pid, 'VmHWM');
    await agent.stop();
    await counter.settle();
    const stats = stoppedStats(agent);
    if (process.env.BENCH_LOG_DIR)
      writeFileSync(
        join(process.env.BENCH_LOG_DIR, `agent-${s.name.slice(0, 3)}log`),
        agent.output(),
      );
    const memory = logLines(agent)
      .filter((l) => l.msg === 'agent stats' && (l.time as number) <= t1)
      .map(
        (l) => l.memoryMb as { rss: number; heapUsed: number; heapTotal: number; external: number },
      )
      .pop();
    const windows = logLines(agent)
      .filter(
        (l) =>
          l.msg === 'agent stats' && (l.time as number) > t0 + 2100 && (l.time as number) <= t1,
      )
      .map((l) => l.window as { cycles: number; missedCycles: number; samplesRead: number });
    const accepted = h1.samples.accepted - h0.samples.accepted;
    const read = h1.samples.read - h0.samples.read;
    const perMillion = (cpu / accepted) * 1e6;
    const left = stats.outbox.depth.samples;
    return {
      scenario: s.name,
      'samples/s read': Math.round(read / elapsed),
      'samples/s accepted': Math.round(accepted / elapsed),
      'agent CPU-s per 1M samples': accepted > 0 ? round(perMillion) : 'n/a',
      'agent CPU-s per 1M samples read': round((cpu / read) * 1e6),
      budget: s.budget ?? 'n/a',
      'within budget': s.budget === undefined ? 'n/a' : perMillion <= s.budget,
      'agent CPU % of one core': round((cpu / elapsed) * 100, 1),
      'of which kernel %': round((sys / elapsed) * 100, 1),
      'peak RSS MB': round(peakRss, 1),
      'memory MB at end (rss/heapUsed/heapTotal/external)': memory
        ? `${memory.rss}/${memory.heapUsed}/${memory.heapTotal}/${memory.external}`
        : 'n/a',
      'mosquitto CPU % of one core': round((brokerCpu / elapsed) * 100, 1),
      'simulator / subscriber CPU %': `${round((simCpu / elapsed) * 100, 1)} / ${round(((benchCpu.user + benchCpu.system) / 1e6 / elapsed) * 100, 1)}`,
      'missed cycles (window)': `${windows.reduce((n, w) => n + w.missedCycles, 0)} of ${windows.reduce((n, w) => n + w.cycles, 0)}`,
      'read (total)': stats.samplesRead,
      'accepted (total)': stats.samplesAccepted,
      'published (total)': stats.outbox.published.samples,
      'delivered (total)': counter.samples,
      'left in outbox at stop': left,
      'dropped by outbox': stats.outbox.dropped.samples,
      'delivered/accepted': round(counter.samples / stats.samplesAccepted, 6),
      'delivered/accepted (window)': round(delivered / accepted, 4),
      duplicates: counter.duplicates,
    };
  } finally {
    await rig.close();
  }
}

// ---------------------------------------------------------------- 2. the outbox in-process

interface Msg {
  topic: string;
  payload: string;
  samples: number;
}

/** One poll cycle of all devices as the agent encodes it; `k` varies the values. */
function buildCycle(mode: 'tag' | 'asset', k: number, ts: number): Msg[] {
  const layout = syntheticLayout(TAGS_PER_DEVICE);
  const out: Msg[] = [];
  for (let d = 1; d <= DEVICES; d++) {
    const asset = `dev${d}`;
    const batch = new AssetBatchWriter(ts);
    layout.forEach((t, j) => {
      const n = j + k + d;
      const v =
        t.type === 'bool'
          ? n % 2 === 0
          : t.type === 'float32'
            ? n / 4
            : t.type === 'int16'
              ? (n % 60000) - 30000
              : n;
      if (mode === 'asset') batch.add(JSON.stringify(t.name) + ':', v, 'good');
      else
        out.push({
          topic: tagTopic({ ...SITE, asset, tag: t.name }),
          payload: encodeTagPayload({ v, ts, q: 'good' }),
          samples: 1,
        });
    });
    if (mode === 'asset')
      out.push({
        topic: assetTopic({ ...SITE, asset }),
        payload: batch.encode(),
        samples: batch.count,
      });
  }
  return out;
}

type Region = 'cycle' | 'batch' | 'ack' | 'flush';

/**
 * CPU time (process.cpuUsage) per region, exclusive: a region entered inside another is not
 * counted in its caller's. Regions are coarse (a poll cycle's appends, a socket write batch, a
 * PUBACK callback, a flush), so the cost of measuring stays small.
 */
class CpuClock {
  readonly us: Record<Region | 'other', number> = {
    cycle: 0,
    batch: 0,
    ack: 0,
    flush: 0,
    other: 0,
  };
  private readonly stack: (Region | 'other')[] = ['other'];
  private mark = process.cpuUsage();

  run<T>(region: Region, f: () => T): T {
    this.charge();
    this.stack.push(region);
    try {
      return f();
    } finally {
      this.charge();
      this.stack.pop();
    }
  }

  reset(): void {
    for (const k of Object.keys(this.us) as (Region | 'other')[]) this.us[k] = 0;
    this.mark = process.cpuUsage();
  }

  private charge(): void {
    const d = process.cpuUsage(this.mark);
    this.us[this.stack[this.stack.length - 1]!] += d.user + d.system;
    this.mark = process.cpuUsage();
  }
}

async function harnessRole(
  mode: 'tag' | 'asset',
  qos: 0 | 1,
  url: string,
  seconds: number,
  variant: 'outbox' | 'bare',
  dir: string,
): Promise<void> {
  const cycles = [0, 1, 2, 3].map((k) => buildCycle(mode, k, Date.now()));
  const client: MqttClient = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    clean: true,
    queueQoSZero: false,
    reconnectPeriod: 0,
  });
  const clock = new CpuClock();
  let acked = 0;
  let flushes = 0;
  let outbox: Outbox | undefined;
  if (variant === 'outbox') {
    // Every PUBACK callback the outbox gets is timed: it marks the message and sends the next.
    const publish = client.publish.bind(client) as (
      topic: string,
      payload: string | Buffer,
      opts: IClientPublishOptions,
      cb?: PacketCallback,
    ) => MqttClient;
    (client as unknown as { publish: typeof publish }).publish = (topic, payload, opts, cb) =>
      publish(
        topic,
        payload,
        opts,
        cb &&
          ((err, packet) => {
            acked += 1;
            clock.run('ack', () => cb(err, packet));
          }),
      );
    outbox = new Outbox(
      client,
      {
        path: join(dir, 'outbox.db'),
        maxBytes: 512 * 1024 * 1024,
        maxAgeMs: 7 * 24 * 3600_000,
        flushIntervalMs: FLUSH_MS,
        replayRatePerSec: REPLAY_RATE,
        maxMemoryMessages: 100_000,
        qos,
        maxInflight: MAX_INFLIGHT,
      },
      (r, hist) => (hist ? markHistorical(r.payload as string) : r.payload),
      silentLogger,
    );
    const flush = outbox.flush.bind(outbox);
    outbox.flush = () => {
      flushes += 1;
      clock.run('flush', flush);
    };
    // The QoS 0 batch goes to the socket from a nextTick, outside append: time it too (a private
    // method; replaced on the instance, which the outbox calls through `this`).
    const internals = outbox as unknown as { writeBatch: () => void };
    const writeBatch = internals.writeBatch.bind(outbox);
    internals.writeBatch = () => clock.run('batch', writeBatch);
    outbox.resume();
  }
  const send = (m: Msg, ts: number) => {
    if (outbox) outbox.append(m.topic, m.payload, m.samples, ts);
    // No callback at QoS 0: mqtt.js would park each one on the socket's 'drain' event.
    else if (qos === 0) client.publish(m.topic, m.payload, { qos });
    else client.publish(m.topic, m.payload, { qos }, () => (acked += 1));
  };

  const warmupUntil = performance.now() + 2000;
  let measuring = false;
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  let samples = 0;
  let messages = 0;
  const endAt = warmupUntil + seconds * 1000;
  let due = performance.now();
  for (let k = 0; performance.now() < endAt; k++) {
    if (!measuring && performance.now() >= warmupUntil) {
      measuring = true;
      clock.reset();
      flushes = 0;
      acked = 0;
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
    const ts = Date.now();
    const cycle = cycles[k % cycles.length]!;
    clock.run('cycle', () => {
      for (const m of cycle) send(m, ts);
    });
    if (measuring)
      for (const m of cycle) {
        samples += m.samples;
        messages += 1;
      }
    due += POLL_MS;
    await sleep(Math.max(0, due - performance.now()));
  }
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1000;
  const stats = outbox?.stats;
  const perM = (us: number) => round((us / 1e6 / samples) * 1e6, 3);
  const { cycle, batch, ack, flush } = clock.us;
  const result = {
    variant,
    mode,
    qos,
    seconds: round(elapsed, 1),
    samples,
    messages,
    acked,
    'process CPU-s per 1M samples': perM(cpu.user + cpu.system),
    ...(outbox
      ? {
          'append CPU s per 1M (QoS 0: incl. encoding; QoS 1: incl. mqtt.js publish)': perM(cycle),
          'QoS 0 batch writes CPU s per 1M': perM(batch),
          'PUBACK callbacks (ack + pump) CPU s per 1M': perM(ack),
          'flush (SQLite) CPU s per 1M': perM(flush),
          flushes,
          'outbox calls CPU s per 1M': perM(cycle + batch + ack + flush),
          'depth at end': stats!.depth.messages,
        }
      : { 'mqtt.js publish() calls CPU s per 1M': perM(cycle) }),
  };
  await client.endAsync();
  outbox?.close();
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

async function harness(
  mode: 'tag' | 'asset',
  qos: 0 | 1,
  url: string,
  variant: 'outbox' | 'bare',
): Promise<Record<string, string | number>> {
  const dir = tempDir('harness');
  const running = start(process.execPath, [
    SELF,
    'harness',
    mode,
    String(qos),
    url,
    String(HARNESS_SECONDS),
    variant,
    dir,
  ]);
  try {
    await running.waitForOutput(/^RESULT /m, (HARNESS_SECONDS + 30) * 1000);
    return JSON.parse(/^RESULT (.*)$/m.exec(running.output())![1]!) as Record<
      string,
      string | number
    >;
  } finally {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- 3. backlog drain

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function drain() {
  const dir = tempDir('drain');
  const brokerDir = tempDir('drain-broker');
  const brokerPort = await freePort();
  const healthPort = await freePort();
  const outboxPath = join(dir, 'outbox.db');
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
  const rss: { t: number; mb: number }[] = [];
  const sampler = setInterval(() => {
    try {
      rss.push({ t: Date.now(), mb: statusMb(pid, 'VmRSS') });
    } catch {
      // exited
    }
  }, 100);
  let broker: Running | undefined;
  let counter: SampleCounter | undefined;
  try {
    const tAcc = Date.now();
    let h = await getHealth(healthUrl);
    while (h.outbox!.depth.samples < BACKLOG_SAMPLES && Date.now() - tAcc < 60_000) {
      await sleep(100);
      h = await getHealth(healthUrl);
    }
    // What is on disk now: the file sizes, and the committed rows read by a second connection.
    const reader = new Database(outboxPath, { readonly: true, fileMustExist: true });
    const stored = reader
      .prepare('SELECT count(*) AS messages, coalesce(sum(samples), 0) AS samples FROM outbox')
      .get() as { messages: number; samples: number };
    const files = {
      db: fileSize(outboxPath),
      wal: fileSize(`${outboxPath}-wal`),
      shm: fileSize(`${outboxPath}-shm`),
    };
    reader.close();
    const accumulateS = (Date.now() - tAcc) / 1000;
    const peakDepth = h.outbox!.depth;
    const rssBeforeBroker = Math.max(...rss.map((r) => r.mb));

    const brokerStart = Date.now();
    broker = startBroker(brokerPort, brokerDir);
    counter = await SampleCounter.connect(brokerPort, FILTER, true, 20_000);
    let connectedAt = 0;
    let drainedAt = 0;
    /** Backlog gone: only live messages of the last poll cycle or so may still await PUBACK. */
    let backlogGoneAt = 0;
    const timeline: [number, number, number][] = [];
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      h = await getHealth(healthUrl).catch(() => h);
      const now = Date.now();
      timeline.push([now - brokerStart, h.outbox!.depth.messages, h.outbox!.depth.samples]);
      if (h.broker.connected && !connectedAt) connectedAt = now;
      if (connectedAt && !backlogGoneAt && h.outbox!.depth.samples <= SAMPLES_PER_CYCLE)
        backlogGoneAt = now;
      if (connectedAt && h.outbox!.depth.messages === 0) {
        drainedAt = now;
        break;
      }
      await sleep(50);
    }
    if (process.env.BENCH_TIMELINE)
      console.log(JSON.stringify({ 'drain timeline [ms, messages, samples]': timeline }));
    // The agent's own record of when the session came up, more precise than the 50 ms polling.
    const connectedLine = logLines(agent).find(
      (l) => l.msg === 'connected to MQTT broker' && (l.time as number) >= brokerStart,
    );
    const agentConnectedAt = (connectedLine?.time as number | undefined) ?? connectedAt;
    const replayLine = logLines(agent).find((l) => l.msg === 'outbox backlog replayed');
    const drainRss = rss.filter((r) => r.t >= brokerStart && r.t <= (drainedAt || Date.now()));
    await sleep(1000);
    clearInterval(sampler);
    const peakRss = statusMb(pid, 'VmHWM');
    await agent.stop();
    await counter.settle();
    const stats = stoppedStats(agent);
    const left = stats.outbox.depth.samples;
    const expected = stats.outbox.accepted.samples - stats.outbox.dropped.samples - left;
    const lost = expected - counter.samples;
    const drainMs = drainedAt ? drainedAt - brokerStart : NaN;
    return {
      scenario: '3. backlog drain, asset mode, QoS 1',
      'replayRatePerSec (bench config)': REPLAY_RATE,
      'flushIntervalMs / maxInflight': `${FLUSH_MS} / ${MAX_INFLIGHT}`,
      'accumulate s': round(accumulateS, 1),
      'outbox depth at peak (samples / messages)': `${peakDepth.samples} / ${peakDepth.messages}`,
      'samples in the file at peak': stored.samples,
      'messages in the file at peak': stored.messages,
      'file bytes at peak (db+wal+shm)': files.db + files.wal + files.shm,
      'db / wal / shm bytes': `${files.db} / ${files.wal} / ${files.shm}`,
      'disk bytes per sample': round((files.db + files.wal + files.shm) / stored.samples, 2),
      'subscriber subscribed before agent reconnected':
        counter.subscribedAt <= agentConnectedAt ? 'yes' : 'NO (early messages missed)',
      'broker start -> agent reconnected ms': agentConnectedAt - brokerStart,
      'agent reconnected -> depth 0 ms': drainedAt ? drainedAt - agentConnectedAt : 'not drained',
      'broker start -> depth 0 ms': drainMs,
      'agent reconnected -> depth <= one cycle ms': backlogGoneAt
        ? backlogGoneAt - agentConnectedAt
        : 'not reached',
      'replay logged ms (agent)': (replayLine?.ms as number | undefined) ?? 'n/a',
      'drained within 10 s of reconnect': drainedAt
        ? drainedAt - agentConnectedAt <= 10_000
        : false,
      'drained within 10 s of broker start': drainMs <= 10_000,
      'agent RSS MB before broker (max)': round(rssBeforeBroker, 1),
      'agent RSS MB during drain (max)': round(Math.max(...drainRss.map((r) => r.mb)), 1),
      'RSS within 80 MB': Math.max(...drainRss.map((r) => r.mb)) <= 80,
      'agent peak RSS MB (VmHWM)': round(peakRss, 1),
      'accepted samples (total)': stats.outbox.accepted.samples,
      'delivered samples (unique)': counter.samples,
      'delivered marked hist': counter.histSamples,
      'duplicate messages': counter.duplicates,
      'left in outbox at stop': left,
      'dropped by outbox limits': stats.outbox.dropped.samples,
      lost,
    };
  } finally {
    clearInterval(sampler);
    counter?.close();
    await agent.stop();
    await sim.running.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(brokerDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

function versions(): Record<string, string> {
  const pkg = (name: string) =>
    (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string })
      .version;
  const memory = new Database(':memory:');
  const sqlite = (memory.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  memory.close();
  let mosquitto = '?';
  try {
    execFileSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8' });
  } catch (err) {
    mosquitto = /version ([\d.]+)/.exec(String((err as { stdout?: string }).stdout))?.[1] ?? '?';
  }
  return {
    node: process.version,
    'better-sqlite3': pkg('better-sqlite3'),
    sqlite,
    mqtt: pkg('mqtt'),
    mosquitto,
    cpu: cpus()[0]?.model ?? '?',
    cores: String(cpus().length),
  };
}

async function main(): Promise<void> {
  ensureServices(['mosquitto']);
  console.log(
    `# Outbox benchmark: ${DEVICES} devices x ${TAGS_PER_DEVICE} tags every ${POLL_MS} ms; live ${SECONDS} s per scenario after ${WARMUP_MS / 1000} s warm-up; harness ${HARNESS_SECONDS} s; backlog ${BACKLOG_SAMPLES} samples`,
  );
  console.log(JSON.stringify(versions()));
  const brokerDir = tempDir('broker');
  const brokerPort = await freePort();
  const broker = startBroker(brokerPort, brokerDir);
  const results: Record<string, unknown>[] = [];
  const report = (r: Record<string, unknown>) => {
    results.push(r);
    console.log(JSON.stringify(r));
  };
  try {
    // Wait for the broker: the subscriber connects when it listens.
    (await SampleCounter.connect(brokerPort, 'bench/none', false, 20_000)).close();
    const liveResults = [];
    for (const s of [
      {
        part: 'live-ref',
        name: '1r. reference: polling only (minIntervalMs 10 min, nothing published after cycle 1)',
        mode: 'asset' as const,
        qos: 1 as const,
        minIntervalMs: 600_000,
      },
      {
        part: 'live-asset',
        name: '1a. asset mode, QoS 1, outbox',
        mode: 'asset' as const,
        qos: 1 as const,
        budget: 2,
      },
      {
        part: 'live-tag',
        name: '1b. per-tag mode, QoS 0, outbox',
        mode: 'tag' as const,
        qos: 0 as const,
        budget: 8.8,
      },
    ]) {
      if (!runs(s.part)) continue;
      const r = await live(s, brokerPort, broker.child.pid!);
      liveResults.push(r);
      report(r);
    }
    if (liveResults.length > 0) console.table(liveResults);
    if (runs('share')) await share(brokerPort, liveResults, report);
    if (runs('drain')) {
      const d = await drain();
      report(d);
      console.table([d]);
    }
  } finally {
    await broker.stop();
    rmSync(brokerDir, { recursive: true, force: true });
  }
}

async function share(
  brokerPort: number,
  liveResults: { scenario: string; 'agent CPU-s per 1M samples': number | string }[],
  report: (r: Record<string, unknown>) => void,
): Promise<void> {
  console.log(JSON.stringify({ method: METHOD }));
  const url = `mqtt://127.0.0.1:${brokerPort}`;
  const agentCost = (prefix: string) =>
    Number(liveResults.find((r) => r.scenario.startsWith(prefix))?.['agent CPU-s per 1M samples']);
  const shares = [];
  const cases: ['asset' | 'tag', 0 | 1, number][] = [
    ['asset', 1, agentCost('1a.')],
    ['tag', 0, agentCost('1b.')],
  ];
  for (const [mode, qos, cost] of cases) {
    const withOutbox = await harness(mode, qos, url, 'outbox');
    report({ scenario: `2. in-process, ${mode} QoS ${qos}`, ...withOutbox });
    const bare = await harness(mode, qos, url, 'bare');
    report({ scenario: `2. in-process, ${mode} QoS ${qos}`, ...bare });
    const own = withOutbox['outbox calls CPU s per 1M'] as number;
    const total = withOutbox['process CPU-s per 1M samples'] as number;
    const row = {
      scenario: `2. outbox share, ${mode} QoS ${qos}`,
      'agent CPU-s per 1M (live, 1.)': cost,
      'outbox calls CPU s per 1M': own,
      'outbox calls % of agent': round((own / cost) * 100, 1),
      'of which flush (SQLite)': withOutbox['flush (SQLite) CPU s per 1M'],
      'outbox process total (incl. socket I/O, GC) s per 1M': total,
      'outbox process total % of agent': round((total / cost) * 100, 1),
      'bare mqtt.js process total s per 1M': bare['process CPU-s per 1M samples'],
      'bare mqtt.js publish() calls s per 1M': bare['mqtt.js publish() calls CPU s per 1M'],
    };
    shares.push(row);
    report(row);
  }
  console.table(shares);
}

const role = process.argv[2];
if (role === 'harness') {
  const [, , , mode, qos, url, seconds, variant, dir] = process.argv;
  await harnessRole(
    mode as 'tag' | 'asset',
    Number(qos) as 0 | 1,
    url!,
    Number(seconds),
    variant as 'outbox' | 'bare',
    dir!,
  );
} else {
  await main();
}
