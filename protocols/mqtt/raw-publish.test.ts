import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
// mqtt.js's own parser (a dependency of mqtt): what the broker and mqtt.js would read.
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Service } from '../../test/support/services.js';
import { waitFor } from '../../test/support/wait.js';
import {
  allocatePacketId,
  beforeClientWrite,
  clientSocket,
  dropPendingPublishes,
  PublishBatch,
  takePubacks,
} from './raw-publish.js';

/**
 * The mqtt.js internals raw-publish.ts relies on were read in this version. An upgrade fails
 * here first: re-read mqtt's handlers/ack.ts, handlers/index.ts and client.ts, rerun this file,
 * then move the pin.
 */
const PINNED_MQTT = '5.16.0';

function parse(bytes: Buffer, protocolVersion: 4 | 5): mqttPacket.IPublishPacket[] {
  const parser = mqttPacket.parser({ protocolVersion });
  const out: mqttPacket.IPublishPacket[] = [];
  parser.on('packet', (p) => out.push(p as mqttPacket.IPublishPacket));
  parser.on('error', (err) => {
    throw err;
  });
  parser.parse(bytes);
  return out;
}

describe('PublishBatch encodes what mqtt-packet decodes', () => {
  it.each([
    { v: 4, qos: 0, payload: '{"v":1}' },
    { v: 5, qos: 0, payload: '{"v":1}' },
    { v: 4, qos: 1, payload: '{"v":"°C"}' },
    { v: 5, qos: 1, payload: Buffer.from([0, 1, 2, 255]) },
    { v: 5, qos: 1, payload: 'é'.repeat(40_000) },
    { v: 4, qos: 1, payload: '' },
  ] as const)('MQTT $v, QoS $qos', ({ v, qos, payload }) => {
    const batch = new PublishBatch<string>();
    const ids = qos ? [1, 65535] : [0, 0];
    expect(batch.add('a', 'plant/°/t1', payload, v === 5, ids[0])).toBe(true);
    // A large body fills the batch on its own: the caller writes it first.
    if (!batch.add('b', 't2', 'x', v === 5, ids[1])) {
      const first = batch.take();
      expect(first.entries).toEqual(['a']);
      expect(batch.add('b', 't2', 'x', v === 5, ids[1])).toBe(true);
      const second = batch.take();
      const packets = [...parse(first.bytes, v), ...parse(second.bytes, v)];
      expect(packets.map((p) => p.topic)).toEqual(['plant/°/t1', 't2']);
      return;
    }
    const { bytes, entries } = batch.take();
    expect(entries).toEqual(['a', 'b']);
    const packets = parse(bytes, v);
    expect(packets.map((p) => [p.topic, p.qos, p.qos ? p.messageId : 0])).toEqual([
      ['plant/°/t1', qos, ids[0]],
      ['t2', qos, ids[1]],
    ]);
    expect(Buffer.from(packets[0]!.payload as Buffer)).toEqual(Buffer.from(payload));
    expect(batch.bytes).toBe(0);
  });
});

describe(`mqtt.js ${PINNED_MQTT} internals, against a real Mosquitto`, () => {
  let broker: Service;
  let client: MqttClient;
  let watcher: MqttClient;
  const errors: Error[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    client.on('error', (err) => errors.push(err));
    watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await watcher.subscribeAsync('raw/#', { qos: 1 });
  });

  afterAll(async () => {
    await client?.endAsync(true);
    await watcher?.endAsync(true);
    await broker?.stop();
  });

  it('is the version these helpers were checked against', () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../../node_modules/mqtt/package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(version, 'mqtt changed: re-check protocols/mqtt/raw-publish.ts').toBe(PINNED_MQTT);
  });

  it('raw QoS 1 packets get PUBACKs by id, beside mqtt.js publishes, without errors', async () => {
    const acked: number[] = [];
    const ours = new Map<number, number>();
    // What mqtt.js itself parsed: the PUBACKs of ours were taken out before it.
    const seenByMqttJs: number[] = [];
    client.on('packetreceive', (p) => {
      if (p.cmd === 'puback') seenByMqttJs.push(p.messageId!);
    });
    takePubacks(client, (id, reason) => {
      expect(reason).toBeLessThan(0x80);
      acked.push(id);
      return ours.has(id);
    });
    const received: string[] = [];
    watcher.on('message', (topic, payload) => received.push(`${topic}=${payload.toString()}`));
    const batch = new PublishBatch<number>();
    let order: string[] = [];
    beforeClientWrite(client, () => order.push('mqtt.js write'));
    for (let n = 0; n < 500; n++) {
      const id = allocatePacketId(client, ours);
      expect(ours.has(id)).toBe(false);
      ours.set(id, n);
      expect(batch.add(n, 'raw/ours', String(n), true, id)).toBe(true);
    }
    clientSocket(client)!.write(batch.take().bytes);
    order = [];
    // An mqtt.js publish in between: its id must not be one of ours still awaiting PUBACK.
    const own = client.publishAsync('raw/theirs', 'x', { qos: 1 });
    expect(order).toEqual(['mqtt.js write']);
    const ownId = client.messageIdProvider.getLastAllocated();
    expect(ours.has(ownId!)).toBe(false);
    await own;
    // takePubacks sees every PUBACK, mqtt.js's own among them; mqtt.js parsed only its own.
    await waitFor('all acknowledged', () => acked.length >= 501);
    expect(new Set(acked)).toEqual(new Set([...ours.keys(), ownId]));
    expect(seenByMqttJs).toEqual([ownId]);
    await waitFor('all received', () => received.length >= 501);
    expect(received.filter((r) => r.startsWith('raw/ours='))).toEqual(
      Array.from({ length: 500 }, (_, n) => `raw/ours=${n}`),
    );
    // mqtt.js ignored the PUBACKs it did not send, quietly.
    expect(errors).toEqual([]);
  });

  it('dropPendingPublishes empties what mqtt.js would resend', async () => {
    const paused = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    // Unacknowledged while the broker does not answer: SIGSTOP-free, by never reading the socket.
    (paused.stream as unknown as { pause: () => void }).pause();
    paused.publish('raw/pending', 'x', { qos: 1 });
    expect(Object.keys(paused.outgoing).length).toBe(1);
    dropPendingPublishes(paused);
    expect(Object.keys(paused.outgoing)).toEqual([]);
    await paused.endAsync(true);
  });
});
