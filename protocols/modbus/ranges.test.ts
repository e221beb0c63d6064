import { describe, expect, it } from 'vitest';
import { AddressError } from './address.js';
import type { ByteOrder } from './codec.js';
import { specsForRanges } from './ranges.js';

/** What each spec reads: its printed address, where it starts and how many registers or bits. */
function reads(texts: string[], type?: string, order: ByteOrder = 'ABCD') {
  return specsForRanges(texts, type, order).map((s) => ({
    id: s.id,
    offset: s.address.offset,
    type: s.format.type,
  }));
}

describe('specsForRanges: the read tool reads what the config would', () => {
  it.each<{ args: string[]; type?: string; order?: ByteOrder; out: object[] }>([
    { args: ['hr:100'], out: [{ id: 'hr:100', offset: 100, type: 'uint16' }] },
    {
      args: ['hr:100..102'],
      out: [
        { id: 'hr:100', offset: 100 },
        { id: 'hr:101', offset: 101 },
        { id: 'hr:102', offset: 102 },
      ],
    },
    // The bug of issue 16: one typed address read nothing.
    {
      args: ['hr:300'],
      type: 'float32',
      out: [{ id: 'hr:300:float32:ABCD', offset: 300, type: 'float32' }],
    },
    {
      args: ['hr:300:float32:CDAB'],
      out: [{ id: 'hr:300:float32:CDAB', offset: 300, type: 'float32' }],
    },
    {
      args: ['hr:300..303:float32'],
      order: 'CDAB',
      out: [
        { id: 'hr:300:float32:CDAB', offset: 300 },
        { id: 'hr:302:float32:CDAB', offset: 302 },
      ],
    },
    {
      args: ['hr:0..7'],
      type: 'float64',
      out: [
        { id: 'hr:0:float64:ABCD', offset: 0, type: 'float64' },
        { id: 'hr:4:float64:ABCD', offset: 4, type: 'float64' },
      ],
    },
    { args: ['hr:5'], type: 'int16', out: [{ id: 'hr:5:int16', offset: 5, type: 'int16' }] },
    {
      args: ['hr:5'],
      type: 'int16',
      order: 'BADC',
      out: [{ id: 'hr:5:int16:BADC', offset: 5 }],
    },
    {
      args: ['hr:10:string(4)'],
      out: [{ id: 'hr:10:string(4):ABCD', offset: 10, type: 'string' }],
    },
    {
      args: ['40101', '40102..40103'],
      out: [
        { id: 'hr:100', offset: 100 },
        { id: 'hr:101', offset: 101 },
        { id: 'hr:102', offset: 102 },
      ],
    },
    { args: ['30001'], type: 'int16', out: [{ id: 'ir:0:int16', offset: 0, type: 'int16' }] },
    // Coils and inputs are bits whatever --type says, so one command reads both areas.
    {
      args: ['coil:0..2', 'hr:100'],
      type: 'int16',
      out: [
        { id: 'coil:0', type: 'bool' },
        { id: 'coil:1', type: 'bool' },
        { id: 'coil:2', type: 'bool' },
        { id: 'hr:100:int16', type: 'int16' },
      ],
    },
    { args: ['di:3'], out: [{ id: 'di:3', offset: 3, type: 'bool' }] },
    { args: ['hr:100.3'], type: 'float32', out: [{ id: 'hr:100.3', offset: 100, type: 'bool' }] },
    { args: ['100001'], out: [{ id: 'di:0', type: 'bool' }] },
  ])('$args --type $type --order $order', ({ args, type, order, out }) => {
    const got = reads(args, type, order);
    expect(got).toHaveLength(out.length);
    got.forEach((g, i) => expect(g).toMatchObject(out[i]!));
  });

  it('gives classic addresses their 0-based meaning as a note', () => {
    expect(specsForRanges(['40101'], undefined, 'ABCD')[0]!.note).toMatch(
      /classic 1-based address 40101 is hr:100/,
    );
  });

  it.each([
    {
      args: ['hr:300..302'],
      type: 'float32',
      message:
        /spans 3 registers, not a whole number of float32 values \(2 registers each\); end the range at 301/,
    },
    {
      args: ['hr:300:float32'],
      type: 'int16',
      message: /type int16 disagrees with the type in address/,
    },
    { args: ['hr:100.2..4'], message: /not a Modbus range/ },
    { args: ['40001x'], message: /"40001x" is not a Modbus address/ },
    { args: ['hr:1:float32:XYZW'], message: /not a Modbus address/ },
  ])('rejects $args --type $type', ({ args, type, message }) => {
    expect(() => specsForRanges(args, type, 'ABCD')).toThrow(AddressError);
    expect(() => specsForRanges(args, type, 'ABCD')).toThrow(message);
  });
});
