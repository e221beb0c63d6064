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
