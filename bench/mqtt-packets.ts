/** MQTT 3.1.1 encoding and a QoS 1 publisher for the benches' raw clients, which cost less than mqtt.js. */
import { connect, type Socket } from 'node:net';
import { readRemainingLength, type RemainingLength } from '../protocols/mqtt/remaining-length.js';

/** A UTF-8 string with its two-byte length. */
export function mqttString(s: string): Buffer {
  const b = Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A packet: the first header byte, the variable-length remaining length, `body`. */
export function mqttPacket(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 128;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

/**
 * Splits a byte stream into MQTT packets: `push` each chunk as it arrives; `onPacket` gets each
 * whole packet's first header byte and where its body lies in `buf`. A packet cut between chunks
 * waits for the rest.
 */
export class MqttFramer {
  private rest?: Buffer;
  private readonly header: RemainingLength = { length: 0, bodyAt: 0 };

  constructor(
    private readonly onPacket: (first: number, buf: Buffer, from: number, to: number) => void,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const header = this.header;
    let at = 0;
    while (at < buf.length) {
      const state = readRemainingLength(buf, at, header);
      if (state === 'malformed') throw new Error('malformed MQTT remaining length from the broker');
      const end = header.bodyAt + header.length;
      if (state === 'cut' || end > buf.length) break;
      this.onPacket(buf[at]!, buf, header.bodyAt, end);
      at = end;
    }
    this.rest = at < buf.length ? Buffer.from(buf.subarray(at)) : undefined;
  }
}

/** One QoS 1 PUBLISH packet. */
function publishPacket(topic: string, payload: Buffer | string, id: number): Buffer {
  const t = mqttString(topic);
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const pid = Buffer.from([id >> 8, id & 255]);
  return mqttPacket(0x32, Buffer.concat([t, pid, p]));
}

export interface Message {
  topic: string;
  payload: Buffer | string;
  points: number;
}

/**
 * A minimal MQTT 3.1.1 QoS 1 publisher: writes packets in chunks, keeps at most `window`
 * unacknowledged, and counts PUBACKs.
 */
export class Publisher {
  acked = 0;
  private sent = 0;
  private wake?: () => void;
  private connacked?: () => void;
  private readonly frames = new MqttFramer((first) => {
    if (first >> 4 === 2) this.connacked?.();
    if (first >> 4 === 4) this.acked += 1;
  });

  private constructor(
    private readonly socket: Socket,
    private readonly window: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
  }

  static async connect(port: number, id: string, window: number): Promise<Publisher> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const p = new Publisher(socket, window);
    const ok = new Promise<void>((resolve) => (p.connacked = resolve));
    socket.write(
      mqttPacket(
        0x10,
        Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0x02, 0, 0]), mqttString(id)]),
      ),
    );
    await ok;
    return p;
  }

  /** Publishes every message of `next` (called until it returns undefined); resolves when all are acknowledged. */
  async publish(next: () => Message | undefined): Promise<void> {
    for (;;) {
      while (this.sent - this.acked >= this.window)
        await new Promise<void>((resolve) => (this.wake = resolve));
      const room = Math.min(this.window - (this.sent - this.acked), 500);
      const packets: Buffer[] = [];
      let done = false;
      for (let i = 0; i < room; i++) {
        const m = next();
        if (!m) {
          done = true;
          break;
        }
        this.sent += 1;
        packets.push(publishPacket(m.topic, m.payload, ((this.sent - 1) % 65535) + 1));
      }
      if (packets.length > 0 && !this.socket.write(Buffer.concat(packets)))
        await new Promise<void>((resolve) => this.socket.once('drain', () => resolve()));
      if (done) break;
    }
    while (this.acked < this.sent) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  close(): void {
    this.socket.end(Buffer.from([0xe0, 0]));
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.frames.push(chunk);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
