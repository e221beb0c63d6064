import { DataType } from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { fromVariant, toVariantValue } from './values.js';

describe('fromVariant', () => {
  it.each([
    [DataType.Double, 12.5, { value: 12.5 }],
    [DataType.Float, 1.5, { value: 1.5 }],
    [DataType.UInt16, 7, { value: 7 }],
    [DataType.Boolean, true, { value: true }],
    [DataType.String, 'running', { value: 'running' }],
    [DataType.LocalizedText, { text: 'Auto', locale: 'en' }, { value: 'Auto' }],
    [DataType.Int64, [1, 5], { value: 4294967301 }],
    [DataType.UInt64, [0, 42], { value: 42 }],
    [DataType.DateTime, new Date(1000), { value: 1000 }],
  ])('type %s', (dataType, value, expected) => {
    expect(fromVariant(dataType, value, 0)).toEqual(expected);
  });

  it('says why a value is not a tag value', () => {
    expect(fromVariant(DataType.Double, [1, 2], 1).reason).toMatch(/array/);
    expect(fromVariant(DataType.Null, null, 0).reason).toMatch(/no value/);
    expect(fromVariant(DataType.ExtensionObject, {}, 0).reason).toMatch(/ExtensionObject/);
  });
});

describe('toVariantValue', () => {
  it.each([
    [true, DataType.Boolean, true],
    ['on', DataType.Boolean, true],
    ['0', DataType.Boolean, false],
    [12.5, DataType.Double, 12.5],
    ['12.5', DataType.Float, 12.5],
    [255, DataType.Byte, 255],
    [-32768, DataType.Int16, -32768],
    ['42', DataType.UInt32, 42],
    ['text', DataType.String, 'text'],
  ])('%j as %s', (value, dataType, expected) => {
    expect(toVariantValue(value, dataType, 'a/t')).toBe(expected);
  });

  it.each([
    ['maybe', DataType.Boolean, /Boolean node; write true or false/],
    [256, DataType.Byte, /outside Byte \(0\.\.255\)/],
    [-1, DataType.UInt16, /outside UInt16/],
    [1.5, DataType.Int32, /not a whole number/],
    ['abc', DataType.Double, /write a number/],
    [5, DataType.String, /write text/],
    [1e39, DataType.Float, /does not fit a Float/],
    [1, DataType.ExtensionObject, /cannot write/],
  ])('refuses %j as %s', (value, dataType, message) => {
    expect(() => toVariantValue(value, dataType, 'a/t')).toThrow(message);
  });
});
