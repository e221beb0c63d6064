/**
 * Conversions between 16-bit Modbus registers and typed values. Pure functions shared by the
 * client (decode reads, encode writes) and the simulators.
 *
 * Byte orders name where the value's bytes A (most significant) … sit on the wire, register by
 * register, each register high byte first: ABCD is big-endian (the Modbus convention), DCBA
 * little-endian, BADC swaps the bytes of each register, CDAB swaps the registers (word swap).
 * The same rule extends to 64-bit values (ABCDEFGH) and, for strings, only the byte swap applies.
 */
export const NUMERIC_TYPES = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float32',
  'float64',
] as const;
export type NumericType = (typeof NUMERIC_TYPES)[number];
export type DataType = NumericType | 'bool' | 'string';
export const BYTE_ORDERS = ['ABCD', 'DCBA', 'BADC', 'CDAB'] as const;
export type ByteOrder = (typeof BYTE_ORDERS)[number];

/** How a tag's value is laid out in registers. */
export interface ValueFormat {
  type: DataType;
  order: ByteOrder;
  /** Characters of a string (two per register). */
  length?: number;
  /** Bit 0 (least significant) … 15 of a register, for `bool` tags on registers. */
  bit?: number;
}

const WIDTH: Record<NumericType, number> = {
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float32: 4,
  float64: 8,
};

const INTEGER_RANGE: Partial<Record<NumericType, [number, number]>> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

export class CodecError extends Error {
  override name = 'CodecError';
}

/** Parses a type name: `float32`, `bool`, `string(16)` (16 characters). */
export function parseDataType(text: string): { type: DataType; length?: number } {
  const m = /^string\((\d{1,3})\)$/.exec(text);
  if (m) {
    const length = Number(m[1]);
    if (length < 1 || length > 246)
      throw new CodecError(`string length ${length} must be 1..246 characters (123 registers)`);
    return { type: 'string', length };
  }
  if (text === 'bool' || (NUMERIC_TYPES as readonly string[]).includes(text))
    return { type: text as DataType };
  throw new CodecError(
    `"${text}" is not a data type; expected one of bool, ${NUMERIC_TYPES.join(', ')}, string(N)`,
  );
}

export function isDataTypeName(text: string): boolean {
  try {
    parseDataType(text);
    return true;
  } catch {
    return false;
  }
}

export const DATA_TYPE_NAMES = `bool, ${NUMERIC_TYPES.join(', ')}, string(N)`;

/** Registers a value occupies. */
export function registerCount(format: ValueFormat): number {
  if (format.type === 'bool') return 1;
  if (format.type === 'string') return Math.ceil((format.length ?? 2) / 2);
  return WIDTH[format.type] / 2;
}

const scratch = Buffer.alloc(8);

/** Index of the wire byte that holds canonical (big-endian) byte `i` of a `width`-byte value. */
function wireIndex(i: number, width: number, order: ByteOrder): number {
  const words = width >> 1;
  const word = order === 'DCBA' || order === 'CDAB' ? words - 1 - (i >> 1) : i >> 1;
  const low = order === 'DCBA' || order === 'BADC' ? 1 - (i & 1) : i & 1;
  return word * 2 + low;
}

function registerAt(regs: ArrayLike<number>, index: number): number {
  const r = regs[index];
  if (r === undefined)
    throw new CodecError(`response too short: no register at index ${index} of ${regs.length}`);
  return r;
}

