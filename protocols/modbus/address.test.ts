import { describe, expect, it } from 'vitest';
import { AddressError, parseAddress, parseRange } from './address.js';

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

describe('parseRange', () => {
  it.each([
    ['hr:100..105', { area: 'hr', offset: 100, count: 6 }],
    ['coil:0..6', { area: 'coil', offset: 0, count: 7 }],
    ['di:3', { area: 'di', offset: 3, count: 1 }],
    ['ir:9..9', { area: 'ir', offset: 9, count: 1 }],
  ])('%s', (text, expected) => {
    expect(parseRange(text)).toEqual(expected);
  });

  it.each([
    ['hr:105..100', /end 100 is before its start 105/],
    ['hr:1...3', /not a Modbus address or range/],
    ['hr:0..70000', /above 65535/],
  ])('rejects %s', (text, message) => {
    expect(() => parseRange(text)).toThrow(message);
  });
});
