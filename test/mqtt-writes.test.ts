import mqtt, { type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../core/backoff.js';
import { silentLogger } from '../core/logger.js';
import { loadAgentConfig, type AgentConfig, type ModbusDeviceConfig } from '../agent/config.js';
import { MqttWriteHandler } from '../agent/mqtt-writes.js';
import { sourceExecutor, WriteService, type WriteResult } from '../agent/write-service.js';
import { lineTransport } from '../protocols/modbus/config.js';
import { ModbusDeviceSource } from '../protocols/modbus/device-source.js';
import { ModbusLine } from '../protocols/modbus/line.js';
import { resolveTag } from '../protocols/modbus/tag-spec.js';
import { connectBroker } from '../protocols/mqtt/broker.js';
import { nodeTopic } from '../protocols/mqtt/topics.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { EXAMPLE, exampleEnv, startSimulator } from './support/pipeline.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

// Coil indexes on the Micro 820 (ARCHITECTURE.md); the simulator accepts writes to all three.
const DO_00 = 15;
const DO_01 = 16;
const DO_03 = 17;

interface Received {
  topic: string;
  result: WriteResult;
  packet: IPublishPacket;
}

let broker: Service;
let sim: Micro820Simulator;
let config: AgentConfig;
let line: ModbusLine;
let source: ModbusDeviceSource;
let service: WriteService;
let agentClient: MqttClient;
let requester: MqttClient;
const handlerLog: { msg: string }[] = [];
const received: Received[] = [];
/** Writes the executor is running, per tag, and the most seen at once. */
const inflight = new Map<string, number>();
const peak = { perTag: 0, total: 0 };
/** Holds each write a while before it goes out, so that overlap would show if it were allowed. */
let holdMs = 0;

const writeTopic = (ref: string) => nodeTopic(config.site, config.node, 'write', ref);
const resultTopic = (ref: string) => nodeTopic(config.site, config.node, 'write-result', ref);
const coils = () => sim.model.snapshot().coils;

/** Publishes a request and returns the first message that then arrives on `on`. */
async function ask(
  ref: string,
  payload: string,
  options: IClientPublishOptions = {},
  on = resultTopic(ref),
): Promise<Received> {
  const from = received.length;
  await requester.publishAsync(writeTopic(ref), payload, { qos: 1, ...options });
  return waitFor(
    `a message on ${on}`,
    () => received.slice(from).find((r) => r.topic === on),
    10_000,
    10,
  );
}

beforeAll(async () => {
  broker = await startMosquitto();
  sim = await startSimulator();
  config = await loadAgentConfig(EXAMPLE, exampleEnv(sim.port, broker.url));
  const device = config.devices[0] as ModbusDeviceConfig;
  const tag = (name: string) => device.tags.find((t) => t.name === name)!;
  Object.assign(tag('conveyor_speed'), { writable: true, min: 0, max: 100 });
  // Writable in the example and to the PLC: a refusal can only come from the config.
  tag('DO_01').writable = false;
  config.writes.enabled = true;

  line = new ModbusLine({
    transport: lineTransport(device),
    timeoutMs: device.timeoutMs,
    maxInflight: device.maxInflight,
    interRequestDelayMs: device.interRequestDelayMs,
  });
  source = new ModbusDeviceSource(
    { name: device.name, unitId: device.unitId, retries: device.retries },
    device.tags.map((t) => resolveTag(`${t.asset ?? device.asset}/${t.name}`, t, device.byteOrder)),
    line,
  );
  const execute = sourceExecutor(new Map([[device.name, source]]));
  service = new WriteService(
    () => config,
    async (deviceName, tagId, raw) => {
      inflight.set(tagId, (inflight.get(tagId) ?? 0) + 1);
      peak.perTag = Math.max(peak.perTag, inflight.get(tagId)!);
      peak.total = Math.max(
        peak.total,
        [...inflight.values()].reduce((a, b) => a + b, 0),
      );
      try {
        await sleep(holdMs);
        await execute(deviceName, tagId, raw);
      } finally {
        inflight.set(tagId, inflight.get(tagId)! - 1);
      }
    },
    silentLogger,
  );

  requester = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'requester' });
  requester.on('message', (topic, payload, packet) => {
    received.push({ topic, result: JSON.parse(payload.toString()) as WriteResult, packet });
  });
  await requester.subscribeAsync(
    [resultTopic('#'), 'replies/#', `factorylm/${config.site}/stolen`],
    { qos: 1 },
  );
  // Left on the broker before the agent subscribes, as a forgotten retained request would be.
  await requester.publishAsync(writeTopic('conveyor1/DO_03'), 'true', { qos: 1, retain: true });

  agentClient = connectBroker(config.mqtt, { clientId: 'agent-under-test', log: silentLogger });
  const log = pino({ level: 'info' }, { write: (l: string) => handlerLog.push(JSON.parse(l)) });
  new MqttWriteHandler(config.site, config.node, service, log).attach(agentClient);
  await waitFor('the write subscription', () =>
    handlerLog.some((l) => l.msg === 'accepting write requests'),
  );
});

