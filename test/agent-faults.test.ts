/**
 * Fault tests with real processes only: the `factorylm agent` CLI, real Mosquitto brokers and a
 * Micro 820 simulator (in this process, so a test can stop it to make the agent go quiet). Each
 * test owns its broker, simulator and agent, so the tests run concurrently: the long one (a
 * 60 s broker outage) sets the file's runtime.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { describe, it, type TestContext } from 'vitest';
import type { AgentHealth } from '../agent/agent.js';
import { decodeTagPayload, type TagPayload } from '../protocols/mqtt/payload.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { selfSignedCertificate } from './support/certificates.js';
import { startSimulator, writeConfig } from './support/pipeline.js';
import { freePort, startCli, type Running } from './support/processes.js';
import { startMosquitto, type MosquittoOptions, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

const SITE = 'plant1';
const PREFIX = `factorylm/${SITE}/packaging/line1`;
const POLL_MS = 100;
const FLUSH_MS = 200;

/** Brokers of the outage tests: a persistent session survives a SIGKILL, so the subscriber
 * cannot miss what the agent sends in the moment after a restart before it resubscribed. With
 * no in-flight limit the broker writes every message to the subscriber as it arrives, rather
 * than holding all but 20 of a poll's burst in memory (see `crashBroker`). */
const DURABLE_BROKER: MosquittoOptions = {
  persistence: true,
  maxQueuedMessages: 1_000_000,
  maxInflightMessages: 0,
};

// ---------------------------------------------------------------------------------------------
// Processes and services, each stopped when its test finishes. Concurrent tests must register
// their cleanup on their own context, so every helper takes it.

type Cleanup = (fn: () => unknown) => void;

function cleanupOn(onTestFinished: TestContext['onTestFinished']): Cleanup {
  return (fn) =>
    onTestFinished(async () => {
      await fn();
    });
}

async function broker(cleanup: Cleanup, options: MosquittoOptions = {}): Promise<Service> {
  const b = await startMosquitto(options);
  cleanup(() => b.stop());
  return b;
}

