/**
 * The workload the agent benches share: a change-on-read Modbus simulator (a process of its own),
 * Mosquitto without a per-client queue limit, a raw MQTT subscriber that counts samples, and the
 * agent CLI with a bench config. 10 devices x 1,000 holding-register tags every 100 ms, every value
 * changing on every read: 100,000 samples/s, all of them published.
 */
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeValue, registerCount } from '../protocols/modbus/codec.js';
import { ExceptionCode, ModbusException } from '../protocols/modbus/pdu.js';
import { SimulatorRuntime, type SteppingDevice } from '../simulators/runtime.js';
import { syntheticLayout, type SyntheticTag } from '../simulators/synthetic.js';
import { CLI, freePort, start, type Running } from '../test/support/processes.js';
import { MqttFramer, mqttPacket, mqttString } from './mqtt-packets.js';

const SELF = fileURLToPath(import.meta.url);
export const DEVICES = 10;
export const TAGS_PER_DEVICE = 1000;
export const POLL_MS = 100;
export const SAMPLES_PER_CYCLE = DEVICES * TAGS_PER_DEVICE;
export const MAX_INFLIGHT = 1000;
/** Modbus requests in flight on the shared line: round trips, not CPU, would bound a cycle on a busy box. */
const MODBUS_INFLIGHT = 8;
export const FLUSH_MS = 200;
/** Backlog messages per second on replay; at 1,000 samples a message, 1M samples are 1,000 messages. */
export const REPLAY_RATE = 5000;
export const SITE = { site: 'bench', area: 'synthetic', line: 'line1' };
export const FILTER = 'factorylm/bench/synthetic/#';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (n: number, digits = 2) => Number(n.toFixed(digits));

/** The synthetic layout; every tag a read touches moves by one step, so each poll sees a change. */
class ChangeOnReadDevice implements SteppingDevice {
  private readonly tags: SyntheticTag[];
  private readonly registers: Uint16Array;
  private readonly values: number[];
  /** Register offset → index of the tag starting there, or -1. */
  private readonly startsAt: Int32Array;

  constructor(count: number) {
    this.tags = syntheticLayout(count);
    const last = this.tags[this.tags.length - 1]!;
    this.registers = new Uint16Array(last.offset + registerCount(last.format));
    this.startsAt = new Int32Array(this.registers.length).fill(-1);
    this.tags.forEach((t, i) => (this.startsAt[t.offset] = i));
    this.values = this.tags.map((_, i) => i % 100);
    this.tags.forEach((_, i) => this.write(i));
  }

  step(): void {}

  readBits(): boolean[] {
    throw new ModbusException(ExceptionCode.IllegalDataAddress);
  }

  readRegisters(area: 'hr' | 'ir', start: number, count: number): number[] {
    if (area !== 'hr' || start + count > this.registers.length)
      throw new ModbusException(ExceptionCode.IllegalDataAddress);
    for (let r = start; r < start + count; r++) {
      const i = this.startsAt[r]!;
      if (i < 0) continue;
      this.values[i] = this.values[i]! + 1;
      this.write(i);
    }
    return Array.from(this.registers.subarray(start, start + count));
  }

  writeBits(): void {
    throw new ModbusException(ExceptionCode.IllegalDataAddress);
  }

  writeRegisters(): void {
    throw new ModbusException(ExceptionCode.IllegalDataAddress);
  }

  private write(i: number): void {
    const tag = this.tags[i]!;
    const v = this.values[i]!;
    if (tag.type === 'bool') {
      this.registers[tag.offset] = v & 1;
      return;
    }
    const value =
      tag.type === 'float32' ? v / 4 : tag.type === 'int16' ? (v % 60000) - 30000 : v % 65536;
    this.registers.set(encodeValue(value, tag.format), tag.offset);
  }
}

export async function simRole(devices: number, tags: number): Promise<void> {
  const runtime = new SimulatorRuntime(
    new Map(Array.from({ length: devices }, (_, i) => [i + 1, new ChangeOnReadDevice(tags)])),
    { host: '127.0.0.1', port: 0, framing: 'tcp', tickMs: 60_000 },
  );
  const port = await runtime.start();
  console.log(`change-on-read simulator on ${port}`);
  process.once('SIGTERM', () => void runtime.stop().finally(() => process.exit(0)));
}

/** Starts the change-on-read simulator (this file run as a process) and returns its port. */
export async function startSim(): Promise<{ running: Running; port: number }> {
  const running = start(process.execPath, [SELF, 'sim', String(DEVICES), String(TAGS_PER_DEVICE)]);
  await running.waitForOutput(/change-on-read simulator on \d+/);
  const port = Number(/simulator on (\d+)/.exec(running.output())![1]);
  return { running, port };
}

export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `flm-bench-${name}-`));
  chmodSync(dir, 0o755); // Mosquitto drops root privileges and must still read its config.
  return dir;
}

/**
 * Mosquitto 2 on 127.0.0.1 without a per-client queue limit: by default it drops QoS 0 messages
 * to a subscriber with 1,000 packets queued, which would count as loss here.
 */
