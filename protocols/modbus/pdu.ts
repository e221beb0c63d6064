/**
 * Modbus application protocol (PDU) and Modbus TCP framing (MBAP), as pure functions. The
 * simulator's server decodes requests and encodes responses with these; nothing here does I/O.
 */
import { AREAS, type Area } from './address.js';

/** Exception codes of the Modbus application protocol spec, section 7. */
export const ExceptionCode = {
  IllegalFunction: 1,
  IllegalDataAddress: 2,
  IllegalDataValue: 3,
  ServerDeviceFailure: 4,
  ServerDeviceBusy: 6,
  GatewayPathUnavailable: 10,
  GatewayTargetFailed: 11,
} as const;

export const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  6: 'server device busy',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export class ModbusException extends Error {
  override name = 'ModbusException';
  constructor(readonly code: number) {
    super(`Modbus exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown'})`);
  }
}

export type Request =
  | { kind: 'read'; fc: number; area: Area; start: number; count: number }
  | { kind: 'write-bits'; fc: 5 | 15; start: number; values: boolean[] }
  | { kind: 'write-registers'; fc: 6 | 16; start: number; values: number[] };

const READ_AREAS: Record<number, Area> = { 1: 'coil', 2: 'di', 3: 'hr', 4: 'ir' };

/** Decodes a request PDU; throws ModbusException with the code the server must answer with. */
export function decodeRequest(pdu: Buffer): Request {
  const fc = pdu[0] ?? 0;
  const need = (n: number) => {
    if (pdu.length < n) throw new ModbusException(ExceptionCode.IllegalDataValue);
  };
  const area = READ_AREAS[fc];
  if (area) {
    need(5);
    const start = pdu.readUInt16BE(1);
    const count = pdu.readUInt16BE(3);
    if (count < 1 || count > AREAS[area].maxPerRead)
      throw new ModbusException(ExceptionCode.IllegalDataValue);
    if (start + count > 65536) throw new ModbusException(ExceptionCode.IllegalDataAddress);
    return { kind: 'read', fc, area, start, count };
  }
  if (fc === 5) {
    need(5);
    const raw = pdu.readUInt16BE(3);
    if (raw !== 0xff00 && raw !== 0x0000) throw new ModbusException(ExceptionCode.IllegalDataValue);
    return { kind: 'write-bits', fc, start: pdu.readUInt16BE(1), values: [raw === 0xff00] };
  }
  if (fc === 6) {
    need(5);
    return {
      kind: 'write-registers',
      fc,
      start: pdu.readUInt16BE(1),
      values: [pdu.readUInt16BE(3)],
    };
  }
  if (fc === 15 || fc === 16) {
    need(6);
    const start = pdu.readUInt16BE(1);
    const count = pdu.readUInt16BE(3);
    const bytes = pdu[5] ?? 0;
    const max = fc === 15 ? 1968 : 123;
    const expectBytes = fc === 15 ? Math.ceil(count / 8) : count * 2;
    if (count < 1 || count > max || bytes !== expectBytes)
      throw new ModbusException(ExceptionCode.IllegalDataValue);
    need(6 + bytes);
    if (fc === 15) {
      const values = Array.from(
        { length: count },
        (_, i) => (((pdu[6 + (i >> 3)] ?? 0) >> (i & 7)) & 1) === 1,
      );
      return { kind: 'write-bits', fc, start, values };
    }
    const values = Array.from({ length: count }, (_, i) => pdu.readUInt16BE(6 + i * 2));
    return { kind: 'write-registers', fc, start, values };
  }
  throw new ModbusException(ExceptionCode.IllegalFunction);
}

export function encodeBitsResponse(fc: number, values: readonly boolean[]): Buffer {
  const bytes = Math.ceil(values.length / 8);
  const out = Buffer.alloc(2 + bytes);
  out[0] = fc;
  out[1] = bytes;
  values.forEach((v, i) => {
    if (v) out[2 + (i >> 3)]! |= 1 << (i & 7);
  });
  return out;
}

export function encodeRegistersResponse(fc: number, values: readonly number[]): Buffer {
  const out = Buffer.alloc(2 + values.length * 2);
  out[0] = fc;
  out[1] = values.length * 2;
  values.forEach((v, i) => out.writeUInt16BE(v & 0xffff, 2 + i * 2));
  return out;
}

/** Response to a write: FC5/6 echo the request; FC15/16 answer start and count. */
export function encodeWriteResponse(
  request: Request & { kind: 'write-bits' | 'write-registers' },
): Buffer {
  const out = Buffer.alloc(5);
  out[0] = request.fc;
  out.writeUInt16BE(request.start, 1);
  if (request.fc === 5) out.writeUInt16BE(request.values[0] ? 0xff00 : 0, 3);
  else if (request.fc === 6) out.writeUInt16BE(request.values[0] as number, 3);
  else out.writeUInt16BE(request.values.length, 3);
  return out;
}

export function encodeException(fc: number, code: number): Buffer {
  return Buffer.from([fc | 0x80, code]);
}

export interface TcpFrame {
  transactionId: number;
  unitId: number;
  pdu: Buffer;
}

export class FramingError extends Error {
  override name = 'FramingError';
}

/**
 * Splits a TCP byte stream into MBAP frames. Returns the complete frames and the bytes left
 * over for the next chunk. A header that cannot be Modbus TCP throws: the stream is out of
 * step and the connection must be closed, as the spec requires for a bad protocol id.
 */
export function splitTcpFrames(buffer: Buffer): { frames: TcpFrame[]; rest: Buffer } {
  const frames: TcpFrame[] = [];
  let at = 0;
  while (buffer.length - at >= 7) {
    const protocolId = buffer.readUInt16BE(at + 2);
    const length = buffer.readUInt16BE(at + 4);
    if (protocolId !== 0) throw new FramingError(`protocol id ${protocolId} is not 0 (Modbus)`);
    if (length < 2 || length > 254) throw new FramingError(`MBAP length ${length} outside 2..254`);
    if (buffer.length - at < 6 + length) break;
    frames.push({
      transactionId: buffer.readUInt16BE(at),
      unitId: buffer[at + 6]!,
      pdu: buffer.subarray(at + 7, at + 6 + length),
    });
    at += 6 + length;
  }
  return { frames, rest: buffer.subarray(at) };
}

export function encodeTcpFrame(transactionId: number, unitId: number, pdu: Buffer): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt16BE(transactionId, 0);
  header.writeUInt16BE(0, 2);
  header.writeUInt16BE(pdu.length + 1, 4);
  header[6] = unitId;
  return Buffer.concat([header, pdu]);
}
