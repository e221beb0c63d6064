import type { MqttClient, Packet } from 'mqtt';

/**
 * The mqtt.js 5.x internals behind holding PUBACKs until a message's points are durable (the
 * gateway's `AckGate`), beside `raw-publish.ts`, which holds those of the agent's fast publish
 * path. Read in this version; `client-internals.test.ts` runs them against a real Mosquitto and
 * fails when an upgrade moves them. On an upgrade: re-read mqtt's client.ts (`_sendPacket`) and
 * handlers/publish.ts, rerun that test, then move this.
 */
export const VERIFIED_MQTT = '5.16.0';

/** A PUBACK packet as mqtt.js makes it. */
export type PubackPacket = Extract<Packet, { cmd: 'puback' }>;

export type SentCallback = (err?: Error) => void;

/** mqtt.js's own way to send a packet (its private `_sendPacket`, bound to the client). */
export type SendPacket = (packet: Packet, cb?: SentCallback, ...rest: unknown[]) => void;

/**
 * Puts `intercept` in front of every packet mqtt.js sends of its own (its private
 * `_sendPacket`): when it returns true it has taken the packet over, else the packet goes out as
 * usual. Returns mqtt.js's send, to send a held packet later. A packet taken over must have its
 * `cb` called at some point: mqtt.js reads the next incoming packet only after the PUBACK of the
 * last one is "sent". Throws when mqtt.js has no `_sendPacket`.
 */
export function interceptSentPackets(
  client: MqttClient,
  intercept: (packet: Packet, cb: SentCallback | undefined) => boolean,
): SendPacket {
  const target = client as unknown as { _sendPacket?: SendPacket };
  const original = target._sendPacket;
  if (typeof original !== 'function')
    throw new Error(
      'this mqtt.js has no _sendPacket, so the gateway cannot hold PUBACKs until points are durable; use mqtt 5.x',
    );
  const send: SendPacket = original.bind(client);
  target._sendPacket = (packet, cb, ...rest) => {
    if (intercept(packet, cb)) return;
    send(packet, cb, ...rest);
  };
  return send;
}

/** A PUBACK mqtt.js made that is the 4 plain bytes: success, no properties (MQTT 3.1.1 or 5). */
export function isPlainPuback(packet: PubackPacket): boolean {
  return !('properties' in packet || ('reasonCode' in packet && packet.reasonCode));
}

/**
 * Writes plain PUBACKs for `ids` to the client's socket in one write, past mqtt.js: through
 * mqtt.js each is several small writes, and a batch of thousands queued that way held over
 * 100 MB in the socket's buffer.
 */
export function writePlainPubacks(client: MqttClient, ids: readonly number[]): void {
  if (ids.length === 0) return;
  const bytes = Buffer.allocUnsafe(ids.length * 4);
  let o = 0;
  for (const id of ids) {
    // PUBACK, remaining length 2, packet id: success in MQTT 3.1.1 and 5 alike.
    bytes[o] = 0x40;
    bytes[o + 1] = 2;
    bytes.writeUInt16BE(id, o + 2);
    o += 4;
  }
  client.stream.write(bytes);
}