export function startBroker(port: number, dir: string): Running {
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'max_queued_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  chmodSync(conf, 0o644);
  return start('/usr/sbin/mosquitto', ['-c', conf]);
}

// ---------------------------------------------------------------- raw MQTT subscriber

/**
 * A minimal MQTT 3.1.1 subscriber (QoS 0, keepalive off) that counts: mqtt.js would spend more
 * CPU on 100,000 messages/s than the agent under test, on the same two cores. Asset bodies are
 * parsed and counted by their keys in "v"; a (topic, ts) seen before is a duplicate.
 */
export class SampleCounter {
  messages = 0;
  samples = 0;
  histSamples = 0;
  duplicates = 0;
  lastMessageAt = 0;
  subscribedAt = 0;
  private readonly seen = new Set<string>();
  private readonly frames = new MqttFramer((first, buf, from, to) =>
    this.onPacket(first, buf, from, to),
  );
  private onSubscribed?: () => void;

  private constructor(
    private readonly socket: Socket,
    private readonly asset: boolean,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
  }

  /** Connects (retrying while the port refuses, up to `retryMs`) and subscribes to `filter`. */
  static async connect(
    port: number,
    filter: string,
    asset: boolean,
    retryMs = 0,
  ): Promise<SampleCounter> {
    const deadline = Date.now() + retryMs;
    for (;;) {
      const socket = connect(port, '127.0.0.1');
      const ok = await new Promise<boolean>((resolve) => {
        socket.once('connect', () => resolve(true));
        socket.once('error', () => resolve(false));
      });
      if (ok) {
        socket.setNoDelay(true);
        const counter = new SampleCounter(socket, asset);
        const subscribed = new Promise<void>((resolve) => (counter.onSubscribed = resolve));
        const id = `bench-counter-${process.pid}-${Date.now()}`;
        // CONNECT: "MQTT", level 4, clean session, keepalive 0.
        const connectBody = Buffer.concat([
          mqttString('MQTT'),
          Buffer.from([4, 0x02, 0, 0]),
          mqttString(id),
        ]);
        const subscribeBody = Buffer.concat([
          Buffer.from([0, 1]),
          mqttString(filter),
          Buffer.from([0]),
        ]);
        socket.write(
          Buffer.concat([mqttPacket(0x10, connectBody), mqttPacket(0x82, subscribeBody)]),
        );
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('subscriber: no SUBACK within 10 s')), 10_000);
        });
        try {
          await Promise.race([subscribed, timeout]);
        } finally {
          clearTimeout(timer);
        }
        counter.subscribedAt = Date.now();
        return counter;
      }
      socket.destroy();
      if (Date.now() > deadline) throw new Error(`subscriber: cannot connect to port ${port}`);
      await sleep(5);
    }
  }

  close(): void {
    this.socket.end(Buffer.from([0xe0, 0]));
    this.socket.destroy();
  }

  /** Waits until nothing arrived for `quietMs` (at most `maxMs`). */
  async settle(quietMs = 700, maxMs = 20_000): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && Date.now() - this.lastMessageAt < quietMs) await sleep(100);
  }

  private onData(chunk: Buffer): void {
    this.lastMessageAt = Date.now();
    this.frames.push(chunk);
  }

  private onPacket(first: number, buf: Buffer, from: number, to: number): void {
    const type = first >> 4;
    if (type === 2 && buf[from + 1] !== 0) throw new Error(`subscriber: CONNACK ${buf[from + 1]}`);
    if (type === 9) this.onSubscribed?.();
    if (type !== 3) return;
    this.messages += 1;
    if (!this.asset) {
      this.samples += 1;
      return;
    }
    const topicLen = buf.readUInt16BE(from);
    const topic = buf.toString('utf8', from + 2, from + 2 + topicLen);
    const qos = (first >> 1) & 3;
    const body = JSON.parse(buf.toString('utf8', from + 2 + topicLen + (qos > 0 ? 2 : 0), to)) as {
      ts: number;
      v: Record<string, unknown>;
      hist?: boolean;
    };
    const key = `${topic}|${body.ts}`;
    if (this.seen.has(key)) {
      this.duplicates += 1;
      return;
    }
    this.seen.add(key);
    const n = Object.keys(body.v).length;
    this.samples += n;
    if (body.hist) this.histSamples += n;
  }
}

// ---------------------------------------------------------------- the agent under test

export interface HealthDoc {
  broker: { connected: boolean };
  samples: { read: number; accepted: number; published: number };
  outbox?: {
    depth: { messages: number; samples: number; bytes: number };
    dropped: { messages: number; samples: number };
    replaying: boolean;
  };
}

export async function getHealth(url: string): Promise<HealthDoc> {
  const res = await fetch(url);
  return (await res.json()) as HealthDoc;
}

