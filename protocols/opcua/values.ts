import { DataType } from 'node-opcua-client';
import type { TagValue } from '../types.js';

/** Integer DataTypes and the range a write must fit. */
const INTEGER_RANGES: Partial<Record<DataType, [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32768, 32767],
  [DataType.UInt16]: [0, 65535],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt32]: [0, 4294967295],
  [DataType.Int64]: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  [DataType.UInt64]: [0, Number.MAX_SAFE_INTEGER],
};

export class ValueError extends Error {
  override name = 'ValueError';
}

/** What a variant holds, in the shape of our readings; arrays and structures are not tag values. */
export function fromVariant(
  dataType: DataType,
  value: unknown,
  arrayType: number,
): { value: TagValue | null; reason?: string } {
  if (arrayType !== 0)
    return { value: null, reason: 'array value: configure one element per tag instead' };
  switch (dataType) {
    case DataType.Null:
      return { value: null, reason: 'the node holds no value' };
    case DataType.Boolean:
      return { value: value === true };
    case DataType.Int64:
    case DataType.UInt64: {
      // node-opcua holds 64-bit integers as [high, low] 32-bit halves.
      const [high, low] = value as [number, number];
      return { value: high * 4294967296 + low };
    }
    case DataType.String:
      return { value: typeof value === 'string' ? value : '' };
    case DataType.LocalizedText:
      return { value: (value as { text?: string | null }).text ?? '' };
    case DataType.DateTime:
      return { value: value instanceof Date ? value.getTime() : null };
    default:
      if (typeof value === 'number') return { value };
      return {
        value: null,
        reason: `data type ${DataType[dataType] ?? dataType} is not a number, boolean or text`,
      };
  }
}

/**
 * Checks and converts a value to the node's DataType before anything is sent, so a bad write
 * is refused here with a reason instead of by the server with a bare status code. Text typed
 * by a person (`on`, `12.5`) is read as the type needs.
 */
export function toVariantValue(value: TagValue, dataType: DataType, label: string): TagValue {
  const typeName = DataType[dataType] ?? String(dataType);
  if (dataType === DataType.Boolean) {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(true|on|1)$/i.test(value)) return true;
    if (typeof value === 'string' && /^(false|off|0)$/i.test(value)) return false;
    if (value === 1 || value === 0) return value === 1;
    throw new ValueError(`${label} is a Boolean node; write true or false, not ${show(value)}`);
  }
  if (dataType === DataType.String || dataType === DataType.LocalizedText) {
    if (typeof value === 'string') return value;
    throw new ValueError(`${label} is a ${typeName} node; write text, not ${show(value)}`);
  }
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n))
    throw new ValueError(`${label} is a ${typeName} node; write a number, not ${show(value)}`);
  if (dataType === DataType.Float || dataType === DataType.Double) {
    if (dataType === DataType.Float && Math.abs(n) > 3.4028234663852886e38)
      throw new ValueError(`${label}=${n} does not fit a Float`);
    return n;
  }
  const range = INTEGER_RANGES[dataType];
  if (!range) throw new ValueError(`${label} is a ${typeName} node, which the agent cannot write`);
  if (!Number.isInteger(n))
    throw new ValueError(`${label} is an ${typeName} node; ${n} is not a whole number`);
  if (n < range[0] || n > range[1])
    throw new ValueError(`${label}=${n} is outside ${typeName} (${range[0]}..${range[1]})`);
  return n;
}

function show(value: TagValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
