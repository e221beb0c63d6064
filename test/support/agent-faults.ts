/**
 * The harness of the agent fault tests (test/agent-faults.*.test.ts), with real processes only:
 * the `factorylm agent` CLI, real Mosquitto brokers and a Micro 820 simulator (in the test's
 * process, so a test can stop it to make the agent go quiet). Each test owns its broker,
 * simulator and agent, so the tests may run concurrently.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { TestContext } from 'vitest';
import type { AgentHealth } from '../../agent/agent.js';
import { decodeTagPayload, type TagPayload } from '../../protocols/mqtt/payload.js';
import type { Micro820Simulator } from '../../simulators/micro820/simulator.js';
import { selfSignedCertificate } from './certificates.js';
import { startSimulator, writeConfig } from './pipeline.js';
import { freePort, startCli, type Running } from './processes.js';
import { startMosquitto, type MosquittoOptions, type Service } from './services.js';
import { waitFor } from './wait.js';

export const SITE = 'plant1';
export const PREFIX = `factorylm/${SITE}/packaging/line1`;
export const POLL_MS = 100;
export const FLUSH_MS = 200;

/** Brokers of the outage tests: a persistent session survives a SIGKILL, so the subscriber
 * cannot miss what the agent sends in the moment after a restart before it resubscribed. With
 * no in-flight limit the broker writes every message to the subscriber as it arrives, rather
 * than holding all but 20 of a poll's burst in memory (see `crashBroker`). */
export const DURABLE_BROKER: MosquittoOptions = {
  persistence: true,
  maxQueuedMessages: 1_000_000,
  maxInflightMessages: 0,
};

// ---------------------------------------------------------------------------------------------
// Processes and services, each stopped when its test finishes. Concurrent tests must register
// their cleanup on their own context, so every helper takes it.

export type Cleanup = (fn: () => unknown) => void;

export function cleanupOn(onTestFinished: TestContext['onTestFinished']): Cleanup {
  return (fn) =>
    onTestFinished(async () => {
      await fn();
    });
}

export async function broker(cleanup: Cleanup, options: MosquittoOptions = {}): Promise<Service> {
  const b = await startMosquitto(options);
  cleanup(() => b.stop());
  return b;
}

/** Restarts a killed broker on its port and folder; the returned service replaces the old one. */
export async function restartBroker(
  cleanup: Cleanup,
  old: Service,
  options: MosquittoOptions,
): Promise<Service> {
  const b = await startMosquitto({ ...options, port: old.port, dir: old.dir });
  cleanup(() => b.stop());
  return b;
}

/**
 * Crashes the broker (SIGKILL) and returns when it stopped serving. A PUBACK means Mosquitto
 * has the message, not that the subscriber or the disk has it (it saves once a second), so a
 * broker killed mid-stream loses some of what it acknowledged: the broker's loss, which these
 * tests must not count against the agent. Frozen first (SIGSTOP), it can take nothing more
 * from the agent while the kernel still delivers what it had written to the subscriber; once
 * the subscriber has gone quiet, SIGKILL.
 */
export async function crashBroker(mosquitto: Service, sub: Subscriber): Promise<number> {
  mosquitto.process.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  let seen = sub.messages.length;
  let quietSince = Date.now();
  while (Date.now() - quietSince < 300 && Date.now() - stoppedAt < 5000) {
    await sleep(50);
    if (sub.messages.length !== seen) {
      seen = sub.messages.length;
      quietSince = Date.now();
    }
  }
  await mosquitto.kill('SIGKILL');
  return stoppedAt;
}

export async function simulator(cleanup: Cleanup): Promise<Micro820Simulator> {
  const sim = await startSimulator();
  cleanup(() => sim.stop());
  return sim;
}

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [key: string]: unknown;
}

export interface AgentProcess {
  running: Running;
  pid: number;
  healthUrl: string;
  logs: () => LogLine[];
  alive: () => boolean;
}

function parseLogs(output: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // A line still being written.
    }
  }
  return out;
}

export async function startAgent(cleanup: Cleanup, configFile: string): Promise<AgentProcess> {
  const running = startCli(['agent', '--config', configFile]);
  cleanup(() => running.stop('SIGKILL'));
  await running.waitForOutput(/"msg":"health endpoint listening"/);
  const logs = () => parseLogs(running.output());
  const listening = logs().find((l) => l.msg === 'health endpoint listening');
  return {
    running,
    pid: running.child.pid!,
    healthUrl: `${String(listening!.url)}/health`,
    logs,
    alive: () => running.child.exitCode === null && running.child.signalCode === null,
  };
}

