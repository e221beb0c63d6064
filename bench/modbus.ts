/**
 * Modbus agent benchmark. Against the synthetic simulator (its own process), the real agent
 * (its own process, measured) polls and publishes to a real Mosquitto:
 *   (a) 100 devices × 100 tags every 1 s;
 *   (b) 1 device × 10,000 tags every 100 ms, ~10 % changing per cycle.
 * Prints samples/s, MQTT messages/s, requests per cycle (planned vs one per tag), agent
 * CPU-seconds per million samples, peak RSS and poll latency p50/p99.
 *
 *   npm run bench:modbus            (BENCH_SECONDS=20 by default per scenario)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parse } from 'yaml';
import { freePort, startCli, runCli } from '../test/support/processes.js';
import { startMosquitto } from '../test/support/services.js';
import { ensureServices } from '../test/support/system-services.js';
import { cpuSeconds, statusMb } from './proc.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);

interface Scenario {
  name: string;
  synthetic: string;
  pollMs: number;
  qos: 0 | 1;
}

async function run(s: Scenario, mqttUrl: string): Promise<Record<string, string | number>> {
  const port = await freePort();
  const simArgs = [
    'sim',
    'modbus',
    '--synthetic',
    s.synthetic,
    '--port',
    String(port),
    '--change',
    '0.1',
  ];
  const config = (await runCli([...simArgs, '--print-config'])).stdout;
  const doc = parse(config);
  for (const d of doc.devices) d.pollIntervalMs = s.pollMs;
  doc.publish = { qos: s.qos, heartbeatMs: 600_000, maxInflight: 1000 };
  doc.log = { level: 'info' };
  const dir = mkdtempSync(join(tmpdir(), 'flm-bench-'));
  // Keep the outbox file out of the working directory, and GET /health off port 9102.
  doc.outbox = { path: join(dir, 'outbox.db') };
  doc.health = { port: 0 };
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, JSON.stringify(doc).replace('${MQTT_URL:-mqtt://127.0.0.1:1883}', mqttUrl));
  const tags = doc.devices.reduce((n: number, d: { tags: unknown[] }) => n + d.tags.length, 0);

  const sim = startCli([...simArgs, '--tick', String(s.pollMs)]);
  await sim.waitForOutput(/synthetic .* simulator on/);
  let messages = 0;
  const watcher = await mqtt.connectAsync(mqttUrl);
  watcher.on('message', () => (messages += 1));
  await watcher.subscribeAsync('factorylm/bench/#', { qos: 0 });

  const agent = startCli(['agent', '--config', file, '--stats-interval', '2']);
  await agent.waitForOutput(/"msg":"agent started"/);
  const started = /"msg":"agent started"/.exec(agent.output())
    ? agent
        .output()
        .split('\n')
        .find((l) => l.includes('"agent started"'))!
    : '{}';
  const requests = (JSON.parse(started).devices as { requests: number }[]).reduce(
    (n, d) => n + d.requests,
    0,
  );
  // Let the first cycle (every value new, all published) pass before measuring.
  await new Promise((r) => setTimeout(r, 2000));
  const pid = agent.child.pid!;
  const cpu0 = cpuSeconds(pid);
  const simCpu0 = cpuSeconds(sim.child.pid!);
  const msg0 = messages;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const simCpu = cpuSeconds(sim.child.pid!) - simCpu0;
  const msgs = messages - msg0;
  const rss = statusMb(pid, 'VmHWM');
  await agent.stop();
  const stopped = agent
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"agent stopped"'));
  const stats = stopped ? JSON.parse(stopped) : {};
  await watcher.endAsync();
  await sim.stop();
  const samplesPerSecond = (tags * 1000) / s.pollMs;
  // Per-window figures, skipping the first window (connection set-up and the first full publish).
  const windows = agent
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"agent stats"'))
    .map(
      (l) =>
        JSON.parse(l).window as {
          cycles: number;
          samplesRead: number;
          missedCycles: number;
          pollLatencyMs: { p50: number; p99: number };
        },
    )
    .slice(1);
  const sum = (f: (w: (typeof windows)[number]) => number) => windows.reduce((n, w) => n + f(w), 0);
  const p50s = windows.map((w) => w.pollLatencyMs.p50).sort((a, b) => a - b);
  const windowSeconds = windows.length * 2;
  return {
    scenario: s.name,
    tags: tags,
    'target samples/s': samplesPerSecond,
    'samples read/s': Math.round(sum((w) => w.samplesRead) / windowSeconds),
    'MQTT messages/s': Math.round(msgs / elapsed),
    'requests/cycle planned': requests,
    'requests/cycle one-per-tag': tags,
    'agent CPU-s per 1M samples': Number(((cpu / (samplesPerSecond * elapsed)) * 1e6).toFixed(2)),
    'agent CPU % of one core': Number(((cpu / elapsed) * 100).toFixed(1)),
    'peak RSS MB': Number(rss.toFixed(1)),
    'simulator CPU % of one core': Number(((simCpu / elapsed) * 100).toFixed(1)),
    'poll latency p50 ms (median window)': p50s[Math.floor(p50s.length / 2)] ?? 'n/a',
    'poll latency p99 ms (worst window)': Math.max(...windows.map((w) => w.pollLatencyMs.p99)),
    'missed cycles (after warm-up)': `${sum((w) => w.missedCycles)} of ${sum((w) => w.cycles)}`,
    'poll latency p99 ms incl. start-up': stats.pollLatencyMs?.p99 ?? 'n/a',
    // The outbox replaced the publisher; `agent stopped` logs Agent.stats with its counters.
    'outbox dropped samples': stats.outbox?.dropped?.samples ?? 'n/a',
    'outbox depth at stop (samples)': stats.outbox?.depth?.samples ?? 'n/a',
  };
}

ensureServices(['mosquitto']);
const mosquitto = await startMosquitto();
const versions = {
  node: process.version,
  'modbus-serial': JSON.parse(readFileSync('node_modules/modbus-serial/package.json', 'utf8'))
    .version,
  mqtt: JSON.parse(readFileSync('node_modules/mqtt/package.json', 'utf8')).version,
  mosquitto: (() => {
    try {
      execFileSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8' });
      return '?';
    } catch (err) {
      return /version ([\d.]+)/.exec(String((err as { stdout?: string }).stdout))?.[1] ?? '?';
    }
  })(),
  cpu: readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? '?',
};
console.log(`# Modbus agent benchmark, ${SECONDS} s per scenario`);
console.log(JSON.stringify(versions));
try {
  const results = [];
  for (const s of [
    {
      name: '(a) 100 devices x 100 tags @ 1 s, QoS 1',
      synthetic: '100x100',
      pollMs: 1000,
      qos: 1 as const,
    },
    {
      name: '(b) 1 device x 10,000 tags @ 100 ms, QoS 1',
      synthetic: '1x10000',
      pollMs: 100,
      qos: 1 as const,
    },
  ]) {
    const r = await run(s, mosquitto.url);
    results.push(r);
    console.log(JSON.stringify(r));
  }
  console.table(results);
} finally {
  await mosquitto.stop();
}
