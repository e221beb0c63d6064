/**
 * Conversions between 16-bit Modbus registers and typed values. Pure functions shared by the
 * client (decode reads, encode writes) and the simulator.
 */
import { AREAS, type Area } from './address.js';

export const DATA_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32'] as const;
export type DataType = (typeof DATA_TYPES)[number];

/** `big`: high word first (ABCD, the Modbus convention). `little`: low word first (CDAB). */
export type WordOrder = 'big' | 'little';

/** The type a tag has when its config names none: a bit for coils and inputs, else one unsigned register. */
export function defaultDataType(area: Area): DataType {
  return AREAS[area].bits ? 'bool' : 'uint16';
}

export const REGISTER_COUNT: Record<DataType, number> = {
  bool: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
};

const RANGES: Partial<Record<DataType, [number, number]>> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

export class CodecError extends Error {
  override name = 'CodecError';
}

const scratch = new DataView(new ArrayBuffer(4));

function loadWords(regs: ArrayLike<number>, at: number, order: WordOrder): void {
  const a = regs[at];
  const b = regs[at + 1];
  if (a === undefined || b === undefined)
    throw new CodecError(`need 2 registers at index ${at}, have ${regs.length}`);
  const [hi, lo] = order === 'big' ? [a, b] : [b, a];
  scratch.setUint16(0, hi);
  scratch.setUint16(2, lo);
}

/** Decodes the value of `type` starting at `regs[at]`. `bool` on a register is "non-zero". */
export function decodeRegisters(
  regs: ArrayLike<number>,
  at: number,
  type: DataType,
  order: WordOrder = 'big',
): number | boolean {
  if (REGISTER_COUNT[type] === 1) {
    const raw = regs[at];
    if (raw === undefined)
      throw new CodecError(`need 1 register at index ${at}, have ${regs.length}`);
    if (type === 'bool') return raw !== 0;
    return type === 'int16' ? (raw << 16) >> 16 : raw & 0xffff;
  }
  loadWords(regs, at, order);
  if (type === 'int32') return scratch.getInt32(0);
  if (type === 'uint32') return scratch.getUint32(0);
  return scratch.getFloat32(0);
}

/** Encodes a value into registers, refusing values the type cannot hold. */
export function encodeRegisters(
  value: number | boolean,
  type: DataType,
  order: WordOrder = 'big',
): number[] {
  if (type === 'bool') return [value ? 1 : 0];
  const n = Number(value);
  if (!Number.isFinite(n) && type !== 'float32')
    throw new CodecError(`${value} is not a finite number for ${type}`);
  const range = RANGES[type];
  if (range) {
    if (!Number.isInteger(n))
      throw new CodecError(`${value} is not an integer; ${type} holds whole numbers only`);
    if (n < range[0] || n > range[1]) {
      throw new CodecError(`${value} is out of range for ${type} (${range[0]}..${range[1]})`);
    }
  }
  if (type === 'int16' || type === 'uint16') return [n & 0xffff];
  if (type === 'int32') scratch.setInt32(0, n);
  else if (type === 'uint32') scratch.setUint32(0, n);
  else scratch.setFloat32(0, n);
  const hi = scratch.getUint16(0);
  const lo = scratch.getUint16(2);
  return order === 'big' ? [hi, lo] : [lo, hi];
}
