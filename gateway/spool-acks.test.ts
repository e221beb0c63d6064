import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Service } from '../test/support/services.js';
import { waitFor } from '../test/support/wait.js';
import { AckGate, type AckTicket } from './spool-acks.js';

let mosquitto: Service;
let publisher: MqttClient;

beforeAll(async () => {
  mosquitto = await startMosquitto({ maxQueuedMessages: 10_000 });
  publisher = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5 });
});

afterAll(async () => {
  await publisher?.endAsync();
  await mosquitto?.stop();
});

interface Subscriber {
  client: MqttClient;
  gate: AckGate;
  received: IPublishPacket[];
  tickets: AckTicket[];
}

/** A gateway-like subscriber: persistent session, small receive window, PUBACKs held by AckGate. */
async function subscriber(
  clientId: string,
  topic: string,
  hold = true,
  readMore?: () => boolean,
): Promise<Subscriber> {
  const client = mqtt.connect(mosquitto.url, {
    protocolVersion: 5,
    clientId,
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 300, receiveMaximum: 10 },
  });
  const gate = new AckGate(client, readMore);
  const received: IPublishPacket[] = [];
  const tickets: AckTicket[] = [];
  client.on('message', (_topic, _payload, packet) => {
    received.push(packet);
    const ticket = gate.begin(packet);
    if (!ticket) return;
    if (hold) tickets.push(ticket);
    // Durable before mqtt.js makes the PUBACK: it goes straight through.
    else gate.release([ticket]);
  });
  await new Promise((resolve) => client.once('connect', resolve));
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, gate, received, tickets };
}

const settle = () => new Promise((r) => setTimeout(r, 300));

describe('AckGate (mqtt.js PUBACKs held until the points are durable), on a real Mosquitto', () => {
  it('holds PUBACKs until tickets are released: the broker stops at its window, mqtt.js does not stall', async () => {
    const sub = await subscriber('ackgate-window', 'ackgate/window/#');
    for (let i = 0; i < 35; i++)
      await publisher.publishAsync('ackgate/window/x', String(i), { qos: 1 });
    await waitFor('a full window', () => sub.received.length === 10);
    await settle();
    // Nothing acknowledged, so the broker (Receive Maximum 10) sends nothing more.
    expect(sub.received.length).toBe(10);
    expect(sub.gate.stats).toMatchObject({ held: 10, acked: 0 });
    // Mosquitto 2.0.11 stops counting the window once PUBACKs flow (it then sends everything it
    // queued), so the gateway bounds its memory itself (AckGate's readMore), not by this window.
    while (sub.received.length < 35) {
      sub.gate.release(sub.tickets.splice(0));
      await settle();
    }
    sub.gate.release(sub.tickets.splice(0));
    expect(sub.received.map((p) => p.payload.toString())).toEqual(
      Array.from({ length: 35 }, (_, i) => String(i)),
    );
    expect(sub.gate.stats).toMatchObject({ held: 0, acked: 35, redelivered: 0 });
    await sub.client.endAsync();
  });

  it('stops reading while readMore says no, and reads on when released tickets make room', async () => {
    let room = true;
    const sub = await subscriber('ackgate-pause', 'ackgate/pause/#', true, () => room);
    // With PUBACKs flowing Mosquitto sends past its window: only the gate can stop the flood.
    for (let i = 0; i < 5; i++)
      await publisher.publishAsync('ackgate/pause/x', String(i), { qos: 1 });
    await waitFor('the first five', () => sub.received.length === 5);
    sub.gate.release(sub.tickets.splice(0));
    room = false;
    for (let i = 5; i < 2000; i++) publisher.publish('ackgate/pause/x', String(i), { qos: 1 });
    await settle();
    // One more message is read (its PUBACK is the one that stops reading), then nothing.
    expect(sub.received.length).toBe(6);
    await settle();
    expect(sub.received.length).toBe(6);
    room = true;
    sub.gate.release(sub.tickets.splice(0));
    await waitFor('the rest, once there is room', () => {
      sub.gate.release(sub.tickets.splice(0));
      return sub.received.length === 2000;
    });
    expect(sub.received.map((p) => p.payload.toString())).toEqual(
      Array.from({ length: 2000 }, (_, i) => String(i)),
    );
    await sub.client.endAsync();
  });

  it('lets a PUBACK through at once when the ticket is durable before mqtt.js makes it', async () => {
    const sub = await subscriber('ackgate-pass', 'ackgate/pass/#', false);
    for (let i = 0; i < 50; i++) publisher.publish('ackgate/pass/x', String(i), { qos: 1 });
    await waitFor('all 50 with no window stall', () => sub.received.length === 50, 5000);
    expect(sub.gate.stats).toMatchObject({ held: 0, acked: 50 });
    await sub.client.endAsync();
  });

  it('has the broker redeliver what was not acknowledged when the connection dies (kill -9)', async () => {
    const first = await subscriber('ackgate-crash', 'ackgate/crash/#');
    for (let i = 0; i < 6; i++)
      await publisher.publishAsync('ackgate/crash/x', String(i), { qos: 1 });
    await waitFor('six held', () => first.received.length === 6);
    first.gate.release(first.tickets.splice(0, 2));
    await settle();
    // The socket dies as it would with the process; the four held PUBACKs never go out.
    first.client.stream.destroy();
    await waitFor('the close seen', () => first.gate.stats.redelivered === 4);
    // Released after the connection is gone: their PUBACK would be invalid on a new one.
    first.gate.release(first.tickets.splice(0));
    first.client.end(true);
    // Published while no gateway is connected: the persistent session queues them.
    for (let i = 6; i < 9; i++)
      await publisher.publishAsync('ackgate/crash/x', String(i), { qos: 1 });

    const second = await subscriber('ackgate-crash', 'ackgate/crash/#', false);
    await waitFor('the four redelivered and the three queued', () => second.received.length === 7);
    expect(second.received.map((p) => p.payload.toString())).toEqual([
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
    ]);
    expect(second.received.slice(0, 4).every((p) => p.dup)).toBe(true);
    await second.client.endAsync();
  });
});
