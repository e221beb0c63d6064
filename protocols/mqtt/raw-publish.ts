import type { MqttClient } from 'mqtt';
import { PubackFilter } from './puback-filter.js';

/**
 * The agent's fast publish path, and the one place that touches mqtt.js 5.x beyond its
 * documented API (pinned by `raw-publish.test.ts` against a real Mosquitto):
 * - PUBLISH packets are encoded here and written to `client.stream` in one write per batch.
 *   mqtt.js spends several microseconds per publish (packet object, debug calls, four stream
 *   writes, a nextTick, a store entry): at 100,000 per-tag messages a second that alone is more
 *   than the agent's CPU budget, and at QoS 1 it falls behind.
 * - QoS 1 packet ids come from the client's `messageIdProvider`, skipping ids mqtt.js or we
 *   still wait on; successful PUBACKs of ours are taken out of the socket's bytes before mqtt.js
 *   parses them, the rest come from its `packetreceive` event. mqtt.js ignores a PUBACK whose id
 *   it did not send (handlers/ack.ts: "Server sent an ack in error. Ignoring.").
 * - `packetsend` fires just before mqtt.js writes a packet of its own: a pending batch goes
 *   first, so the socket carries packets in the order they were published.
 * - `client.outgoing` and `removeOutgoingMessage`: what mqtt.js would resend on reconnect.
 */

/** Bytes per socket write: packets are coalesced up to about this, at least one write per tick. */
const BATCH_BYTES = 64 * 1024;
/** Encoded topics kept; a node has one per tag or asset, so this is never reached. */
const TOPIC_CACHE = 65_536;

/**
 * PUBLISH packets (no retain, no properties) for one socket write, with the caller's entry per
 * packet. Whole packets only, so a write never splits one of mqtt.js's.
 */
export class PublishBatch<E> {
  entries: E[] = [];
  bytes = 0;
  /** The connection the batch was encoded for; it is dropped, unsent, if that one is gone. */
  connection = -1;
  scheduled = false;
  private buf = Buffer.allocUnsafe(BATCH_BYTES);
  /** Topic → its length prefix and UTF-8 bytes: the same topics recur every poll. */
  private readonly topics = new Map<string, Buffer>();

  /**
   * Appends one PUBLISH packet, QoS 1 when `packetId` is given, else QoS 0; false when it does
   * not fit (write the batch first).
   */
  add(entry: E, topic: string, payload: string | Buffer, v5: boolean, packetId = 0): boolean {
    const topicBytes = this.topic(topic);
    const payloadLen = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const remaining = topicBytes.length + (packetId ? 2 : 0) + (v5 ? 1 : 0) + payloadLen;
    const size = 1 + varintSize(remaining) + remaining;
    if (this.bytes + size > this.buf.length) {
      if (this.bytes > 0) return false;
      this.buf = Buffer.allocUnsafe(size);
    }
    const buf = this.buf;
    let o = this.bytes;
    buf[o++] = packetId ? 0x32 : 0x30;
    let n = remaining;
    do {
      const digit = n % 128;
      n = Math.floor(n / 128);
      buf[o++] = n > 0 ? digit | 128 : digit;
    } while (n > 0);
    buf.set(topicBytes, o);
    o += topicBytes.length;
    if (packetId) {
      buf[o++] = packetId >> 8;
      buf[o++] = packetId & 0xff;
    }
    if (v5) buf[o++] = 0; // property length
    if (typeof payload === 'string') o += buf.write(payload, o, 'utf8');
    else o += payload.copy(buf, o);
    this.bytes = o;
    this.entries.push(entry);
    return true;
  }

  private topic(topic: string): Buffer {
    let bytes = this.topics.get(topic);
    if (bytes) return bytes;
    const length = Buffer.byteLength(topic);
    // Topics are built from validated config names; MQTT caps them at 65,535 bytes.
    if (length > 0xffff)
      throw new Error(`MQTT topic longer than 65535 bytes: ${topic.slice(0, 80)}…`);
    bytes = Buffer.allocUnsafe(2 + length);
    bytes.writeUInt16BE(length, 0);
    bytes.write(topic, 2, 'utf8');
    if (this.topics.size >= TOPIC_CACHE) this.topics.clear();
    this.topics.set(topic, bytes);
    return bytes;
  }

