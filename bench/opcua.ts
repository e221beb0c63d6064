/**
 * OPC UA benchmark. The OPC UA simulator in synthetic mode (its own process: N Double variables
 * all changing at R Hz), the real agent CLI subscribed to every one of them (its own process,
 * measured from /proc) and a real Mosquitto the agent publishes to (asset-batch mode, QoS 1).
 *
 *   1. Steady state: notifications/s the agent takes in (/health devices[].notifications), agent
 *      CPU-seconds per million notifications, agent RSS (current and peak), simulator CPU.
 *   2. Server restart (SIGUSR2: the simulator drops every session and connection, rebuilds its
 *      address space and serves again): time from "serving again" to notifications flowing.
 *   3. The floor: the same subscription and asset batches in a process that loads only
 *      node-opcua-client and mqtt.js (bench/opcua-floor-client.ts), same flags, same window:
 *      notifications/s, CPU-seconds per million, peak RSS. What Node itself needs for this load.
 *
 *   npm run bench:opcua     (about a minute)
 *
 * BENCH_VARIABLES (10000), BENCH_RATE_HZ (10), BENCH_SECONDS (20) of measurement;
 * BENCH_AGENT_NODE_OPTIONS passes node/V8 flags to the agent as arguments (e.g.
 * --max-semi-space-size=2 --heap-growing-percent=50).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { packageVersion } from '../core/package-info.js';
import { CLI, freePort, start, startCli, type Running } from '../test/support/processes.js';
import { startMosquitto } from '../test/support/services.js';
import { waitFor } from '../test/support/wait.js';
import { cpuSeconds, statusMb } from './proc.js';

const VARIABLES = Number(process.env.BENCH_VARIABLES ?? 10_000);
const RATE_HZ = Number(process.env.BENCH_RATE_HZ ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_MS = 5_000;
const FLOOR_CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'opcua-floor-client.js');

interface Health {
  samples: { read: number; published: number };
  devices: { status: string; notifications?: number }[];
  resources?: { heapUsedMb: number };
}

function health(port: number): Promise<Health> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/health' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(JSON.parse(body) as Health));
    })
      .on('error', reject)
      .end();
  });
}

function version(name: string): string {
  return (
    JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }
  ).version;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'factorylm-bench-opcua-'));
  const broker = await startMosquitto();
  const simPort = await freePort();
  const healthPort = await freePort();
  const running: Running[] = [];
  try {
    const sim = startCli([
      'sim',
      'opcua',
      '--port',
      String(simPort),
      '--synthetic',
      String(VARIABLES),
      '--rate',
      String(RATE_HZ),
      '--pki',
      join(dir, 'sim-pki'),
      '--restart-down',
      '500',
    ]);
    running.push(sim);
    await sim.waitForOutput(/OPC UA simulator on/, 60_000);
    const config = join(dir, 'agent.yaml');
    writeFileSync(
      config,
      stringify({
        site: 'bench',
        area: 'opcua',
        line: 'line1',
        node: 'bench-opcua',
        mqtt: { url: broker.url },
        publish: { mode: 'asset' },
        outbox: { path: join(dir, 'outbox.db') },
        health: { port: healthPort, publishIntervalMs: 0 },
        devices: [
          {
            name: 'synthetic',
            protocol: 'opcua',
            endpoint: `opc.tcp://127.0.0.1:${simPort}`,
            asset: 'synthetic',
            pollIntervalMs: 100,
            publishingIntervalMs: 100,
            // Reported on change: the server samples on every write (no sampling timers).
            samplingIntervalMs: 0,
            queueSize: 2,
            tags: Array.from({ length: VARIABLES }, (_, i) => {
              const name = `Tag${String(i + 1).padStart(5, '0')}`;
              return { name, node: `ns=2;s=Synthetic.${name}` };
            }),
          },
        ],
      }),
    );
    // On the command line: NODE_OPTIONS refuses most V8 flags (--heap-growing-percent, ...).
    const flags = (process.env.BENCH_AGENT_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
    const agent = start(process.execPath, [...flags, CLI, 'agent', '--config', config], {
      LOG_LEVEL: 'warn',
      NODE_OPTIONS: '',
    });
    running.push(agent);
    const agentPid = agent.child.pid!;
    const simPid = sim.child.pid!;
    const subscribedAt = Date.now();
    await waitFor(
      'notifications flowing',
      async () => ((await health(healthPort).catch(() => undefined))?.samples.read ?? 0) > 0,
      120_000,
      200,
    );
    const setupMs = Date.now() - subscribedAt;
    await new Promise((r) => setTimeout(r, WARMUP_MS));

    const h0 = await health(healthPort);
    const a0 = cpuSeconds(agentPid);
    const s0 = cpuSeconds(simPid);
    const t0 = performance.now();
    let rssMax = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      rssMax = Math.max(rssMax, statusMb(agentPid, 'VmRSS'));
    }
    const elapsed = (performance.now() - t0) / 1000;
    const h1 = await health(healthPort);
    const agentCpu = cpuSeconds(agentPid) - a0;
    const simCpu = cpuSeconds(simPid) - s0;
    // Counted by the device source as they arrive (samples.read also counts the repeats of
    // unchanged values that feed the heartbeat).
    const notifications = (h1.devices[0]!.notifications ?? 0) - (h0.devices[0]!.notifications ?? 0);
    const published = h1.samples.published - h0.samples.published;
    const reads = h1.samples.read - h0.samples.read;

    // Server restart: every session and subscription is gone; the agent must rebuild them.
    const outputBefore = sim.output().length;
    sim.child.kill('SIGUSR2');
    await waitFor('the agent to see the server gone', async () => {
      const h = await health(healthPort);
      return h.devices[0]!.status !== 'connected';
    });
    await waitFor(
      'the server back',
      () => /serving again/.test(sim.output().slice(outputBefore)),
      60_000,
      20,
    );
    const backAt = Date.now();
    const mark = (await health(healthPort)).devices[0]!.notifications ?? 0;
    await waitFor(
      'notifications again',
      async () => {
        const h = await health(healthPort);
        // Every item's first value of the new subscription has arrived.
        return (h.devices[0]!.notifications ?? 0) >= mark + VARIABLES;
      },
      60_000,
      50,
    );
    const reconnectMs = Date.now() - backAt;
    const agentPeak = statusMb(agentPid, 'VmHWM');
    const agentRssNow = statusMb(agentPid, 'VmRSS');
    await agent.stop();

    const floor = start(
      process.execPath,
      [...flags, FLOOR_CLIENT, `opc.tcp://127.0.0.1:${simPort}`, broker.url, String(VARIABLES)],
      { NODE_OPTIONS: '' },
    );
    running.push(floor);
    await floor.waitForOutput(/floor ready/, 120_000);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const floorPid = floor.child.pid!;
    const floorCounters = async (): Promise<{ notifications: number; heapUsedMb: number }> => {
      const seen = floor.output().length;
      floor.child.kill('SIGUSR2');
      await waitFor('floor counters', () => /COUNTERS \{.*\}/.test(floor.output().slice(seen)));
      return JSON.parse(/COUNTERS (\{.*\})/.exec(floor.output().slice(seen))![1]!) as {
        notifications: number;
        heapUsedMb: number;
      };
    };
    const n0 = (await floorCounters()).notifications;
    const f0 = cpuSeconds(floorPid);
    const ft0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const floorCpu = cpuSeconds(floorPid) - f0;
    const floorElapsed = (performance.now() - ft0) / 1000;
    const floorEnd = await floorCounters();
    const floorN = floorEnd.notifications - n0;
    const floorPeak = statusMb(floorPid, 'VmHWM');

    const rows: [string, string][] = [
      [
        'monitored items',
        `${VARIABLES} changing at ${RATE_HZ} Hz (offered ${VARIABLES * RATE_HZ}/s)`,
      ],
      ['subscription set-up (start to first data)', `${(setupMs / 1000).toFixed(1)} s`],
      ['notifications/s handled by the agent', (notifications / elapsed).toFixed(0)],
      ['samples/s through report by exception', (reads / elapsed).toFixed(0)],
      ['samples/s published to Mosquitto (asset batch, QoS 1)', (published / elapsed).toFixed(0)],
      ['agent CPU, % of one core', ((agentCpu / elapsed) * 100).toFixed(0)],
      [
        'agent CPU-seconds per million notifications',
        ((agentCpu / notifications) * 1e6).toFixed(2),
      ],
      [
        'agent RSS now / peak in window / peak ever (MB)',
        `${agentRssNow.toFixed(0)} / ${rssMax.toFixed(0)} / ${agentPeak.toFixed(0)}`,
      ],
      ['agent V8 heap used (MB)', String(h1.resources?.heapUsedMb ?? '?')],
      ['simulator CPU, % of one core', ((simCpu / elapsed) * 100).toFixed(0)],
      ['simulator RSS (MB)', statusMb(simPid, 'VmRSS').toFixed(0)],
      [
        'reconnect: server back → all items delivering again',
        `${(reconnectMs / 1000).toFixed(2)} s`,
      ],
      [
        'floor (node-opcua-client + mqtt.js only): notifications/s',
        (floorN / floorElapsed).toFixed(0),
      ],
      ['floor: CPU-seconds per million notifications', ((floorCpu / floorN) * 1e6).toFixed(2)],
      [
        'floor: peak RSS (MB) / V8 heap used (MB)',
        `${floorPeak.toFixed(0)} / ${floorEnd.heapUsedMb}`,
      ],
      [
        'versions',
        `node ${process.version}, node-opcua ${version('node-opcua')}, mqtt ${version('mqtt')}, factorylm-edge ${packageVersion()}`,
      ],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`\nOPC UA benchmark (${SECONDS} s window)`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  } finally {
    for (const r of running.reverse()) await r.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