export async function health(agent: AgentProcess): Promise<{ http: number; body: AgentHealth }> {
  const res = await fetch(agent.healthUrl);
  return { http: res.status, body: (await res.json()) as AgentHealth };
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Agent configs.

export interface TagDoc {
  name: string;
  address: string;
  type?: string;
  scale?: number;
  deadband?: number;
}

/** The Micro 820 tags that change on most polls (noise on current, temperature, pressure). */
export const NOISY: TagDoc[] = [
  { name: 'motor_current', address: 'hr:101', scale: 0.1 },
  { name: 'temperature', address: 'hr:102', type: 'int16', scale: 0.1 },
  { name: 'pressure', address: 'hr:103' },
];
export const STEADY: TagDoc[] = [
  { name: 'motor_speed', address: 'hr:100' },
  { name: 'motor_running', address: 'coil:0' },
  { name: 'sensor_1_active', address: 'coil:4' },
];

export async function agentConfig(
  node: string,
  simPort: number,
  mqttSection: Record<string, unknown>,
  extra: {
    tags?: TagDoc[];
    pollIntervalMs?: number;
    outbox?: Record<string, unknown>;
  } = {},
): Promise<string> {
  return writeConfig(node, {
    site: SITE,
    area: 'packaging',
    line: 'line1',
    node,
    mqtt: { keepaliveSec: 5, ...mqttSection },
    // Deadband 0 everywhere: every change of a value is one sample.
    publish: { qos: 1, heartbeatMs: 60_000 },
    outbox: { flushIntervalMs: FLUSH_MS, ...extra.outbox },
    // Port 0 would turn the endpoint off.
    health: { port: await freePort(), publishIntervalMs: 0 },
    devices: [
      {
        name: 'micro820',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: simPort,
        asset: node,
        pollIntervalMs: extra.pollIntervalMs ?? POLL_MS,
        timeoutMs: 500,
        tags: (extra.tags ?? [...NOISY, ...STEADY]).map((t) => ({ deadband: 0, ...t })),
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// The subscriber: what actually reached the broker's other side.

export interface Received {
  seq: number;
  topic: string;
  text: string;
  /** Arrival time, ms. */
  at: number;
  tag?: TagPayload;
}

export interface Subscriber {
  client: MqttClient;
  messages: Received[];
  /** Tag samples of one asset, in arrival order; a payload that does not decode fails the test. */
  samples: (asset: string) => (Received & { tag: TagPayload })[];
}

/**
 * A QoS 1 subscriber to factorylm/#. `persistent`: a clean=false session on a broker with
 * persistence, so messages published while it reconnects wait for it.
 */
export async function subscribe(
  cleanup: Cleanup,
  url: string,
  options: { persistent?: boolean; ca?: string; id: string },
): Promise<Subscriber> {
  const client = mqtt.connect(url, {
    clientId: `agent-faults-${options.id}-${process.pid}`,
    clean: !options.persistent,
    protocolVersion: 4,
    reconnectPeriod: 100,
    resubscribe: false,
    ...(options.ca ? { ca: readFileSync(options.ca) } : {}),
  });
  cleanup(() => client.endAsync(true));
  const messages: Received[] = [];
  let subscribed = false;
  client.on('connect', (connack) => {
    if (connack.sessionPresent) return;
    client.subscribe(`factorylm/${SITE}/#`, { qos: 1 }, (err) => {
      if (!err) subscribed = true;
    });
  });
  client.on('message', (topic, payload) => {
    const text = payload.toString();
    const decoded = topic.includes('/_nodes/') ? undefined : decodeTagPayload(payload);
    if (decoded && !decoded.ok) throw new Error(`undecodable sample on ${topic}: ${text}`);
    messages.push({
      seq: messages.length,
      topic,
      text,
      at: Date.now(),
      ...(decoded?.ok ? { tag: decoded.value } : {}),
    });
  });
  await waitFor('subscriber subscribed', () => subscribed);
  return {
    client,
    messages,
    samples: (asset) =>
      messages.filter(
        (m): m is Received & { tag: TagPayload } =>
          m.tag !== undefined && m.topic.startsWith(`${PREFIX}/${asset}/`),
      ),
  };
}

export interface Analysis {
  /** First arrival of each (topic, ts). */
  unique: (Received & { tag: TagPayload })[];
  /** Second copies: identical (broker redelivery) or the same sample replayed with "hist". */
  duplicates: { identical: number; replayed: number };
  /** Duplicates whose sample differs from the first copy (a duplicate may only add "hist"). */
  conflicting: string[];
  /** Per topic, replayed or live samples whose timestamps go backwards. */
  outOfOrder: string[];
}

const withoutHist = (text: string) => text.replace(',"hist":true', '');

export function analyse(samples: (Received & { tag: TagPayload })[]): Analysis {
  const first = new Map<string, Received & { tag: TagPayload }>();
  const last = new Map<string, number>();
  const a: Analysis = {
    unique: [],
    duplicates: { identical: 0, replayed: 0 },
    conflicting: [],
    outOfOrder: [],
  };
  for (const m of samples) {
    const key = `${m.topic}@${m.tag.ts}`;
    const seen = first.get(key);
    if (seen) {
      if (seen.text === m.text) a.duplicates.identical += 1;
      else if (withoutHist(seen.text) === withoutHist(m.text)) a.duplicates.replayed += 1;
      else a.conflicting.push(`${key}: ${seen.text} then ${m.text}`);
      continue;
    }
    first.set(key, m);
    a.unique.push(m);
    // Replayed and live samples are two ordered streams that interleave after a reconnect.
    const stream = `${m.topic}${m.tag.hist ? ' (replayed)' : ' (live)'}`;
    const before = last.get(stream);
    if (before !== undefined && m.tag.ts <= before)
      a.outOfOrder.push(`${stream}: ts ${m.tag.ts} after ${before}`);
    last.set(stream, m.tag.ts);
  }
  return a;
}

/** Largest gap between consecutive sample timestamps (all tags together) within [from, to]. */
export function largestGap(samples: { tag: TagPayload }[], from: number, to: number): number {
  const ts = [...new Set(samples.map((s) => s.tag.ts))]
    .filter((t) => t >= from && t <= to)
    .sort((x, y) => x - y);
  let gap = ts.length === 0 ? to - from : Math.max(ts[0]! - from, to - ts[ts.length - 1]!);
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i]! - ts[i - 1]!);
  return gap;
}

/**
 * The largest gap between samples that still means the agent kept polling: ten poll intervals,
 * or one poll as slow as the slowest the agent measured (`health`, read after the stretch being
 * checked) plus two intervals. On a loaded machine a read of the simulator can time out (500 ms)
 * and be retried, and the agent reports that poll's latency; a longer gap than this means polling
 * itself stopped. Samples lost would show in the counts, which the tests check exactly.
 */
export function allowedGap(health: AgentHealth): number {
  return Math.max(10 * POLL_MS, health.pollLatencyMs.max + 2 * POLL_MS);
}

/**
 * Stops the simulator so the agent goes quiet (every tag turns bad once, then nothing changes),
 * and waits until it accepted nothing more for a second and its outbox is empty.
 */
export async function quiesce(agent: AgentProcess, sim: Micro820Simulator): Promise<AgentHealth> {
  await sim.stop();
  let accepted = -1;
  let stableSince = Date.now();
  return waitFor(
    'agent idle with an empty outbox',
    async () => {
      const { body } = await health(agent);
      const busy = body.outbox!.depth.messages > 0 || body.outbox!.inflight > 0;
      if (body.samples.accepted !== accepted || busy) {
        accepted = body.samples.accepted;
        stableSince = Date.now();
        return undefined;
      }
      return Date.now() - stableSince > 1500 ? body : undefined;
    },
    30_000,
    200,
  );
}

/** Waits until the subscriber holds `expected` distinct samples (or gives up), then returns them. */
export async function settle(
  sub: Subscriber,
  asset: string,
  expected: number,
  filter: (m: { tag: TagPayload }) => boolean = () => true,
): Promise<Analysis> {
  const count = () => analyse(sub.samples(asset)).unique.filter(filter).length;
  await waitFor('all samples at the subscriber', () => count() >= expected, 20_000).catch(
    () => undefined,
  );
  // Anything extra would arrive right behind.
  await sleep(500);
  return analyse(sub.samples(asset));
}

export function connectedAgain(agent: AgentProcess): Promise<number> {
  return waitFor(
    'agent reconnected to the broker',
    () =>
      agent
        .logs()
        .filter((l) => l.msg === 'connected to MQTT broker')
        .slice(1)
        .pop()?.time,
    // The agent's backoff reaches 30 s (±20 %) during a long outage.
    45_000,
    200,
  );
}

// ---------------------------------------------------------------------------------------------
// TLS material.

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate it signed for IP 127.0.0.1, and an unrelated second CA. */
export function makeCertificates(cleanup: Cleanup): {
  dir: string;
  ca: string;
  otherCa: string;
  cert: string;
  key: string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'factorylm-tls-'));
  chmodSync(dir, 0o755);
  for (const name of ['ca', 'other-ca'])
    selfSignedCertificate({
      cert: join(dir, `${name}.pem`),
      key: join(dir, `${name}.key`),
      subject: `/CN=FactoryLM test ${name}`,
    });
  openssl(
    dir,
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.pem',
  );
  // Mosquitto reads the key after dropping root privileges.
  chmodSync(join(dir, 'server.key'), 0o644);
  cleanup(() => execFileSync('rm', ['-rf', dir]));
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
  };
}
