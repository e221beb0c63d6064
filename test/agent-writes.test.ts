import { writeFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteResult } from '../agent/write-service.js';
import { decodeTagPayload } from '../protocols/mqtt/payload.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { startSimulator, writeConfig } from './support/pipeline.js';
import { startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

// The agent CLI end to end: MQTT request → agent → Modbus → simulator, and back.
const NODE = 'writer-01';
const REQUEST = `factorylm/plant1/_nodes/${NODE}/write/conveyor1`;
const RESULT = `factorylm/plant1/_nodes/${NODE}/write-result/conveyor1`;
const DO_00 = 15;

let broker: Service;
let sim: Micro820Simulator;
let agent: Running;
let client: MqttClient;
let file: string;
const messages: { topic: string; text: string }[] = [];

function configDoc(writesEnabled: boolean): Record<string, unknown> {
  return {
    site: 'plant1',
    area: 'packaging',
    line: 'line1',
    node: NODE,
    mqtt: { url: broker.url },
    writes: { enabled: writesEnabled },
    devices: [
      {
        name: 'micro820',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: sim.port,
        asset: 'conveyor1',
        pollIntervalMs: 200,
        tags: [
          { name: 'DO_00', address: 'coil:15', writable: true },
          { name: 'fault_alarm', address: 'coil:2' },
        ],
      },
    ],
  };
}

async function ask(tag: string, body: string): Promise<WriteResult> {
  const from = messages.length;
  await client.publishAsync(`${REQUEST}/${tag}`, body, { qos: 1 });
  const reply = await waitFor(`result for ${tag}`, () =>
    messages.slice(from).find((m) => m.topic === `${RESULT}/${tag}`),
  );
  return JSON.parse(reply.text) as WriteResult;
}

beforeAll(async () => {
  broker = await startMosquitto();
  sim = await startSimulator();
  file = writeConfig('agent', configDoc(false));
  client = await mqtt.connectAsync(broker.url);
  client.on('message', (topic, payload) => messages.push({ topic, text: payload.toString() }));
  await client.subscribeAsync('factorylm/#', { qos: 1 });
  agent = startCli(['agent', '--config', file]);
  await agent.waitForOutput(/accepting write requests/);
});

afterAll(async () => {
  await agent?.stop();
  await client?.endAsync();
  await sim?.stop();
  await broker?.stop();
});

describe('writes through the agent CLI', () => {
  it('refuses every write while writes are disabled', async () => {
    const result = await ask('DO_00', '{"v": true, "id": "w1", "by": "alice"}');
    expect(result).toMatchObject({ ok: false, id: 'w1', by: 'alice' });
    expect(result.reason).toMatch(/writes are disabled on node writer-01: set writes.enabled/);
    expect(sim.model.snapshot().coils[DO_00]).toBe(false);
    expect(agent.output()).toMatch(/"by":"alice"/);
  });

  it('after a reload enabling writes: refuses a tag not marked writable, writes one that is and reads it back', async () => {
    // The file is replaced as a deployment would; SIGHUP applies it without a restart.
    const doc = configDoc(true);
    writeFileSync(file, stringify({ ...doc, outbox: { path: `${file}.db` }, health: { port: 0 } }));
    agent.child.kill('SIGHUP');
    await agent.waitForOutput(/config reloaded/);

    const refused = await ask('fault_alarm', 'true');
    expect(refused.ok).toBe(false);
    expect(refused.reason).toMatch(
      /^tag conveyor1\/fault_alarm is not writable: set writable: true/,
    );
    expect(sim.model.snapshot().coils[2]).toBe(false);

    const from = messages.length;
    const done = await ask('DO_00', '{"v": true, "id": "w2"}');
    expect(done).toMatchObject({ ok: true, id: 'w2', raw: true });
    expect(sim.model.snapshot().coils[DO_00]).toBe(true);
    // The agent's own next poll reads the new value back and publishes it.
    await waitFor('DO_00 read back as true', () =>
      messages.slice(from).some((m) => {
        if (!m.topic.endsWith('/conveyor1/DO_00')) return false;
        const d = decodeTagPayload(Buffer.from(m.text));
        return d.ok && d.value.v === true && d.value.q === 'good';
      }),
    );
    // Every outcome is in the log with who asked and what.
    expect(agent.output()).toMatch(/"ref":"conveyor1\/DO_00".*"msg":"write done"/);
    expect(agent.output()).toMatch(/"ref":"conveyor1\/fault_alarm".*"msg":"write refused"/);
  });
});
