import { describe, expect, it } from 'vitest';
import { readRemainingLength } from './remaining-length.js';

describe('readRemainingLength', () => {
  it.each([
    ['0', [0x40, 0x00], 'whole', 0, 2],
    ['127 in one byte', [0x30, 0x7f], 'whole', 127, 2],
    ['128 in two bytes', [0x30, 0x80, 0x01], 'whole', 128, 3],
    ['16,383 in two bytes', [0x30, 0xff, 0x7f], 'whole', 16_383, 3],
    ['2,097,152 in four bytes', [0x30, 0x80, 0x80, 0x80, 0x01], 'whole', 2_097_152, 5],
    ['the largest, 268,435,455', [0x30, 0xff, 0xff, 0xff, 0x7f], 'whole', 268_435_455, 5],
    ['cut after the type byte', [0x30], 'cut', -1, -1],
    ['cut inside the length', [0x30, 0x80, 0x80], 'cut', -1, -1],
    ['a fifth length byte', [0x30, 0x80, 0x80, 0x80, 0x80, 0x01], 'malformed', -1, -1],
  ] as const)('%s', (_name, bytes, state, length, bodyAt) => {
    const out = { length: -1, bodyAt: -1 };
    expect(readRemainingLength(Buffer.from(bytes), 0, out)).toBe(state);
    expect(out).toEqual({ length, bodyAt });
  });

  it('reads a header in the middle of a buffer', () => {
    const out = { length: 0, bodyAt: 0 };
    expect(readRemainingLength(Buffer.from([9, 9, 0x32, 0x81, 0x01]), 2, out)).toBe('whole');
    expect(out).toEqual({ length: 129, bodyAt: 5 });
  });
});
