/**
 * The bare Node floor (issue 15): what a process with only mqtt.js and modbus-serial loaded costs
 * at the footprint workload (bench/workload.ts: 10 change-on-read devices × 1,000 tags in 1,400
 * holding registers every 100 ms, 100,000 samples/s, real Mosquitto), so the agent's figures of
 * bench/footprint.ts can be read against it. bench/floor-client.ts is that process.
 *
 *   npm run bench:floor        BENCH_SECONDS (20), BENCH_ONLY=tag0,asset1,bare,
 *                              BENCH_AGENT_NODE_OPTIONS (node/V8 flags for the client)
 *
 * Prints, per scenario: samples/s polled and delivered (counted by a raw subscriber), CPU-s per
 * 1M delivered, peak RSS (VmHWM), RSS at the end; and `bare`: RSS of an idle process that has
 * imported mqtt and modbus-serial and connected to the broker and the simulator. Run it under
 * another Node by starting this file with that binary (the client uses the same one).
 */
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, start } from '../test/support/processes.js';
import { ensureServices } from '../test/support/system-services.js';
import { cpuSeconds, statusMb } from './proc.js';
import {
  agentNodeFlags,
  DEVICES,
  FILTER,
  round,
  SampleCounter,
  sleep,
  startBroker,
  startSim,
  TAGS_PER_DEVICE,
  tempDir,
} from './workload.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_MS = 3000;
const ONLY = process.env.BENCH_ONLY?.split(',');
const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'floor-client.js');

interface Scenario {
  part: string;
  name: string;
  mode: 'tag' | 'asset';
}

const SCENARIOS: Scenario[] = [
  { part: 'tag0', name: 'floor: per-tag, QoS 0', mode: 'tag' },
  { part: 'asset1', name: 'floor: asset batches, QoS 1', mode: 'asset' },
];

async function run(s: Scenario, brokerPort: number): Promise<Record<string, unknown>> {
  const sim = await startSim();
  const counter = await SampleCounter.connect(brokerPort, FILTER, s.mode === 'asset');
  const client = start(
    process.execPath,
    [
      ...agentNodeFlags(),
      CLIENT,
      s.mode,
      String(sim.port),
      String(brokerPort),
      String(DEVICES),
      String(TAGS_PER_DEVICE),
    ],
    { NODE_OPTIONS: '' },
  );
  try {
    await client.waitForOutput(/floor ready/, 30_000);
    const pid = client.child.pid!;
    await sleep(WARMUP_MS);
    const cpu0 = cpuSeconds(pid);
    const delivered0 = counter.samples;
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    const cpu = cpuSeconds(pid) - cpu0;
    const delivered = counter.samples - delivered0;
    const elapsed = (Date.now() - t0) / 1000;
    const peakRss = statusMb(pid, 'VmHWM');
    const rssNow = statusMb(pid, 'VmRSS');
    await client.stop();
    const stats = /\{"floor":.*\}/.exec(client.output());
    const c = stats
      ? (JSON.parse(stats[0]) as { floor: { cycles: number; missedCycles: number } }).floor
      : undefined;
    return {
      scenario: s.name,
      'samples/s delivered': Math.round(delivered / elapsed),
      'CPU-s per 1M delivered': round((cpu / delivered) * 1e6),
      'CPU % of a core': round((cpu / elapsed) * 100, 1),
      'peak RSS MiB': round(peakRss, 1),
      'RSS at end MiB': round(rssNow, 1),
      'missed cycles': c ? `${c.missedCycles} of ${c.cycles + c.missedCycles}` : 'n/a',
    };
  } finally {
    await client.stop();
    counter.close();
    await sim.running.stop();
  }
}

/** An idle client: both libraries imported, one MQTT and one Modbus connection, no polling. */
const BARE = `import mqtt from 'mqtt'; import ModbusRTU from 'modbus-serial';
const c = mqtt.connect('mqtt://127.0.0.1:' + process.argv[1]); await new Promise((r) => c.once('connect', r));
const m = new ModbusRTU(); await m.connectTCP('127.0.0.1', { port: Number(process.argv[2]) }); m.setID(1);
await m.readHoldingRegisters(0, 100); await new Promise((r) => setTimeout(r, 2000));
const u = process.memoryUsage(); console.log('BARE ' + JSON.stringify({ rss: u.rss, heap: u.heapUsed }));
c.end(true); m.close(() => undefined); process.exit(0);`;

async function main(): Promise<void> {
  ensureServices(['mosquitto']);
  console.log(
    `# Bare Node floor: mqtt.js + modbus-serial only, ${DEVICES} devices x ${TAGS_PER_DEVICE} tags every 100 ms; ${SECONDS} s per scenario`,
  );
  console.log(
    JSON.stringify({
      node: process.version,
      cpu: cpus()[0]?.model ?? '?',
      cores: cpus().length,
      nodeOptions: agentNodeFlags().join(' '),
    }),
  );
  const brokerDir = tempDir('floor-broker');
  const brokerPort = await freePort();
  const broker = startBroker(brokerPort, brokerDir);
  const results: Record<string, unknown>[] = [];
  try {
    (await SampleCounter.connect(brokerPort, 'bench/none', false, 20_000)).close();
    for (const s of SCENARIOS) {
      if (ONLY && !ONLY.includes(s.part)) continue;
      const r = await run(s, brokerPort);
      results.push(r);
      console.log(JSON.stringify(r));
    }
    if (!ONLY || ONLY.includes('bare')) {
      const sim = await startSim();
      try {
        // From the bench folder, so that the ESM script resolves the project's node_modules.
        const idle = start(
          process.execPath,
          [
            ...agentNodeFlags(),
            '--input-type=module',
            '-e',
            BARE,
            String(brokerPort),
            String(sim.port),
          ],
          { NODE_OPTIONS: '' },
          dirname(CLIENT),
        );
        await idle.waitForOutput(/BARE \{.*\}/, 30_000);
        const m = JSON.parse(/BARE (\{.*\})/.exec(idle.output())![1]!) as {
          rss: number;
          heap: number;
        };
        await idle.stop();
        const r = {
          scenario: 'floor: idle, mqtt + modbus-serial imported and connected',
          'RSS MiB': round(m.rss / 1048576, 1),
          'heap MiB': round(m.heap / 1048576, 1),
        };
        results.push(r);
        console.log(JSON.stringify(r));
      } finally {
        await sim.running.stop();
      }
    }
    if (results.length > 0) console.table(results);
  } finally {
    await broker.stop();
    rmSync(brokerDir, { recursive: true, force: true });
  }
}

await main();
