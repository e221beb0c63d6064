/**
 * Modbus RTU framing (serial line, or RTU frames tunnelled over TCP): address byte, PDU,
 * CRC-16/MODBUS low byte first. Pure functions; the simulators' RTU server uses them.
 */

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[i] = c;
  }
  return table;
})();

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

export function encodeRtuFrame(unitId: number, pdu: Buffer): Buffer {
  const frame = Buffer.alloc(pdu.length + 3);
  frame[0] = unitId;
  pdu.copy(frame, 1);
  frame.writeUInt16LE(crc16(frame, 0, pdu.length + 1), pdu.length + 1);
  return frame;
}

/**
 * Length of the request frame at the start of `buf`, from its function code, or undefined
 * when more bytes are needed to tell. Unknown function codes return 0: the caller resyncs.
 */
export function rtuRequestLength(buf: Buffer): number | undefined {
  if (buf.length < 2) return undefined;
  const fc = buf[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length < 7 ? undefined : 9 + buf[6]!;
  return 0;
}

export interface RtuFrame {
  unitId: number;
  pdu: Buffer;
}

/**
 * Splits a serial byte stream into request frames. Bytes that do not start a frame with a
 * valid CRC are skipped one at a time (counted in `skipped`), which resynchronises after noise.
 */
export function splitRtuRequests(buffer: Buffer): {
  frames: RtuFrame[];
  rest: Buffer;
  skipped: number;
} {
  const frames: RtuFrame[] = [];
  let at = 0;
  let skipped = 0;
  while (buffer.length - at >= 4) {
    const view = buffer.subarray(at);
    const length = rtuRequestLength(view);
    if (length === undefined) break;
    if (length === 0 || length > 256) {
      at += 1;
      skipped += 1;
      continue;
    }
    if (view.length < length) break;
    if (crc16(view, 0, length - 2) !== view.readUInt16LE(length - 2)) {
      at += 1;
      skipped += 1;
      continue;
    }
    frames.push({ unitId: view[0]!, pdu: Buffer.from(view.subarray(1, length - 2)) });
    at += length;
  }
  return { frames, rest: buffer.subarray(at), skipped };
}
