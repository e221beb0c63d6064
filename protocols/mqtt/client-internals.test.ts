import { readFileSync } from 'node:fs';
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Service } from '../../test/support/services.js';
import { waitFor } from '../../test/support/wait.js';
import {
  interceptSentPackets,
  isPlainPuback,
  VERIFIED_MQTT,
  writePlainPubacks,
  type PubackPacket,
  type SentCallback,
} from './client-internals.js';

const MQTT = (
  JSON.parse(
    readFileSync(new URL('../../node_modules/mqtt/package.json', import.meta.url), 'utf8'),
  ) as { version: string }
).version;

let broker: Service;
let publisher: MqttClient;

beforeAll(async () => {
  broker = await startMosquitto();
  publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
});

afterAll(async () => {
  await publisher?.endAsync();
  await broker?.stop();
});

describe(`mqtt.js ${MQTT} internals (protocols/mqtt/client-internals.ts verified against ${VERIFIED_MQTT}), against a real Mosquitto`, () => {
  it('runs on the version the adapter was verified against', () => {
    // An upgrade stops here first: re-read mqtt's client.ts (_sendPacket) and
    // handlers/publish.ts, rerun this file, then move VERIFIED_MQTT.
    expect(MQTT, 'mqtt changed: re-check protocols/mqtt/client-internals.ts').toBe(VERIFIED_MQTT);
  });

  it.each([4, 5] as const)(
    'MQTT %i: a PUBACK taken over holds the broker back until written as plain bytes',
    async (protocolVersion) => {
      const topic = `ci/held/${protocolVersion}`;
      const client = mqtt.connect(broker.url, {
        protocolVersion,
        reconnectPeriod: 0,
        // One message in flight: the next comes only after the broker has the PUBACK.
        ...(protocolVersion === 5 ? { properties: { receiveMaximum: 1 } } : {}),
      });
      const sent: Packet[] = [];
      const held: { puback: PubackPacket; cb: SentCallback | undefined }[] = [];
      let hold = true;
      interceptSentPackets(client, (packet, cb) => {
        sent.push(packet);
        if (packet.cmd !== 'puback' || !hold) return false;
        held.push({ puback: packet, cb });
        // mqtt.js reads the next packet once told its PUBACK went out.
        cb?.();
        return true;
      });
      const received: IPublishPacket[] = [];
      client.on('message', (_t, _p, packet) => received.push(packet));
      await new Promise((resolve) => client.once('connect', resolve));
      await client.subscribeAsync(topic, { qos: 1 });
      // mqtt.js's own packets pass through the interceptor.
      expect(sent.map((p) => p.cmd)).toContain('subscribe');

      await publisher.publishAsync(topic, 'a', { qos: 1 });
      await waitFor('PUBACK of a taken over', () => held.length === 1);
      expect(received.map((p) => String(p.payload))).toEqual(['a']);
      const { puback } = held[0]!;
      expect(puback.messageId).toBe(received[0]!.messageId);
      // mqtt.js's PUBACK for a successful message is the 4 plain bytes.
      expect(isPlainPuback(puback)).toBe(true);

      if (protocolVersion === 5) {
        // The broker waits for the PUBACK of a before sending b.
        const b = publisher.publishAsync(topic, 'b', { qos: 1 });
        await new Promise((r) => setTimeout(r, 300));
        expect(received.map((p) => String(p.payload))).toEqual(['a']);
        hold = false;
        writePlainPubacks(client, [puback.messageId!]);
        await waitFor('b after the plain PUBACK', () => received.length === 2);
        expect(String(received[1]!.payload)).toBe('b');
        await b;
      } else {
        hold = false;
        writePlainPubacks(client, [puback.messageId!]);
      }
      // Mosquitto took the bytes as a PUBACK: the connection stays up and carries on.
      await publisher.publishAsync(topic, 'c', { qos: 1 });
      await waitFor('c', () => received.some((p) => String(p.payload) === 'c'));
      expect(client.connected).toBe(true);
      await client.endAsync();
    },
  );

  it.each([
    { puback: { cmd: 'puback', messageId: 1 }, plain: true },
    { puback: { cmd: 'puback', messageId: 1, reasonCode: 0 }, plain: true },
    { puback: { cmd: 'puback', messageId: 1, reasonCode: 0x10 }, plain: false },
    { puback: { cmd: 'puback', messageId: 1, properties: { reasonString: 'x' } }, plain: false },
  ] as const)('isPlainPuback($puback) is $plain', ({ puback, plain }) => {
    expect(isPlainPuback(puback as PubackPacket)).toBe(plain);
  });

  it('writePlainPubacks writes every id in one socket write', () => {
    const writes: Buffer[] = [];
    const client = { stream: { write: (b: Buffer) => writes.push(Buffer.from(b)) } };
    writePlainPubacks(client as unknown as MqttClient, [1, 0x1234, 65535]);
    writePlainPubacks(client as unknown as MqttClient, []);
    expect(writes.map((b) => b.toString('hex'))).toEqual(['40020001' + '40021234' + '4002ffff']);
  });

  it('fails loudly when mqtt.js has no _sendPacket', () => {
    expect(() => interceptSentPackets({} as MqttClient, () => false)).toThrow(/_sendPacket/);
  });
});
