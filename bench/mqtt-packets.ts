/** MQTT 3.1.1 encoding for the benches' raw clients, which cost less than mqtt.js. */

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

  constructor(
    private readonly onPacket: (first: number, buf: Buffer, from: number, to: number) => void,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 2) {
      let len = 0;
      let mul = 1;
      let i = at + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < buf.length; k++) {
        const b = buf[i++]!;
        len += (b & 127) * mul;
        mul *= 128;
        if (b < 128) {
          complete = true;
          break;
        }
      }
      if (!complete || buf.length - i < len) break;
      this.onPacket(buf[at]!, buf, i, i + len);
      at = i + len;
    }
    this.rest = at < buf.length ? Buffer.from(buf.subarray(at)) : undefined;
  }
}
