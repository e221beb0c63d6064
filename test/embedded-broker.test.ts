import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { selfSignedCertificate } from './support/certificates.js';
import { EXAMPLE, exampleEnv, startSimulator, writeConfig } from './support/pipeline.js';
import { CLI, runCli, startCli, type Running } from './support/processes.js';
import { waitFor } from './support/wait.js';

/**
 * The gateway's embedded broker (aedes) through the real `factorylm` CLI: users made with
 * `factorylm broker passwd`, the real agent, and mqtt.js clients over TCP, TLS and WebSocket.
 */

const dir = mkdtempSync(join(tmpdir(), 'factorylm-embedded-broker-'));
const passwordFile = join(dir, 'broker.passwd');
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const PASSWORDS = {
  'edge-01': 'edge-01-pw-7Hq',
  'edge-02': 'edge-02-pw-Zr4',
  gw: 'gateway-pw-M2x',
} as const;
const WRONG = 'not-the-password-Qk9';
const TAG = 'factorylm/plant1/packaging/line1/conveyor1';
const sample = (v: number) => JSON.stringify({ v, ts: Date.now(), q: 'good' });

interface Urls {
  tcp: string;
  tls: string;
  ws: string;
}

interface Gateway {
  process: Running;
  urls: Urls;
}

/** Starts `factorylm gateway` on `configFile` and reads the broker's URLs from its log. */
async function startGateway(configFile: string): Promise<Gateway> {
  const process = startCli(['gateway', '--config', configFile]);
  await process.waitForOutput(/"msg":"subscribed"/);
  const line = process
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"embedded MQTT broker listening"'));
  const urls = JSON.parse(line!) as Urls;
  return { process, urls };
}

