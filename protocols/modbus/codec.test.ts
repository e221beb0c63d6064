import { describe, expect, it } from 'vitest';
import {
  BYTE_ORDERS,
  CodecError,
  decodeValue,
  encodeValue,
  parseDataType,
  registerCount,
  type ByteOrder,
  type NumericType,
  type ValueFormat,
} from './codec.js';

/**
 * Wire registers for a value, computed independently of the codec: Node's Buffer writes the
 * big-endian (ABCD) or little-endian (DCBA) bytes, and the two swaps are done by hand.
 */
function reference(type: NumericType, value: number, order: ByteOrder): number[] {
  const width = {
    int16: 2,
    uint16: 2,
    int32: 4,
    uint32: 4,
    int64: 8,
    uint64: 8,
    float32: 4,
    float64: 8,
  }[type];
  const be = Buffer.alloc(width);
  const le = Buffer.alloc(width);
  const write = {
    int16: () => (be.writeInt16BE(value), le.writeInt16LE(value)),
    uint16: () => (be.writeUInt16BE(value), le.writeUInt16LE(value)),
    int32: () => (be.writeInt32BE(value), le.writeInt32LE(value)),
    uint32: () => (be.writeUInt32BE(value), le.writeUInt32LE(value)),
    int64: () => (be.writeBigInt64BE(BigInt(value)), le.writeBigInt64LE(BigInt(value))),
    uint64: () => (be.writeBigUInt64BE(BigInt(value)), le.writeBigUInt64LE(BigInt(value))),
    float32: () => (be.writeFloatBE(value), le.writeFloatLE(value)),
    float64: () => (be.writeDoubleBE(value), le.writeDoubleLE(value)),
  };
  write[type]();
  let bytes: Buffer;
  if (order === 'ABCD') bytes = be;
  else if (order === 'DCBA') bytes = le;
  else if (order === 'BADC') bytes = Buffer.from(be).swap16();
  else {
    // CDAB: the registers of the big-endian value in reverse order, bytes within each kept.
    bytes = Buffer.alloc(width);
    for (let w = 0; w < width / 2; w++) be.copy(bytes, w * 2, width - 2 - w * 2, width - w * 2);
  }
  return Array.from({ length: width / 2 }, (_, i) => bytes.readUInt16BE(i * 2));
}

const GOLDEN: [NumericType, number[]][] = [
  ['int16', [0, 1, -1, 32767, -32768, 12345]],
  ['uint16', [0, 1, 65535, 0x1234]],
  ['int32', [0, -1, 2147483647, -2147483648, 0x12345678, -123456789]],
  ['uint32', [0, 4294967295, 0x12345678, 0x89abcdef]],
  ['int64', [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0x123456789a]],
  ['uint64', [0, Number.MAX_SAFE_INTEGER, 0x0102030405060]],
  ['float32', [0, 1.5, -100, Math.fround(3.14), Math.fround(-1e-20), Math.fround(3e38)]],
  ['float64', [0, Math.PI, -1e300, 5e-324, 123456.789]],
];

describe('codec golden tables: every numeric type × byte order, both directions', () => {
  const cases = GOLDEN.flatMap(([type, values]) =>
    BYTE_ORDERS.flatMap((order) => values.map((value) => [type, order, value] as const)),
  );
  it.each(cases)('%s %s %s', (type, order, value) => {
    const regs = reference(type, value, order);
    const format: ValueFormat = { type, order };
    expect(regs).toHaveLength(registerCount(format));
    expect(encodeValue(value, format)).toEqual(regs);
    expect(decodeValue(regs, 0, format)).toBe(value);
    // The same value at an offset inside a larger response.
    expect(decodeValue([0xdead, ...regs, 0xbeef], 1, format)).toBe(value);
  });

  it('names the byte orders after the wire bytes of 0x11223344', () => {
    expect(encodeValue(0x11223344, { type: 'uint32', order: 'ABCD' })).toEqual([0x1122, 0x3344]);
    expect(encodeValue(0x11223344, { type: 'uint32', order: 'DCBA' })).toEqual([0x4433, 0x2211]);
    expect(encodeValue(0x11223344, { type: 'uint32', order: 'BADC' })).toEqual([0x2211, 0x4433]);
    expect(encodeValue(0x11223344, { type: 'uint32', order: 'CDAB' })).toEqual([0x3344, 0x1122]);
  });
});

