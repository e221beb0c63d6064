import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteResult } from '../agent/write-service.js';
import { decodeTagPayload, type TagPayload } from '../protocols/mqtt/payload.js';
import { writeConfig } from './support/pipeline.js';
import { freePort, runCli, startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

// Real processes: the OPC UA simulator CLI, the agent CLI and Mosquitto.
const NODE = 'opcua-edge';
const PREFIX = 'factorylm/plant1/packaging/line1';
const dir = mkdtempSync(join(tmpdir(), 'factorylm-opcua-agent-'));

let broker: Service;
let port: number;
let sim: Running;
let agent: Running;
let client: MqttClient;
const messages: { topic: string; payload: TagPayload; at: number }[] = [];
const results: WriteResult[] = [];

function startSim(): Running {
  return startCli(['sim', 'opcua', '--port', String(port), '--pki', join(dir, 'sim-pki')]);
}

/** Values of one tag topic published after `from` (Date.now()). */
function published(tag: string, from = 0) {
  return messages.filter((m) => m.topic === `${PREFIX}/${tag}` && m.at >= from);
}

beforeAll(async () => {
  broker = await startMosquitto();
  port = await freePort();
  sim = startSim();
  await sim.waitForOutput(/Micro 820 OPC UA simulator on opc\.tcp:\/\//);
  client = await mqtt.connectAsync(broker.url);
  client.on('message', (topic, payload) => {
    if (topic.includes('/write-result/')) results.push(JSON.parse(payload.toString()));
    else if (topic.startsWith(PREFIX)) {
      const d = decodeTagPayload(payload);
      if (d.ok) messages.push({ topic, payload: d.value, at: Date.now() });
    }
  });
  await client.subscribeAsync('factorylm/#', { qos: 1 });
});

afterAll(async () => {
  await agent?.stop();
  await sim?.stop();
  await client?.endAsync();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('OPC UA through the agent CLI', () => {
  it('browse → YAML → agent config: values flow to Mosquitto with source timestamps, and writes reach the machine', async () => {
    const browsed = await runCli([
      'browse',
      `opc.tcp://127.0.0.1:${port}`,
      '--yaml',
      '--device',
      'line1-opcua',
      '--pki',
      join(dir, 'cli-pki'),
    ]);
    expect(browsed.code, browsed.stderr).toBe(0);
    // Clean YAML on stdout: node-opcua's own chatter goes to the logs on stderr.
    const device = (parse(browsed.stdout) as { devices: Record<string, unknown>[] }).devices[0]!;
    const tags = device.tags as { name: string; asset: string; node: string; writable?: boolean }[];
    expect(tags.map((t) => `${t.asset}/${t.name}`)).toEqual(
      expect.arrayContaining(['Motor/Speed', 'Conveyor/Pressure', 'Alarms/ErrorCode', 'IO/DO_03']),
    );
    // The one decision left to a person: which tag may be written.
    tags.find((t) => t.asset === 'Motor' && t.name === 'Running')!.writable = true;
    const file = writeConfig('agent', {
      site: 'plant1',
      area: 'packaging',
      line: 'line1',
      node: NODE,
      mqtt: { url: broker.url },
      writes: { enabled: true },
      // Unchanged values are re-published every second: the heartbeat check below.
      publish: { heartbeatMs: 1000 },
      devices: [
        {
          ...device,
          pollIntervalMs: 200,
          publishingIntervalMs: 200,
          samplingIntervalMs: 100,
          // A silent server is declared dead after about 5 s (see the SIGSTOP test).
          keepAliveMs: 2000,
        },
      ],
    });
    agent = startCli(['agent', '--config', file], { LOG_LEVEL: 'info' });
    await agent.waitForOutput(/OPC UA session up/);
    const speed = await waitFor('Motor/Speed at full speed', () =>
      published('Motor/Speed').find((m) => m.payload.v === 1750 && m.payload.q === 'good'),
    );
    // The server's source timestamp: when the value changed, before it reached us.
    expect(speed.payload.ts).toBeLessThanOrEqual(speed.at);
    expect(speed.payload.ts).toBeGreaterThan(speed.at - 60_000);
    await waitFor('every browsed tag published', () =>
      tags.every((t) => published(`${t.asset}/${t.name}`).length > 0),
    );
    // DI_05 (guard door closed) never changes: the server sends it once, the heartbeat repeats
    // it, with the time it last changed at the source.
    await waitFor('DI_05 heartbeats', () => published('IO/DI_05').length >= 3);
    const door = published('IO/DI_05');
    expect(new Set(door.map((m) => m.payload.ts)).size).toBe(1);
    expect(door.every((m) => m.payload.v === true && m.payload.q === 'good')).toBe(true);

    const from = Date.now();
    await client.publishAsync(
      `factorylm/plant1/_nodes/${NODE}/write/Motor/Running`,
      '{"v": false, "id": "stop"}',
      { qos: 1 },
    );
    const result = await waitFor('the write result', () => results.find((r) => r.id === 'stop'));
    expect(result).toMatchObject({ ok: true, raw: false });
    await waitFor('the motor to slow down', () =>
      published('Motor/Speed', from).some((m) => (m.payload.v as number) < 1000),
    );
    expect(agent.output()).toMatch(/"ref":"Motor\/Running".*"msg":"write done"/);
  });

  it('the simulator process is killed and restarted 5 times: data resumes by itself each time, one session per server life', async () => {
    const resumeMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const killedAt = Date.now();
      await sim.stop('SIGKILL');
      await waitFor('the agent to publish quality bad', () =>
        published('Conveyor/Pressure', killedAt).some((m) => m.payload.q === 'bad'),
      );
      sim = startSim();
      await sim.waitForOutput(/OPC UA simulator on/);
      const upAt = Date.now();
      const back = await waitFor(
        'good data again',
        () => published('Conveyor/Pressure', upAt).find((m) => m.payload.q === 'good'),
        10_000,
        50,
      );
      resumeMs.push(back.at - upAt);
      // Counted by the server: the agent opened exactly one session on this server life.
      expect(sim.output().match(/"msg":"session created"/g)).toHaveLength(1);
    }
    console.log(`data resumed ${resumeMs.join(', ')} ms after the server was back`);
    for (const ms of resumeMs) expect(ms).toBeLessThan(5_000);
    expect(agent.output().match(/OPC UA session re-established/g)).toHaveLength(5);
  }, 90_000);

  it('a frozen server (SIGSTOP: the socket stays open, nothing answers, as on a silent network cut) is noticed by the keep-alive watchdog, and data resumes after SIGCONT', async () => {
    const frozenAt = Date.now();
    sim.child.kill('SIGSTOP');
    try {
      // Read at the sample's own time: on a loaded machine, bad samples of the previous test's
      // last restart can still arrive after the freeze.
      await waitFor(
        'the agent to publish quality bad',
        () =>
          published('Conveyor/Pressure', frozenAt).some(
            (m) => m.payload.q === 'bad' && m.payload.ts >= frozenAt,
          ),
        15_000,
      );
      expect(Date.now() - frozenAt).toBeLessThan(10_000);
      await agent.waitForOutput(/no data or keep-alive from the server for \d+ s/, 5_000);
    } finally {
      sim.child.kill('SIGCONT');
    }
    const thawedAt = Date.now();
    await waitFor(
      'good data again',
      () => published('Conveyor/Pressure', thawedAt).some((m) => m.payload.q === 'good'),
      20_000,
    );
  }, 60_000);
});