afterAll(async () => {
  await requester?.endAsync();
  await agentClient?.endAsync();
  await line?.close();
  await sim?.stop();
  await broker?.stop();
});

describe('writes over MQTT to the Micro 820', () => {
  it('refuses a tag the config does not mark writable; nothing reaches the PLC', async () => {
    const requests = sim.stats.requests;
    const { result } = await ask('conveyor1/DO_01', '{"v": true, "id": "nw-1"}');
    expect(result).toMatchObject({ ok: false, ref: 'conveyor1/DO_01', id: 'nw-1', by: 'mqtt' });
    expect(result.reason).toMatch(/^tag conveyor1\/DO_01 is not writable: set writable: true/);
    expect(coils()[DO_01]).toBe(false);
    expect(sim.stats.requests).toBe(requests);
  });

  it('refuses every write while writes are disabled, saying how to enable them', async () => {
    config.writes.enabled = false;
    try {
      const requests = sim.stats.requests;
      const { result } = await ask('conveyor1/DO_00', '{"v": true, "id": "off-1"}');
      expect(result).toMatchObject({ ok: false, id: 'off-1' });
      expect(result.reason).toBe(
        'writes are disabled on node edge-01: set writes.enabled: true in the agent config to accept them',
      );
      expect(coils()[DO_00]).toBe(false);
      expect(sim.stats.requests).toBe(requests);
    } finally {
      config.writes.enabled = true;
    }
  });

  it('writes a writable tag: the PLC has the value and a Modbus read returns it', async () => {
    const on = await ask('conveyor1/DO_00', '{"v": true, "id": "ok-1", "by": "alice"}');
    expect(on.result).toEqual({
      ok: true,
      ref: 'conveyor1/DO_00',
      id: 'ok-1',
      value: true,
      raw: true,
      by: 'alice',
      ts: expect.any(Number),
    });
    expect(on.packet.retain).toBe(false);
    expect(on.packet.qos).toBe(1);
    expect(coils()[DO_00]).toBe(true);
    const read = (await source.read()).readings().find((r) => r.id === 'conveyor1/DO_00');
    expect(read).toMatchObject({ value: true, quality: 'good' });

    // A bare JSON value, as text, read the way the CLI reads it.
    const off = await ask('conveyor1/DO_00', '"off"');
    expect(off.result).toMatchObject({ ok: true, value: false, raw: false, by: 'mqtt' });
    expect(coils()[DO_00]).toBe(false);
    expect((await source.read()).readings().find((r) => r.id === 'conveyor1/DO_00')?.value).toBe(
      false,
    );
  });

  it('refuses a value outside the tag limits before the PLC sees it', async () => {
    const requests = sim.stats.requests;
    const high = await ask('conveyor1/conveyor_speed', '{"v": 150, "id": "lim-1"}');
    expect(high.result).toMatchObject({ ok: false, id: 'lim-1', value: 150 });
    expect(high.result.reason).toBe(
      "conveyor1/conveyor_speed=150 is above the tag's limit max 100",
    );
    const low = await ask('conveyor1/conveyor_speed', '-1');
    expect(low.result.reason).toBe("conveyor1/conveyor_speed=-1 is below the tag's limit min 0");
    expect(sim.stats.requests).toBe(requests);
  });

  it("reports the PLC's own refusal of a value within limits as failed", async () => {
    // The plant's program maps no writable holding registers, so the PLC answers exception 2.
    const failedBefore = service.stats.failed;
    const requests = sim.stats.requests;
    const { result } = await ask('conveyor1/conveyor_speed', '{"v": 50, "id": "dev-1"}');
    expect(result).toMatchObject({ ok: false, id: 'dev-1', value: 50, raw: 50 });
    expect(result.reason).toBe(
      `write to hr:104 on micro820 failed: exception 2 (illegal data address)`,
    );
    expect(service.stats.failed).toBe(failedBefore + 1);
    expect(sim.stats.requests).toBe(requests + 1);
  });

  it.each([
    ['not JSON', 'motor on please', /^payload is not JSON: Unexpected token/],
    ['empty object', '{"id": "g-2"}', /^payload has no "v": send \{"v": <value>/],
    ['id not a string', '{"v": 1, "id": 7}', /^payload "id" must be a string$/],
    ['text no number', '{"v": "fast"}', /^conveyor1\/conveyor_speed: "fast" is not a number$/],
    ['array', '[50]', /^conveyor1\/conveyor_speed takes a number, not an array$/],
  ])('refuses a garbage payload (%s) with the reason', async (_what, payload, reason) => {
    const requests = sim.stats.requests;
    const refusedBefore = service.stats.refused;
    const { result } = await ask('conveyor1/conveyor_speed', payload);
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(reason);
    expect(service.stats.refused).toBe(refusedBefore + 1);
    expect(sim.stats.requests).toBe(requests);
  });

  it('MQTT 5: replies on the response topic too, with the correlation data and user property', async () => {
    const correlationData = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const properties = {
      responseTopic: 'replies/alice',
      correlationData,
      userProperties: { by: 'alice-ui' },
    };
    const from = received.length;
    const reply = await ask('conveyor1/DO_00', 'true', { properties }, 'replies/alice');
    expect(reply.result).toMatchObject({ ok: true, by: 'alice-ui', raw: true });
    expect(reply.packet.properties?.correlationData).toEqual(correlationData);
    const observed = await waitFor('the result on the write-result topic', () =>
      received.slice(from).find((r) => r.topic === resultTopic('conveyor1/DO_00')),
    );
    expect(observed.result).toEqual(reply.result);
    expect(observed.packet.properties?.correlationData).toEqual(correlationData);
    expect(coils()[DO_00]).toBe(true);
  });

  it('MQTT 5: refuses a response topic inside factorylm/ and publishes nothing there', async () => {
    const correlationData = Buffer.from('c-2');
    const stolen = `factorylm/${config.site}/stolen`;
    const from = received.length;
    const refused = await ask('conveyor1/DO_00', 'false', {
      properties: { responseTopic: stolen, correlationData },
    });
    expect(refused.result.ok).toBe(false);
    expect(refused.result.reason).toMatch(
      /^response topic "factorylm\/plant1\/stolen" is inside factorylm\//,
    );
    expect(refused.packet.properties?.correlationData).toEqual(correlationData);
    expect(coils()[DO_00]).toBe(true);
    // A full round trip later, anything published on the stolen topic would have arrived.
    await ask(
      'conveyor1/DO_00',
      'false',
      { properties: { responseTopic: 'replies/alice' } },
      'replies/alice',
    );
    expect(received.slice(from).filter((r) => r.topic === stolen)).toEqual([]);
    expect(coils()[DO_00]).toBe(false);
  });

  it('never executes a retained request, and ignores the empty message that clears it', async () => {
    const refusal = await waitFor('the refusal of the retained request', () =>
      received.find((r) => r.topic === resultTopic('conveyor1/DO_03')),
    );
    expect(refusal.result.ok).toBe(false);
    expect(refusal.result.reason).toMatch(/^retained write requests are never executed/);
    expect(coils()[DO_03]).toBe(false);
    const from = received.length;
    await requester.publishAsync(writeTopic('conveyor1/DO_03'), '', { qos: 1, retain: true });
    const live = await ask('conveyor1/DO_03', '{"v": true, "id": "live-1"}');
    expect(live.result).toMatchObject({ ok: true, id: 'live-1' });
    expect(received.slice(from).filter((r) => r.topic === resultTopic('conveyor1/DO_03'))).toEqual([
      live,
    ]);
    expect(coils()[DO_03]).toBe(true);
  });

  it('runs writes to one tag one at a time, in arrival order; other tags alongside', async () => {
    peak.perTag = 0;
    peak.total = 0;
    holdMs = 30;
    try {
      const from = received.length;
      const sent: { ref: string; id: string; v: boolean }[] = [];
      for (let i = 0; i < 6; i++) {
        for (const ref of ['conveyor1/DO_00', 'conveyor1/DO_03']) {
          // Opposite phases, so each tag ends on the value it did not start with.
          const request = {
            ref,
            id: `${ref}#${i}`,
            v: (ref === 'conveyor1/DO_00') === (i % 2 === 1),
          };
          sent.push(request);
          requester.publish(writeTopic(ref), JSON.stringify({ v: request.v, id: request.id }), {
            qos: 1,
          });
        }
      }
      const results = await waitFor('every result', () => {
        const got = received.slice(from).filter((r) => r.topic.includes('/write-result/'));
        return got.length >= sent.length ? got : undefined;
      });
      for (const ref of ['conveyor1/DO_00', 'conveyor1/DO_03']) {
        const ids = results.filter((r) => r.result.ref === ref).map((r) => r.result.id);
        expect(ids).toEqual(sent.filter((s) => s.ref === ref).map((s) => s.id));
      }
      expect(results.every((r) => r.result.ok)).toBe(true);
      expect(peak).toEqual({ perTag: 1, total: 2 });
      // The last value written to each tag is the one the PLC holds.
      expect(coils()[DO_00]).toBe(true);
      expect(coils()[DO_03]).toBe(false);
    } finally {
      holdMs = 0;
    }
  });
});