/** Restarts a killed broker on its port and folder; the returned service replaces the old one. */
async function restartBroker(
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
async function crashBroker(mosquitto: Service, sub: Subscriber): Promise<number> {
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

async function simulator(cleanup: Cleanup): Promise<Micro820Simulator> {
  const sim = await startSimulator();
  cleanup(() => sim.stop());
  return sim;
}

interface LogLine {
  level: number;
  time: number;
  msg: string;
  [key: string]: unknown;
}

interface AgentProcess {
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

async function startAgent(cleanup: Cleanup, configFile: string): Promise<AgentProcess> {
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

async function health(agent: AgentProcess): Promise<{ http: number; body: AgentHealth }> {
  const res = await fetch(agent.healthUrl);
  return { http: res.status, body: (await res.json()) as AgentHealth };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Agent configs.

interface TagDoc {
  name: string;
  address: string;
  type?: string;
  scale?: number;
  deadband?: number;
}

/** The Micro 820 tags that change on most polls (noise on current, temperature, pressure). */
const NOISY: TagDoc[] = [
  { name: 'motor_current', address: 'hr:101', scale: 0.1 },
  { name: 'temperature', address: 'hr:102', type: 'int16', scale: 0.1 },
  { name: 'pressure', address: 'hr:103' },
];
const STEADY: TagDoc[] = [
  { name: 'motor_speed', address: 'hr:100' },
  { name: 'motor_running', address: 'coil:0' },
  { name: 'sensor_1_active', address: 'coil:4' },
];

async function agentConfig(
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

interface Received {
  seq: number;
  topic: string;
  text: string;
  /** Arrival time, ms. */
  at: number;
  tag?: TagPayload;
}

interface Subscriber {
  client: MqttClient;
  messages: Received[];
  /** Tag samples of one asset, in arrival order; a payload that does not decode fails the test. */
  samples: (asset: string) => (Received & { tag: TagPayload })[];
}

/**
 * A QoS 1 subscriber to factorylm/#. `persistent`: a clean=false session on a broker with
 * persistence, so messages published while it reconnects wait for it.
 */
async function subscribe(
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

interface Analysis {
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

function analyse(samples: (Received & { tag: TagPayload })[]): Analysis {
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
function largestGap(samples: { tag: TagPayload }[], from: number, to: number): number {
  const ts = [...new Set(samples.map((s) => s.tag.ts))]
    .filter((t) => t >= from && t <= to)
    .sort((x, y) => x - y);
  let gap = ts.length === 0 ? to - from : Math.max(ts[0]! - from, to - ts[ts.length - 1]!);
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i]! - ts[i - 1]!);
  return gap;
}

/**
 * Stops the simulator so the agent goes quiet (every tag turns bad once, then nothing changes),
 * and waits until it accepted nothing more for a second and its outbox is empty.
 */
async function quiesce(agent: AgentProcess, sim: Micro820Simulator): Promise<AgentHealth> {
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
async function settle(
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

function connectedAgain(agent: AgentProcess): Promise<number> {
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
function makeCertificates(cleanup: Cleanup): {
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

// ---------------------------------------------------------------------------------------------

describe.concurrent('agent under faults (real agent CLI, Mosquitto and PLC simulator)', () => {
  it(
    'loses nothing over a 60 s broker outage at 10 Hz: every accepted sample arrives, in order, replayed ones marked hist',
    {
      timeout: 170_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const asset = 'edge-outage60';
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, DURABLE_BROKER);
      const sub = await subscribe(cleanup, mosquitto.url, { persistent: true, id: 'outage60' });
      const agent = await startAgent(
        cleanup,
        await agentConfig(asset, sim.port, { url: mosquitto.url }),
      );
      await waitFor('live samples of every noisy tag', () =>
        NOISY.every((t) => sub.samples(asset).some((s) => s.topic.endsWith(`/${t.name}`))),
      );
      // Long enough for the broker to have saved the subscriber's session at least once.
      await sleep(2500);

      const killedAt = await crashBroker(mosquitto, sub);
      const during: AgentHealth[] = [];
      while (Date.now() - killedAt < 60_000) {
        await sleep(5000);
        during.push((await health(agent)).body);
      }
      expect(agent.alive()).toBe(true);
      const mid = during[during.length - 1]!;
      expect(mid.broker.connected).toBe(false);
      // 60 s of samples wait in the outbox, none dropped.
      expect(mid.outbox!.depth.samples).toBeGreaterThan(300);
      expect(mid.outbox!.dropped.samples).toBe(0);

      await restartBroker(cleanup, mosquitto, DURABLE_BROKER);
      const restartedAt = Date.now();
      const reconnectedAt = await connectedAgain(agent);
      // Live samples for a moment after the replay, then a quiet agent to count against.
      await waitFor(
        'backlog replayed',
        async () => {
          const { body } = await health(agent);
          return !body.outbox!.replaying && body.outbox!.depth.messages === 0;
        },
        30_000,
      );
      await sleep(1000);
      const final = await quiesce(agent, sim);
      expect(agent.alive()).toBe(true);
      expect(agent.pid).toBe(agent.running.child.pid);

      const out = final.outbox!;
      expect(out.dropped.samples).toBe(0);
      expect(out.accepted.samples).toBe(final.samples.accepted);
      expect(out.published.samples).toBe(final.samples.accepted);
      expect(final.broker.reconnects).toBe(1);
      const a = await settle(sub, asset, final.samples.accepted);
      // Not one sample the agent accepted is missing, and none is invented.
      expect(a.unique.length).toBe(final.samples.accepted);
      expect(a.conflicting).toEqual([]);
      expect(a.outOfOrder).toEqual([]);

      // What was read during the outage arrived after it, replayed and marked historical.
      const outage = a.unique.filter(
        (s) => s.tag.ts > killedAt + 300 && s.tag.ts < reconnectedAt - 300,
      );
      expect(outage.filter((s) => !s.tag.hist)).toEqual([]);
      expect(outage.every((s) => s.at >= restartedAt)).toBe(true);
      for (const t of NOISY)
        expect(outage.filter((s) => s.topic.endsWith(`/${t.name}`)).length).toBeGreaterThan(150);
      // Continuous at 10 Hz: the noisy tags together have a sample on nearly every poll.
      expect(largestGap(outage, killedAt + 300, reconnectedAt - 300)).toBeLessThan(10 * POLL_MS);
      // Live again after the reconnect.
      const after = a.unique.filter((s) => s.tag.ts > reconnectedAt + 300);
      expect(after.length).toBeGreaterThan(0);
      expect(after.filter((s) => s.tag.hist)).toEqual([]);
      console.log(
        `[outage 60 s] accepted ${final.samples.accepted}, delivered ${a.unique.length} (+ duplicates: ${a.duplicates.identical} identical, ${a.duplicates.replayed} replayed), outage samples ${outage.length}, reconnect ${reconnectedAt - restartedAt} ms after the broker restart`,
      );
    },
  );

  it(
    'kill -9 during an outage: the restarted agent delivers the backlog; at most one flush interval is lost',
    {
      timeout: 90_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const asset = 'edge-kill9';
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, DURABLE_BROKER);
      const sub = await subscribe(cleanup, mosquitto.url, { persistent: true, id: 'kill9' });
      const config = await agentConfig(asset, sim.port, { url: mosquitto.url });
      const first = await startAgent(cleanup, config);
      await waitFor('live samples', () => sub.samples(asset).length > 20);
      await sleep(2500);

      const brokerDownAt = await crashBroker(mosquitto, sub);
      // Watch the agent's own count of accepted samples, then kill it right after one reading.
      const series: { at: number; accepted: number }[] = [];
      while (Date.now() - brokerDownAt < 6000) {
        const { body } = await health(first);
        series.push({ at: Date.now(), accepted: body.samples.accepted });
        await sleep(50);
      }
      const { body: lastSeen } = await health(first);
      first.running.child.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor('first agent gone', () => first.running.child.signalCode === 'SIGKILL');
      expect(lastSeen.broker.connected).toBe(false);
      expect(lastSeen.outbox!.depth.samples).toBeGreaterThan(20);

      const second = await startAgent(cleanup, config);
      const backlogLine = second.logs().find((l) => /backlog from before the restart/.test(l.msg));
      expect(backlogLine).toBeDefined();
      await sleep(1500);
      await restartBroker(cleanup, mosquitto, DURABLE_BROKER);
      await waitFor(
        'second agent connected',
        async () => (await health(second)).body.broker.connected,
        30_000,
      );
      const final = await quiesce(second, sim);
      expect(second.alive()).toBe(true);

      const fromFirst = (s: { tag: TagPayload }) => s.tag.ts < killedAt;
      // The loss window: what the first agent accepted in the last flush interval (plus one poll
      // of timer slack) before its last health reading.
      const windowStart = lastSeen.ts - FLUSH_MS - POLL_MS;
      const committedBefore = [...series].reverse().find((p) => p.at <= windowStart)!.accepted;
      const allowedLoss = lastSeen.samples.accepted - committedBefore;
      const a = await settle(sub, asset, committedBefore, fromFirst);
      expect(a.conflicting).toEqual([]);
      expect(a.outOfOrder).toEqual([]);
      const delivered = a.unique.filter(fromFirst).length;
      const lost = lastSeen.samples.accepted - delivered;
      console.log(
        `[kill -9] duplicates: ${a.duplicates.identical} identical, ${a.duplicates.replayed} replayed; first agent accepted ${lastSeen.samples.accepted}, delivered ${delivered}, lost ${lost} (allowed ${allowedLoss}: the last ${FLUSH_MS} ms)`,
      );
      expect(lost).toBeLessThanOrEqual(allowedLoss);
      // Nothing invented: at most the poll that may have run between the last reading and the kill.
      expect(delivered).toBeLessThanOrEqual(
        lastSeen.samples.accepted + NOISY.length + STEADY.length,
      );
      // The backlog from inside the outage, before the kill, arrived marked historical.
      const outage = a.unique.filter(
        (s) => s.tag.ts > brokerDownAt + 300 && s.tag.ts < killedAt - FLUSH_MS - POLL_MS,
      );
      expect(outage.length).toBeGreaterThan(30);
      expect(outage.every((s) => s.tag.hist === true)).toBe(true);
      expect(largestGap(outage, brokerDownAt + 300, killedAt - FLUSH_MS - POLL_MS)).toBeLessThan(
        10 * POLL_MS,
      );
      // And the second agent's own samples all arrived too.
      const b = a.unique.filter((s) => s.tag.ts >= killedAt);
      expect(b.length).toBe(final.samples.accepted);
      expect(final.outbox!.dropped.samples).toBe(0);
    },
  );

  it(
    'outbox full during an outage: oldest samples dropped and counted, newest delivered first, memory flat',
    {
      timeout: 150_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const asset = 'edge-full';
      const maxBytes = 1_000_000; // the smallest outbox.maxBytes the config accepts
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, DURABLE_BROKER);
      const sub = await subscribe(cleanup, mosquitto.url, { persistent: true, id: 'full' });
      // 36 tags on the noisy registers with long names, polled at 50 Hz: ~60 KB of backlog a second.
      const tags = Array.from({ length: 36 }, (_, i) => ({
        ...NOISY[i % NOISY.length]!,
        name: `${NOISY[i % NOISY.length]!.name}_with_a_long_name_to_fill_the_outbox_${i}`,
      }));
      const agent = await startAgent(
        cleanup,
        await agentConfig(
          'edge-full',
          sim.port,
          { url: mosquitto.url },
          {
            tags,
            pollIntervalMs: 20,
            outbox: { maxBytes },
          },
        ),
      );
      await waitFor('live samples', () => sub.samples(asset).length > 100);
      await sleep(2500);

      const killedAt = await crashBroker(mosquitto, sub);
      const full = await waitFor(
        'outbox full and dropping',
        async () => {
          const { body } = await health(agent);
          return body.outbox!.dropped.samples > 0 ? body : undefined;
        },
        60_000,
        250,
      );
      const rssEarly = rssMb(agent.pid);
      const rss: number[] = [rssEarly];
      const dropped: number[] = [full.outbox!.dropped.samples];
      let last = full;
      for (let i = 0; i < 4; i++) {
        await sleep(5000);
        last = (await health(agent)).body;
        rss.push(rssMb(agent.pid));
        dropped.push(last.outbox!.dropped.samples);
        // Bounded on disk as in its accounting: the limit plus at most one flush of new samples.
        expect(last.outbox!.depth.bytes).toBeLessThan(maxBytes * 1.2);
      }
      const rssEnd = rss[rss.length - 1]!;
      const dbFiles = ['', '-wal']
        .map((s) => `${full.outbox!.path}${s}`)
        .filter((f) => existsSync(f))
        .reduce((n, f) => n + statSync(f).size, 0);
      console.log(
        `[outbox full] filled after ${full.ts - killedAt} ms; RSS ${rss.map((r) => r.toFixed(1)).join(' → ')} MB; dropped ${dropped.join(' → ')}; depth ${last.outbox!.depth.bytes} bytes; files ${dbFiles} bytes`,
      );
      expect(agent.alive()).toBe(true);
      // It keeps dropping (so the check below is on a full outbox), and memory does not grow.
      for (let i = 1; i < dropped.length; i++) expect(dropped[i]!).toBeGreaterThan(dropped[i - 1]!);
      expect(rssEnd - rssEarly).toBeLessThan(30);
      // On disk: the database plus its WAL, which SQLite lets grow to ~4 MB between checkpoints
      // (so a small maxBytes costs several times itself on disk, but the total stays bounded).
      expect(dbFiles).toBeLessThan(maxBytes * 8);
      expect(last.reasons.join('\n')).toMatch(/MQTT broker not connected/);

      await restartBroker(cleanup, mosquitto, DURABLE_BROKER);
      const restartedAt = Date.now();
      const reconnectedAt = await connectedAgain(agent);
      await waitFor(
        'backlog replayed',
        async () => {
          const { body } = await health(agent);
          return !body.outbox!.replaying && body.outbox!.depth.messages === 0;
        },
        30_000,
      );
      const final = await quiesce(agent, sim);
      const out = final.outbox!;
      expect(out.dropped.samples).toBeGreaterThan(0);
      const a = await settle(sub, asset, final.samples.accepted - out.dropped.samples);
      // Exactly what was not dropped arrived.
      expect(a.unique.length).toBe(final.samples.accepted - out.dropped.samples);
      expect(a.conflicting).toEqual([]);
      expect(a.outOfOrder).toEqual([]);
      // The first replayed samples are the newer ones: the start of the outage is gone.
      const replayed = a.unique.filter((s) => s.tag.hist && s.at >= restartedAt);
      expect(replayed.length).toBeGreaterThan(1000);
      const firstReplayed = replayed[0]!;
      const lostSpanMs = firstReplayed.tag.ts - killedAt;
      console.log(
        `[outbox full] dropped ${out.dropped.samples}, delivered ${a.unique.length} (+ duplicates: ${a.duplicates.identical} identical, ${a.duplicates.replayed} replayed), first replayed sample from ${lostSpanMs} ms into the outage (reconnected ${reconnectedAt - restartedAt} ms after the restart)`,
      );
      expect(lostSpanMs).toBeGreaterThan(5000);
      expect(
        a.unique.filter((s) => s.tag.ts > killedAt + 500 && s.tag.ts < firstReplayed.tag.ts).length,
      ).toBe(0);
      // From there on to the reconnect nothing is missing.
      const kept = a.unique.filter(
        (s) => s.tag.ts >= firstReplayed.tag.ts && s.tag.ts < reconnectedAt,
      );
      expect(largestGap(kept, firstReplayed.tag.ts, reconnectedAt - 300)).toBeLessThan(
        10 * POLL_MS,
      );
    },
  );

  it(
    'broker refuses the credentials: the agent keeps running, says why, retries with backoff and connects once the broker accepts them',
    {
      timeout: 60_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, {
        users: { agent: 'right-password', watcher: 'watcher-password' },
      });
      const agent = await startAgent(
        cleanup,
        await agentConfig('edge-auth', sim.port, {
          url: mosquitto.url,
          username: 'agent',
          password: 'wrong-password',
        }),
      );
      await agent.running.waitForOutput(/"msg":"MQTT error/);
      const refused = agent.logs().find((l) => /^MQTT error/.test(l.msg))!;
      expect(refused.level).toBeGreaterThanOrEqual(40);
      expect(String(refused.err)).toMatch(/Bad User Name or Password|Not authorized/i);
      expect(refused.msg).toMatch(/credentials/);

      const { http, body } = await health(agent);
      expect(http).toBe(503);
      expect(body.status).not.toBe('ok');
      expect(body.broker.connected).toBe(false);
      expect(body.broker.lastError).toMatch(/Bad User Name or Password|Not authorized/i);
      expect(body.reasons.join('\n')).toMatch(
        /MQTT broker not connected \(Connection refused: (Bad User Name or Password|Not authorized)\)/,
      );

      // Alive after several seconds, the same process, retrying on a backoff rather than in a loop.
      await sleep(6000);
      expect(agent.alive()).toBe(true);
      const attempts = agent.logs().filter((l) => /^MQTT error/.test(l.msg)).length;
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(attempts).toBeLessThanOrEqual(6);
      // The password never reaches the log.
      expect(agent.running.output()).not.toContain('wrong-password');

      // The operator gives the agent's user the password the agent has and restarts the broker
      // (Mosquitto 2.0.11 drops its clients on a SIGHUP reload of a changed password file): the
      // agent gets in by itself, without a restart, and data flows, which also proves the
      // broker's setup sound.
      await mosquitto.kill();
      const fixed = await restartBroker(cleanup, mosquitto, {
        users: { agent: 'wrong-password', watcher: 'watcher-password' },
      });
      const sub = mqtt.connect(fixed.url, {
        username: 'watcher',
        password: 'watcher-password',
        clientId: `agent-faults-auth-${process.pid}`,
      });
      cleanup(() => sub.endAsync(true));
      const seen: string[] = [];
      sub.on('message', (topic) => seen.push(topic));
      await waitFor('watcher connected', () => sub.connected);
      await sub.subscribeAsync(`${PREFIX}/edge-auth/#`, { qos: 1 });
      await waitFor('samples once the broker accepts the agent', () => seen.length > 0, 40_000);
      const { http: okHttp, body: okBody } = await health(agent);
      expect(okBody.broker.connected).toBe(true);
      expect(okHttp).toBe(200);
      expect(agent.pid).toBe(agent.running.child.pid);
    },
  );

  it(
    'broker certificate from another CA: clear error, health reason, process alive; the right CA connects and data flows',
    {
      timeout: 60_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const tls = makeCertificates(cleanup);
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, {
        tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
      });
      expect(mosquitto.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:/);
      const wrong = await startAgent(
        cleanup,
        await agentConfig('edge-tls-wrong', sim.port, {
          url: mosquitto.url,
          tls: { ca: tls.otherCa },
        }),
      );
      const right = await startAgent(
        cleanup,
        await agentConfig('edge-tls-right', sim.port, { url: mosquitto.url, tls: { ca: tls.ca } }),
      );
      const sub = await subscribe(cleanup, mosquitto.url, { ca: tls.ca, id: 'tls' });

      await wrong.running.waitForOutput(/"msg":"MQTT error/);
      const error = wrong.logs().find((l) => /^MQTT error/.test(l.msg))!;
      expect(error.level).toBeGreaterThanOrEqual(40);
      const certProblem = /certificate|self[- ]signed|issuer/i;
      expect(String(error.err)).toMatch(certProblem);
      expect(error.msg).toMatch(/TLS/);

      await waitFor(
        'samples from the agent with the right CA',
        () => sub.samples('edge-tls-right').length > 5,
      );
      await sleep(3000);
      expect(wrong.alive()).toBe(true);
      expect(right.alive()).toBe(true);
      const { http, body } = await health(wrong);
      expect(http).toBe(503);
      expect(body.status).not.toBe('ok');
      expect(body.broker.connected).toBe(false);
      expect(body.broker.lastError).toMatch(certProblem);
      expect(body.reasons.join('\n')).toMatch(
        /MQTT broker not connected \(.*(certificate|issuer)/i,
      );
      expect(sub.samples('edge-tls-wrong')).toEqual([]);
      const good = await health(right);
      expect(good.body.broker.connected).toBe(true);
      expect(good.http).toBe(200);
    },
  );

  it(
    'outbox folder cannot be created: the agent runs on with an in-memory outbox, says so, and data flows',
    {
      timeout: 60_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup);
      const sub = await subscribe(cleanup, mosquitto.url, { id: 'nodisk' });
      const dir = `/nonexistent-dir-${process.pid}-${Date.now()}`;
      const path = `${dir}/x/outbox.db`;
      const agent = await startAgent(
        cleanup,
        await agentConfig('edge-nodisk', sim.port, { url: mosquitto.url }, { outbox: { path } }),
      );
      const line = agent.logs().find((l) => l.component === 'outbox' && l.level >= 50);
      expect(line?.msg).toMatch(/cannot be opened.*memory only/);
      expect(line?.msg).toContain(path);

      await waitFor('samples at the broker', () => sub.samples('edge-nodisk').length > 20);
      expect(agent.alive()).toBe(true);
      const { http, body } = await health(agent);
      expect(http).toBe(503);
      expect(body.status).toBe('degraded');
      expect(body.outbox!.durable).toBe(false);
      expect(body.outbox!.lastError).toMatch(/cannot be opened.*memory only/);
      expect(body.reasons.join('\n')).toMatch(/outbox is in memory only/);
      expect(body.broker.connected).toBe(true);
      expect(body.outbox!.published.samples).toBeGreaterThan(20);
      expect(existsSync(dir)).toBe(false);
    },
  );
});
