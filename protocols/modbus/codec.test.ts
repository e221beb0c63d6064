import { describe, expect, it } from 'vitest';
import {
  CodecError,
  decodeRegisters,
  encodeRegisters,
  type DataType,
  type WordOrder,
} from './codec.js';

describe('decodeRegisters', () => {
  it.each<[number[], DataType, WordOrder, number | boolean]>([
    [[0], 'bool', 'big', false],
    [[7], 'bool', 'big', true],
    [[0xffff], 'int16', 'big', -1],
    [[0x8000], 'int16', 'big', -32768],
    [[0xffff], 'uint16', 'big', 65535],
    [[253], 'uint16', 'big', 253],
    [[0x0001, 0x0000], 'int32', 'big', 65536],
    [[0x0000, 0x0001], 'int32', 'little', 65536],
    [[0xffff, 0xfffe], 'int32', 'big', -2],
    [[0xffff, 0xffff], 'uint32', 'big', 4294967295],
    [[0x4048, 0xf5c3], 'float32', 'big', Math.fround(3.14)],
    [[0xf5c3, 0x4048], 'float32', 'little', Math.fround(3.14)],
    [[0xc2c8, 0x0000], 'float32', 'big', -100],
  ])('%j as %s (%s) → %s', (regs, type, order, expected) => {
    expect(decodeRegisters(regs, 0, type, order)).toBe(expected);
  });

  it('reads at an index inside a larger response', () => {
    expect(decodeRegisters([1, 2, 0x0001, 0x0002], 2, 'uint32')).toBe(65538);
  });

  it('decodes NaN and infinity as such; the caller marks them bad', () => {
    expect(decodeRegisters([0x7fc0, 0], 0, 'float32')).toBeNaN();
    expect(decodeRegisters([0x7f80, 0], 0, 'float32')).toBe(Infinity);
  });

  it('throws when the response is too short', () => {
    expect(() => decodeRegisters([1], 0, 'int32')).toThrow(CodecError);
    expect(() => decodeRegisters([], 0, 'uint16')).toThrow(/need 1 register/);
  });
});

describe('encodeRegisters', () => {
  it.each<[number | boolean, DataType, WordOrder, number[]]>([
    [true, 'bool', 'big', [1]],
    [-1, 'int16', 'big', [0xffff]],
    [65535, 'uint16', 'big', [0xffff]],
    [65536, 'int32', 'big', [1, 0]],
    [65536, 'int32', 'little', [0, 1]],
    [-2, 'int32', 'big', [0xffff, 0xfffe]],
    [-100, 'float32', 'big', [0xc2c8, 0]],
  ])('%s as %s (%s) → %j', (value, type, order, expected) => {
    expect(encodeRegisters(value, type, order)).toEqual(expected);
  });

  it.each<[number, DataType, RegExp]>([
    [32768, 'int16', /out of range for int16 \(-32768\.\.32767\)/],
    [-1, 'uint16', /out of range for uint16/],
    [4294967296, 'uint32', /out of range/],
    [12.5, 'uint16', /not an integer/],
    [Number.NaN, 'int32', /not a finite number/],
  ])('refuses %s for %s', (value, type, message) => {
    expect(() => encodeRegisters(value, type)).toThrow(message);
  });

  it.each<DataType>(['int16', 'uint16', 'int32', 'uint32', 'float32'])(
    'round-trips %s in both word orders',
    (type) => {
      for (const order of ['big', 'little'] as const) {
        const value =
          type === 'float32' ? Math.fround(-1234.5) : type.startsWith('u') ? 1234 : -1234;
        expect(decodeRegisters(encodeRegisters(value, type, order), 0, type, order)).toBe(value);
      }
    },
  );
});