describe('special values', () => {
  it('decodes NaN and infinities as such (the driver marks them bad)', () => {
    expect(decodeValue([0x7fc0, 0], 0, { type: 'float32', order: 'ABCD' })).toBeNaN();
    expect(decodeValue([0x7f80, 0], 0, { type: 'float32', order: 'ABCD' })).toBe(Infinity);
    expect(decodeValue([0xfff0, 0, 0, 0], 0, { type: 'float64', order: 'ABCD' })).toBe(-Infinity);
  });

  it.each([
    [0, false],
    [7, true],
  ])('register %s as bool is %s', (reg, expected) => {
    expect(decodeValue([reg], 0, { type: 'bool', order: 'ABCD' })).toBe(expected);
  });

  it.each([
    [0b1000, 3, true],
    [0b1000, 2, false],
    [0x8000, 15, true],
    [0x7fff, 15, false],
    [1, 0, true],
  ])('register %i bit %i is %s', (reg, bit, expected) => {
    expect(decodeValue([reg], 0, { type: 'bool', order: 'ABCD', bit })).toBe(expected);
  });

  it.each<[ByteOrder, number[]]>([
    ['ABCD', [0x4142, 0x4344, 0x4500]],
    ['CDAB', [0x4142, 0x4344, 0x4500]],
    ['BADC', [0x4241, 0x4443, 0x0045]],
    ['DCBA', [0x4241, 0x4443, 0x0045]],
  ])('string(6) in %s', (order, regs) => {
    const format: ValueFormat = { type: 'string', order, length: 6 };
    expect(registerCount(format)).toBe(3);
    expect(decodeValue(regs, 0, format)).toBe('ABCDE');
    expect(encodeValue('ABCDE', format)).toEqual(regs);
  });

  it('trims trailing spaces and NULs of strings', () => {
    expect(decodeValue([0x4f4b, 0x2020, 0], 0, { type: 'string', order: 'ABCD', length: 6 })).toBe(
      'OK',
    );
  });
});

describe('refusals', () => {
  it.each<[number | string | boolean, ValueFormat, RegExp]>([
    [32768, { type: 'int16', order: 'ABCD' }, /out of range for int16 \(-32768\.\.32767\)/],
    [-1, { type: 'uint16', order: 'ABCD' }, /out of range for uint16/],
    [4294967296, { type: 'uint32', order: 'ABCD' }, /out of range for uint32/],
    [2 ** 60, { type: 'int64', order: 'ABCD' }, /out of range for int64/],
    [12.5, { type: 'uint16', order: 'ABCD' }, /not an integer/],
    [Number.NaN, { type: 'int32', order: 'ABCD' }, /not an integer/],
    [1e39, { type: 'float32', order: 'ABCD' }, /out of range for float32/],
    ['12', { type: 'float32', order: 'ABCD' }, /not a number/],
    [1, { type: 'bool', order: 'ABCD' }, /not true or false/],
    [true, { type: 'bool', order: 'ABCD', bit: 3 }, /cannot write one bit of a register/],
    ['TOO LONG', { type: 'string', order: 'ABCD', length: 4 }, /longer than 4 characters/],
  ])('refuses %s as %j', (value, format, message) => {
    expect(() => encodeValue(value, format)).toThrow(CodecError);
    expect(() => encodeValue(value, format)).toThrow(message);
  });

  it('throws when the response is too short', () => {
    expect(() => decodeValue([1], 0, { type: 'int32', order: 'ABCD' })).toThrow(
      /no register at index 1/,
    );
  });
});

describe('parseDataType', () => {
  it.each([
    ['float32', { type: 'float32' }],
    ['bool', { type: 'bool' }],
    ['string(16)', { type: 'string', length: 16 }],
  ])('%s', (text, expected) => {
    expect(parseDataType(text)).toEqual(expected);
  });
  it.each([
    ['double', /"double" is not a data type/],
    ['string(0)', /must be 1\.\.246/],
    ['string', /not a data type/],
  ])('rejects %s', (text, message) => {
    expect(() => parseDataType(text)).toThrow(message);
  });
});