  /** The encoded bytes and their entries; the batch starts empty again. */
  take(): { bytes: Buffer; entries: E[] } {
    const used = this.buf.subarray(0, this.bytes);
    // The socket keeps what it is given until written: a small batch is copied out and the
    // buffer reused; a large one is handed over.
    const small = this.bytes <= BATCH_BYTES / 8 && this.buf.length === BATCH_BYTES;
    const out = { bytes: small ? Buffer.from(used) : used, entries: this.entries };
    if (!small) this.buf = Buffer.allocUnsafe(BATCH_BYTES);
    this.bytes = 0;
    this.entries = [];
    return out;
  }
}

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/**
 * QoS 1 packets in flight at once on the raw path, at most. mqtt.js's default id provider hands
 * out ids in sequence and never checks them; the broker acknowledges in order, so an id of ours
 * is reused by mqtt.js only after 65,535 newer ones, impossible below this window.
 */
export const MAX_RAW_INFLIGHT = 32_768;

/** The socket mqtt.js writes to, while it is open. */
export function clientSocket(client: MqttClient): NodeJS.WritableStream | undefined {
  const stream = client.stream as (NodeJS.WritableStream & { writable?: boolean }) | undefined;
  return stream && stream.writable !== false ? stream : undefined;
}

/** A QoS 1 packet id neither mqtt.js nor the caller (`ours`) is waiting on. */
export function allocatePacketId(client: MqttClient, ours: ReadonlyMap<number, unknown>): number {
  for (;;) {
    const id = client.messageIdProvider.allocate();
    if (id !== null && !ours.has(id) && !client.outgoing[id]) return id;
  }
}

/**
 * Hands every PUBACK of the client's connections to `take`, with its reason code (0 = success);
 * `take` returns whether the id was one of the caller's. Successful PUBACKs the caller claims are
 * taken out of the socket's bytes before mqtt.js parses them (`puback-filter.ts`): Node streams
 * deliver a socket's chunks through `emit('data')`, which mqtt.js's pipe listens to, so the
 * filter wraps that one method of each new socket. The rest (refusals, PUBACKs with properties,
 * mqtt.js's own) reach mqtt.js, and `take` sees them through its `packetreceive` event.
 */
export function takePubacks(
  client: MqttClient,
  take: (packetId: number, reasonCode: number) => boolean,
): void {
  const filtered = new WeakSet<object>();
  const install = () => {
    const stream = client.stream as (NodeJS.ReadableStream & object) | undefined;
    if (!stream || filtered.has(stream)) return;
    filtered.add(stream);
    const filter = new PubackFilter((id) => take(id, 0));
    const emit = stream.emit;
    stream.emit = function (this: typeof stream, event: string | symbol, ...args: unknown[]) {
      if (event !== 'data' || !Buffer.isBuffer(args[0])) return emit.call(this, event, ...args);
      const rest = filter.push(args[0]);
      return rest ? emit.call(this, event, rest) : true;
    } as typeof stream.emit;
  };
  // A connection's first PUBACK of ours follows its CONNACK: installing on 'connect' is early
  // enough, and mqtt.js builds a new socket for every reconnect.
  client.on('connect', install);
  install();
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback') take(packet.messageId ?? 0, packet.reasonCode ?? 0);
  });
}

/** Calls `listener` just before mqtt.js writes a packet of its own. */
export function beforeClientWrite(client: MqttClient, listener: () => void): void {
  client.on('packetsend', listener);
}

/**
 * Forgets mqtt.js's unacknowledged publishes: it would resend them ahead of everything on
 * reconnect, and the caller replays them itself, in order.
 */
export function dropPendingPublishes(client: MqttClient): void {
  for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(+id);
}