export function agentConfig(o: {
  mqttUrl: string;
  simPort: number;
  mode: 'tag' | 'asset';
  qos: 0 | 1;
  outboxPath: string;
  healthPort: number;
  /** publish.minIntervalMs; 10 min makes a poll-only reference (nothing after the first cycle). */
  minIntervalMs?: number;
}): object {
  const layout = syntheticLayout(TAGS_PER_DEVICE);
  return {
    ...SITE,
    node: 'bench-outbox',
    mqtt: { url: o.mqttUrl },
    publish: {
      mode: o.mode,
      qos: o.qos,
      heartbeatMs: 600_000,
      minIntervalMs: o.minIntervalMs ?? 0,
      maxInflight: MAX_INFLIGHT,
    },
    outbox: { path: o.outboxPath, flushIntervalMs: FLUSH_MS, replayRatePerSec: REPLAY_RATE },
    health: { port: o.healthPort, publishIntervalMs: 0 },
    log: { level: 'info' },
    devices: Array.from({ length: DEVICES }, (_, d) => ({
      name: `dev${d + 1}`,
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port: o.simPort,
      unitId: d + 1,
      asset: `dev${d + 1}`,
      pollIntervalMs: POLL_MS,
      maxInflight: MODBUS_INFLIGHT,
      tags: layout.map((t) => ({
        name: t.name,
        address: t.address,
        ...(t.type !== 'bool' ? { type: t.type } : {}),
      })),
    })),
  };
}

/**
 * BENCH_AGENT_NODE_OPTIONS as node arguments: NODE_OPTIONS refuses most V8 flags
 * (--optimize-for-size, --trace-gc-nvp, ...), the command line takes them all.
 */
export function agentNodeFlags(): string[] {
  return (process.env.BENCH_AGENT_NODE_OPTIONS ?? '').split(/\s+/).filter((f) => f !== '');
}

export async function startAgent(
  config: object,
  dir: string,
  healthPort: number,
): Promise<{ agent: Running; pid: number; healthUrl: string }> {
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, JSON.stringify(config));
  const args = ['agent', '--config', file, '--stats-interval', '2'];
  // BENCH_PROFILE=<dir>: the agent writes a V8 CPU profile there on stop (node --cpu-prof).
  // BENCH_AGENT_NODE_OPTIONS: node/V8 flags for the agent alone, e.g. heap limits.
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  const agent = start(process.execPath, [...agentNodeFlags(), ...profile, CLI, ...args], {
    NODE_OPTIONS: '',
  });
  try {
    // Parsing a 10,000-tag config takes seconds on a busy machine.
    await agent.waitForOutput(/"msg":"health endpoint listening"/, 90_000);
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return { agent, pid: agent.child.pid!, healthUrl: `http://127.0.0.1:${healthPort}/health` };
}

export function logLines(agent: Running): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of agent.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return out;
}

export interface StoppedStats {
  samplesRead: number;
  samplesAccepted: number;
  outbox: {
    accepted: { messages: number; samples: number };
    published: { messages: number; samples: number };
    dropped: { messages: number; samples: number };
    depth: { messages: number; samples: number };
    failedPublishes: number;
  };
}

export function stoppedStats(agent: Running): StoppedStats {
  const line = logLines(agent).find((l) => l.msg === 'agent stopped');
  if (!line)
    throw new Error(`agent did not log its stats on stop:\n${agent.output().slice(-3000)}`);
  return line as unknown as StoppedStats;
}

/** One live run: a simulator, a counting subscriber and an agent in `mode`/`qos` on the broker. */
export interface LiveRig {
  sim: Running;
  counter: SampleCounter;
  agent: Running;
  pid: number;
  healthUrl: string;
  /** Stops all three and removes the run's folder. */
  close: () => Promise<void>;
}

export async function startLiveRig(o: {
  brokerPort: number;
  mode: 'tag' | 'asset';
  qos: 0 | 1;
  minIntervalMs?: number;
  /** What the subscriber counts (FILTER); a filter nothing matches leaves the broker ingest only. */
  filter?: string;
}): Promise<LiveRig> {
  const dir = tempDir('live');
  const sim = await startSim();
  const healthPort = await freePort();
  const counter = await SampleCounter.connect(
    o.brokerPort,
    o.filter ?? FILTER,
    o.mode === 'asset',
  ).catch(async (err: unknown) => {
    await sim.running.stop();
    throw err;
  });
  const { agent, pid, healthUrl } = await startAgent(
    agentConfig({
      mqttUrl: `mqtt://127.0.0.1:${o.brokerPort}`,
      simPort: sim.port,
      mode: o.mode,
      qos: o.qos,
      outboxPath: join(dir, 'outbox.db'),
      healthPort,
      minIntervalMs: o.minIntervalMs,
    }),
    dir,
    healthPort,
  ).catch(async (err: unknown) => {
    counter.close();
    await sim.running.stop();
    throw err;
  });
  return {
    sim: sim.running,
    counter,
    agent,
    pid,
    healthUrl,
    close: async () => {
      counter.close();
      await agent.stop();
      await sim.running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] === SELF && process.argv[2] === 'sim')
  await simRole(Number(process.argv[3]), Number(process.argv[4]));
