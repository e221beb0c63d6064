import { describe, expect, it } from 'vitest';
import {
  AddressError,
  formatTagAddress,
  parseAddress,
  parseTagAddress,
  parseTagRange,
} from './address.js';

describe('parseAddress', () => {
  it.each([
    ['coil:0', { area: 'coil', offset: 0 }],
    ['di:7', { area: 'di', offset: 7 }],
    ['hr:100', { area: 'hr', offset: 100 }],
    ['ir:65535', { area: 'ir', offset: 65535 }],
    ['  hr:5 ', { area: 'hr', offset: 5 }],
  ])('%s', (text, expected) => {
    expect(parseAddress(text)).toEqual(expected);
  });

  it.each([
    ['HR40001x', /"HR40001x" is not a Modbus address; expected e.g. "hr:100", "coil:3"/],
    ['hr:', /not a Modbus address/],
    ['hr:-1', /not a Modbus address/],
    ['xx:1', /not a Modbus address/],
    ['hr:65536', /above 65535/],
    ['hr:1.5', /not a Modbus address/],
    ['40001', /not a Modbus address/],
  ])('rejects %s', (text, message) => {
    expect(() => parseAddress(text)).toThrow(AddressError);
    expect(() => parseAddress(text)).toThrow(message);
  });
});

describe('parseTagRange', () => {
  it.each<[string, object]>([
    ['hr:100..105', { area: 'hr', offset: 100, end: 105 }],
    ['coil:0..6', { area: 'coil', offset: 0, end: 6 }],
    ['di:3', { area: 'di', offset: 3 }],
    ['ir:9..9', { area: 'ir', offset: 9, end: 9 }],
    [
      'hr:200..209:float32:CDAB',
      { area: 'hr', offset: 200, end: 209, type: 'float32', order: 'CDAB' },
    ],
    ['hr:200..203:int32', { area: 'hr', offset: 200, end: 203, type: 'int32' }],
    ['hr:300:float32:CDAB', { area: 'hr', offset: 300, type: 'float32', order: 'CDAB' }],
    ['hr:100.3', { area: 'hr', offset: 100, bit: 3 }],
    ['40101..40106', { area: 'hr', offset: 100, end: 105 }],
    ['000001..000007', { area: 'coil', offset: 0, end: 6 }],
    ['40101', { area: 'hr', offset: 100 }],
  ])('%s', (text, expected) => {
    expect(parseTagRange(text)).toMatchObject(expected);
  });

  it('explains a classic range in 0-based terms', () => {
    expect(parseTagRange('30001..30010').note).toBe(
      'classic 1-based range 30001..30010 is ir:0..9 (0-based)',
    );
  });

  it.each([
    ['hr:105..100', /end 100 is before its start 105/],
    ['hr:1...3', /"hr:1...3" is not a Modbus range/],
    ['hr:0..70000', /above 65535/],
    ['hr:0..3:float33', /float33/],
    ['hr:100.3..5', /not a Modbus range/],
    [
      '40101..30010',
      /40101 is a holding register and 30010 a input register; a range stays in one area/,
    ],
    ['40110..40101', /end 100 is before its start 109/],
    ['coil:0..6:float32', /a coil holds one bit/],
  ])('rejects %s', (text, message) => {
    expect(() => parseTagRange(text)).toThrow(AddressError);
    expect(() => parseTagRange(text)).toThrow(message);
  });
});

describe('formatTagAddress', () => {
  it.each([
    'hr:100',
    'hr:100.3',
    'coil:7',
    'hr:200:float32:CDAB',
    'hr:200:float64',
    'hr:10:string(8):BADC',
  ])('%s prints as it parses', (text) => {
    expect(formatTagAddress(parseTagAddress(text))).toBe(text);
  });
});

describe('parseTagAddress', () => {
  it.each<[string | number, object]>([
    ['hr:100', { area: 'hr', offset: 100 }],
    ['hr:100.3', { area: 'hr', offset: 100, bit: 3 }],
    ['ir:7.15', { area: 'ir', offset: 7, bit: 15 }],
    ['hr:100:float32', { area: 'hr', offset: 100, type: 'float32' }],
    ['hr:100:float32:CDAB', { area: 'hr', offset: 100, type: 'float32', order: 'CDAB' }],
    ['hr:10:string(8):BADC', { area: 'hr', offset: 10, type: 'string', length: 8, order: 'BADC' }],
    ['coil:3:bool', { area: 'coil', offset: 3, type: 'bool' }],
    [
      40101,
      {
        area: 'hr',
        offset: 100,
        note: 'classic 1-based address 40101 is hr:100 (0-based holding register 100)',
      },
    ],
    [
      '400101',
      {
        area: 'hr',
        offset: 100,
        note: 'classic 1-based address 400101 is hr:100 (0-based holding register 100)',
      },
    ],
    [
      '30001',
      {
        area: 'ir',
        offset: 0,
        note: 'classic 1-based address 30001 is ir:0 (0-based input register 0)',
      },
    ],
    [
      '10005',
      {
        area: 'di',
        offset: 4,
        note: 'classic 1-based address 10005 is di:4 (0-based discrete input 4)',
      },
    ],
    [
      '00001',
      { area: 'coil', offset: 0, note: 'classic 1-based address 00001 is coil:0 (0-based coil 0)' },
    ],
    [
      '465536',
      {
        area: 'hr',
        offset: 65535,
        note: 'classic 1-based address 465536 is hr:65535 (0-based holding register 65535)',
      },
    ],
    [
      '40001.2',
      {
        area: 'hr',
        offset: 0,
        bit: 2,
        note: 'classic 1-based address 40001.2 is hr:0.2 (0-based holding register 0)',
      },
    ],
  ])('%s', (text, expected) => {
    expect(parseTagAddress(text)).toEqual(expected);
  });

  it.each<[string | number, RegExp]>([
    ['HR40001x', /"HR40001x" is not a Modbus address; expected e\.g\. "hr:100"/],
    ['hr:100.16', /bit 16 is beyond 15/],
    ['coil:1.2', /\.bit applies to registers/],
    ['hr:1:double', /"double" is not a data type/],
    ['hr:1:float32:ABDC', /byte order ABDC is not one of/],
    ['coil:1:uint16', /holds one bit; its type is bool/],
    ['hr:1.2:uint16', /a register bit is a bool/],
    ['40000', /classic addresses count from 1/],
    [1, /a classic address has 5 or 6 digits \(quote it in YAML/],
    ['20001', /not a Modbus address/],
  ])('rejects %s', (text, message) => {
    expect(() => parseTagAddress(text)).toThrow(AddressError);
    expect(() => parseTagAddress(text)).toThrow(message);
  });
});