/** Log lines (JSON) of a process whose msg is `msg`. */
function logLines(p: Running, msg: string): Record<string, unknown>[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"msg":"${msg}`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits for a log line with this msg (prefix) and these fields; returns it. */
function waitForLog(
  p: Running,
  msg: string,
  fields: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return waitFor(`a "${msg}" log line with ${JSON.stringify(fields)}`, () =>
    logLines(p, msg).find((l) => Object.entries(fields).every(([k, v]) => l[k] === v)),
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- output ---\n${p.output().slice(-4000)}`);
  });
}

/** Connects once (no reconnect); rejects on a refused CONNACK, an error or a close before it. */
function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 3000,
    ...options,
  });
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => reject(err));
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

const clients: MqttClient[] = [];
const as = (user: keyof typeof PASSWORDS, clientId: string): IClientOptions => ({
  username: user,
  password: PASSWORDS[user],
  clientId,
});

/** A gateway-role subscriber collecting every message under factorylm/. */
async function spy(url: string, clientId: string) {
  const seen: { topic: string; payload: string; retain: boolean }[] = [];
  const client = await connect(url, as('gw', clientId));
  client.on('message', (topic, payload, packet) =>
    seen.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  await client.subscribeAsync('factorylm/#', { qos: 1 });
  return { client, seen };
}

function brokerConfig(name: string, persistence: string): string {
  return writeConfig(name, {
    name,
    broker: {
      embedded: true,
      tcp: { host: '127.0.0.1', port: 0 },
      tls: { host: '127.0.0.1', port: 0, cert, key },
      ws: { host: '127.0.0.1', port: 0 },
      passwordFile,
      persistence: { path: persistence },
    },
  });
}

let gateway: Gateway;
let sim: Micro820Simulator | undefined;
const running: Running[] = [];

beforeAll(async () => {
  // A self-signed certificate for 127.0.0.1, made with openssl as an operator would.
  selfSignedCertificate({
    cert,
    key,
    subject: '/CN=localhost',
    extensions: ['subjectAltName=IP:127.0.0.1,DNS:localhost'],
  });
  // Users through the CLI; the password comes from the environment, or stdin for one of them.
  const users: [keyof typeof PASSWORDS, string[]][] = [
    ['edge-01', ['--site', 'plant1']],
    ['edge-02', ['--site', 'plant1', '--node', 'edge-02']],
    ['gw', ['--role', 'gateway']],
  ];
  for (const [user, args] of users) {
    const r = await runCli(['broker', 'passwd', passwordFile, user, ...args], {
      FACTORYLM_BROKER_PASSWORD: PASSWORDS[user],
    });
    expect(r.code, r.stderr).toBe(0);
  }
  execFileSync(
    process.execPath,
    [CLI, 'broker', 'passwd', passwordFile, 'edge-02', '--site', 'plant1'],
    { input: `${PASSWORDS['edge-02']}\n`, env: { ...process.env, FACTORYLM_BROKER_PASSWORD: '' } },
  );
  const text = readFileSync(passwordFile, 'utf8');
  for (const password of Object.values(PASSWORDS)) expect(text).not.toContain(password);
  gateway = await startGateway(brokerConfig('gw-main', join(dir, 'main.db')));
  running.push(gateway.process);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  for (const p of running) await p.stop();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded broker in the gateway', () => {
  it('refuses an agent with wrong credentials and logs it; the right ones carry its data to the gateway', async () => {
    const { urls } = gateway;
    sim = await startSimulator();
    // The shipped example, speaking MQTT 3.1.1 (aedes has no MQTT 5).
    const doc = parse(readFileSync(EXAMPLE, 'utf8')) as { mqtt: Record<string, unknown> };
    doc.mqtt.protocolVersion = 4;
    const agentConfig = writeConfig('agent', doc);
    const env = {
      ...exampleEnv(sim.port, urls.tcp),
      MQTT_USERNAME: 'edge-01',
      MQTT_PASSWORD: WRONG,
    };
    const bad = startCli(['agent', '--config', agentConfig], env);
    running.push(bad);
    const refusal = await waitForLog(gateway.process, 'broker refused connection', {
      reason: 'wrong password',
    });
    await bad.waitForOutput(/Bad username or password/i);
    await bad.stop();
    expect(refusal).toMatchObject({ clientId: 'factorylm-agent-edge-01', user: 'edge-01' });
    expect(gateway.process.output()).not.toContain(WRONG);

    // No credentials, and an unknown user, are refused too.
    await expect(connect(urls.tcp, { clientId: 'anon' })).rejects.toThrow(/not authorized/i);
    await expect(
      connect(urls.tcp, { clientId: 'who', username: 'nobody', password: 'x' }),
    ).rejects.toThrow(/bad username or password/i);
    await waitForLog(gateway.process, 'broker refused connection', {
      clientId: 'anon',
      user: null,
      reason: 'no username: this broker requires credentials',
    });
    await waitForLog(gateway.process, 'broker refused connection', {
      clientId: 'who',
      user: 'nobody',
      reason: 'unknown user',
    });

    // The same agent with its password: everything it publishes is within its ACL.
    const { seen } = await spy(urls.tcp, 'spy-agent');
    const good = startCli(['agent', '--config', agentConfig], {
      ...env,
      MQTT_PASSWORD: PASSWORDS['edge-01'],
    });
    running.push(good);
    await waitFor(
      'the agent online and its tags',
      () =>
        seen.some(
          (m) => m.topic === 'factorylm/plant1/_nodes/edge-01/status' && m.payload === 'online',
        ) && seen.some((m) => m.topic === `${TAG}/motor_speed`),
    );
    // The gateway's own client, on the broker's private port, consumed them too.
    await waitForLog(gateway.process, 'node status', { node: 'edge-01', status: 'online' });
    await good.stop();
    const refusedAgent = logLines(gateway.process, 'broker refused').filter(
      (l) => l.clientId === 'factorylm-agent-edge-01' && l.reason !== 'wrong password',
    );
    expect(refusedAgent).toEqual([]);
    // Its clean exit publishes offline; the gateway's own client consumed the tag messages.
    await waitFor('the agent offline', () =>
      seen.some(
        (m) => m.topic === 'factorylm/plant1/_nodes/edge-01/status' && m.payload === 'offline',
      ),
    );
  });

  it('refuses a node publishing outside its subtree: the message never reaches a subscriber', async () => {
    const { urls } = gateway;
    const { seen } = await spy(urls.tcp, 'spy-publish');
    const forbidden = [
      'factorylm/plant2/packaging/line1/conveyor1/motor_speed', // another site
      'factorylm/plant1/_nodes/edge-02/status', // another node's _nodes
      'factorylm/plant1/_nodes/edge-01/write/conveyor1/motor_running', // a write request
    ];
    for (const [i, topic] of forbidden.entries()) {
      const node = await connect(urls.tcp, as('edge-01', `edge-01-bad-${i}`));
      const closed = new Promise<void>((resolve) => node.once('close', () => resolve()));
      node.publish(topic, sample(1), { qos: 1, retain: true });
      await closed; // aedes disconnects a client whose PUBLISH it refuses
      await waitForLog(gateway.process, 'broker refused publish', {
        clientId: `edge-01-bad-${i}`,
        user: 'edge-01',
        role: 'node',
        topic,
      });
    }

    // Its own topics pass; once that message is through, the refused ones would have been too.
    const node = await connect(urls.tcp, as('edge-01', 'edge-01-good'));
    await node.publishAsync(`${TAG}/motor_speed`, sample(1750), { qos: 1 });
    await node.publishAsync('factorylm/plant1/_nodes/edge-01/inventory', '{}', { qos: 1 });
    await waitFor('the allowed messages', () =>
      seen.some((m) => m.topic === 'factorylm/plant1/_nodes/edge-01/inventory'),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.map((m) => m.topic)).toContain(`${TAG}/motor_speed`);
    expect(seen.filter((m) => forbidden.includes(m.topic))).toEqual([]);
    // Nor was any of them retained.
    const late = await spy(urls.tcp, 'spy-late');
    await new Promise((r) => setTimeout(r, 300));
    expect(late.seen.filter((m) => forbidden.includes(m.topic))).toEqual([]);
  });

  it('lets a node read only its own write topic', async () => {
    const { urls } = gateway;
    const node = await connect(urls.tcp, as('edge-01', 'edge-01-sub'));
    const received: string[] = [];
    node.on('message', (topic) => received.push(topic));
    // SUBACK 0x80 (failure): mqtt.js rejects the subscription.
    await expect(
      node.subscribeAsync('factorylm/plant1/_nodes/edge-02/write/#', { qos: 1 }),
    ).rejects.toThrow(/Subscribe error/);
    await expect(node.subscribeAsync('factorylm/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const own = await node.subscribeAsync('factorylm/plant1/_nodes/edge-01/write/+/+', { qos: 1 });
    expect(own.map((g) => g.qos)).toEqual([1]);

    const gw = await connect(urls.tcp, as('gw', 'gw-writer'));
    await gw.publishAsync(
      'factorylm/plant1/_nodes/edge-02/write/conveyor1/motor_running',
      '{"v":true}',
      { qos: 1 },
    );
    await gw.publishAsync(
      'factorylm/plant1/_nodes/edge-01/write/conveyor1/motor_running',
      '{"v":true}',
      { qos: 1 },
    );
    await waitFor('its own write request', () => received.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toEqual(['factorylm/plant1/_nodes/edge-01/write/conveyor1/motor_running']);
    await waitForLog(gateway.process, 'broker refused subscription', {
      clientId: 'edge-01-sub',
      user: 'edge-01',
      topic: 'factorylm/plant1/_nodes/edge-02/write/#',
    });
  });

  it('serves MQTT over TLS with the configured certificate, and refuses plain MQTT on that port', async () => {
    const { urls } = gateway;
    const tls = { ca: readFileSync(cert), rejectUnauthorized: true };
    const { seen } = await spy(urls.tcp, 'spy-tls');
    const node = await connect(urls.tls, { ...as('edge-01', 'edge-01-tls'), ...tls });
    await node.publishAsync(`${TAG}/temperature`, sample(21.5), { qos: 1 });
    await waitFor('the message sent over TLS', () =>
      seen.some((m) => m.topic === `${TAG}/temperature`),
    );
    // A plain client on the TLS port never gets a CONNACK.
    const plainUrl = urls.tls.replace('mqtts://', 'mqtt://');
    await expect(connect(plainUrl, as('edge-01', 'edge-01-plain'))).rejects.toThrow();
    // Nor does a TLS client that does not trust the certificate.
    await expect(
      connect(urls.tls, { ...as('edge-01', 'edge-01-untrusted'), rejectUnauthorized: true }),
    ).rejects.toThrow(/self.signed|certificate/i);
  });

  it('serves MQTT over WebSocket', async () => {
    const { urls } = gateway;
    expect(urls.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const { seen } = await spy(urls.tcp, 'spy-ws');
    const node = await connect(urls.ws, as('edge-02', 'edge-02-ws'));
    await node.publishAsync('factorylm/plant1/assembly/line2/press1/pressure', sample(80), {
      qos: 1,
    });
    await waitFor('the message sent over WebSocket', () =>
      seen.some((m) => m.topic === 'factorylm/plant1/assembly/line2/press1/pressure'),
    );
    // The ACL holds on every listener.
    const closed = new Promise<void>((resolve) => node.once('close', () => resolve()));
    node.publish('factorylm/plant1/_nodes/edge-01/status', 'offline', { qos: 1, retain: true });
    await closed;
    await waitForLog(gateway.process, 'broker refused publish', {
      clientId: 'edge-02-ws',
      user: 'edge-02',
      topic: 'factorylm/plant1/_nodes/edge-01/status',
    });
  });

  it('reads the password file again when a user is added or removed while it runs', async () => {
    const { urls } = gateway;
    const env = { FACTORYLM_BROKER_PASSWORD: 'late-pw-Wd3' };
    const add = await runCli(
      ['broker', 'passwd', passwordFile, 'edge-03', '--site', 'plant1'],
      env,
    );
    expect(add.code, add.stderr).toBe(0);
    const login = { clientId: 'edge-03', username: 'edge-03', password: 'late-pw-Wd3' };
    const node = await connect(urls.tcp, login);
    await node.publishAsync('factorylm/plant1/_nodes/edge-03/status', 'online', { qos: 1 });
    await node.endAsync();
    const del = await runCli(['broker', 'passwd', passwordFile, 'edge-03', '--delete']);
    expect(del.code, del.stderr).toBe(0);
    await expect(connect(urls.tcp, login)).rejects.toThrow(/bad username or password/i);
    await waitForLog(gateway.process, 'broker password file reloaded');
  });

  it('keeps retained messages and Wills across a crash of the gateway', async () => {
    const persistence = join(dir, 'restart.db');
    const config = brokerConfig('gw-restart', persistence);
    const first = await startGateway(config);
    running.push(first.process);
    const status = 'factorylm/plant1/_nodes/edge-02/status';
    const watcher = await spy(first.urls.tcp, 'spy-first');
    const node = await connect(first.urls.tcp, {
      ...as('edge-02', 'edge-02-will'),
      will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    await node.publishAsync(status, 'online', { qos: 1, retain: true });
    const errorCode = sample(3);
    await node.publishAsync(`${TAG}/error_code`, errorCode, {
      qos: 1,
      retain: true,
    });
    // aedes sends PUBACK before it stores and routes a QoS 1 message: once a subscriber has it,
    // it is stored.
    await waitFor('the retained messages at a subscriber', () =>
      watcher.seen.some((m) => m.topic === `${TAG}/error_code`),
    );
    // kill -9: no clean shutdown, the node's Will is still pending in the store.
    await first.process.stop('SIGKILL');
    node.end(true);

    const second = await startGateway(config);
    running.push(second.process);
    await second.process.waitForOutput(/"msg":"published the Will of a client connected before/);
    const { seen } = await spy(second.urls.tcp, 'spy-restart');
    await waitFor('the retained messages', () => seen.length >= 2);
    expect(seen).toEqual(
      expect.arrayContaining([
        { topic: status, payload: 'offline', retain: true },
        { topic: `${TAG}/error_code`, payload: errorCode, retain: true },
      ]),
    );
    await second.process.stop();

    // A clean stop keeps them too, and the Will is not published twice.
    const third = await startGateway(config);
    running.push(third.process);
    const after = await spy(third.urls.tcp, 'spy-third');
    await waitFor('the retained messages again', () => after.seen.length >= 2);
    expect(after.seen.find((m) => m.topic === status)?.payload).toBe('offline');
    expect(third.process.output()).not.toContain('published the Will');
    await third.process.stop();
  });

  it('refuses to start anonymous on an address other machines reach', async () => {
    const file = writeConfig('exposed', {
      broker: { embedded: true, tcp: { host: '0.0.0.0', port: 0 } },
    });
    const validate = await runCli(['config', 'validate', file]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toMatch(
      /broker\.allowAnonymous: a listener on 0\.0\.0\.0 is reachable from other machines/,
    );
    const run = await runCli(['gateway', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('set passwordFile');
    // The shipped example binds 0.0.0.0 with a password file: valid.
    const example = await runCli([
      'config',
      'validate',
      'deploy/examples/gateway-embedded-broker.yaml',
    ]);
    expect(example.code, example.stderr).toBe(0);
  });
});