/** Decodes the value that starts at `regs[at]`. NaN and ±Infinity come back as such; callers mark them bad. */
export function decodeValue(
  regs: ArrayLike<number>,
  at: number,
  format: ValueFormat,
): number | boolean | string {
  const { type, order } = format;
  if (type === 'bool') {
    const r = registerAt(regs, at);
    return format.bit === undefined ? r !== 0 : ((r >> format.bit) & 1) === 1;
  }
  if (type === 'string') {
    const count = registerCount(format);
    const bytes = Buffer.alloc(count * 2);
    const swap = order === 'DCBA' || order === 'BADC';
    for (let w = 0; w < count; w++) {
      const r = registerAt(regs, at + w);
      bytes[w * 2] = swap ? r & 0xff : r >> 8;
      bytes[w * 2 + 1] = swap ? r >> 8 : r & 0xff;
    }
    return bytes
      .subarray(0, format.length)
      .toString('latin1')
      .replace(/[\0 ]+$/, '');
  }
  const width = WIDTH[type];
  for (let i = 0; i < width; i++) {
    const wire = wireIndex(i, width, order);
    const r = registerAt(regs, at + (wire >> 1));
    scratch[i] = wire & 1 ? r & 0xff : r >> 8;
  }
  switch (type) {
    case 'int16':
      return scratch.readInt16BE(0);
    case 'uint16':
      return scratch.readUInt16BE(0);
    case 'int32':
      return scratch.readInt32BE(0);
    case 'uint32':
      return scratch.readUInt32BE(0);
    case 'int64':
      return Number(scratch.readBigInt64BE(0));
    case 'uint64':
      return Number(scratch.readBigUInt64BE(0));
    case 'float32':
      return scratch.readFloatBE(0);
    case 'float64':
      return scratch.readDoubleBE(0);
  }
}

/** Encodes a value into registers, refusing values the type cannot hold. */
export function encodeValue(value: number | boolean | string, format: ValueFormat): number[] {
  const { type, order } = format;
  if (type === 'bool') {
    if (format.bit !== undefined) {
      throw new CodecError(
        'cannot write one bit of a register: that needs a read-modify-write that races the PLC; write the whole register',
      );
    }
    if (typeof value !== 'boolean')
      throw new CodecError(`${JSON.stringify(value)} is not true or false`);
    return [value ? 1 : 0];
  }
  if (type === 'string') {
    if (typeof value !== 'string') throw new CodecError(`${JSON.stringify(value)} is not a string`);
    const length = format.length ?? 2;
    const bytes = Buffer.alloc(registerCount(format) * 2);
    const written = bytes.write(value, 0, length, 'latin1');
    if (written < value.length)
      throw new CodecError(`"${value}" is longer than ${length} characters`);
    const swap = order === 'DCBA' || order === 'BADC';
    const out: number[] = [];
    for (let w = 0; w < bytes.length; w += 2)
      out.push(swap ? (bytes[w + 1]! << 8) | bytes[w]! : (bytes[w]! << 8) | bytes[w + 1]!);
    return out;
  }
  if (typeof value !== 'number')
    throw new CodecError(`${JSON.stringify(value)} is not a number; ${type} holds numbers`);
  const range = INTEGER_RANGE[type];
  if (range) {
    if (!Number.isInteger(value))
      throw new CodecError(`${value} is not an integer; ${type} holds whole numbers only`);
    if (value < range[0] || value > range[1])
      throw new CodecError(`${value} is out of range for ${type} (${range[0]}..${range[1]})`);
  } else if (
    type === 'float32' &&
    Number.isFinite(value) &&
    Math.abs(value) > 3.4028234663852886e38
  ) {
    throw new CodecError(`${value} is out of range for float32 (±3.4e38)`);
  }
  switch (type) {
    case 'int16':
      scratch.writeInt16BE(value, 0);
      break;
    case 'uint16':
      scratch.writeUInt16BE(value, 0);
      break;
    case 'int32':
      scratch.writeInt32BE(value, 0);
      break;
    case 'uint32':
      scratch.writeUInt32BE(value, 0);
      break;
    case 'int64':
      scratch.writeBigInt64BE(BigInt(value), 0);
      break;
    case 'uint64':
      scratch.writeBigUInt64BE(BigInt(value), 0);
      break;
    case 'float32':
      scratch.writeFloatBE(value, 0);
      break;
    case 'float64':
      scratch.writeDoubleBE(value, 0);
      break;
  }
  const width = WIDTH[type];
  const wire = Buffer.alloc(width);
  for (let i = 0; i < width; i++) wire[wireIndex(i, width, order)] = scratch[i]!;
  const out: number[] = [];
  for (let w = 0; w < width; w += 2) out.push(wire.readUInt16BE(w));
  return out;
}
