import {
  shownValue,
  MAX_WRITE_TEXT,
  checkWriteLimits,
  toRaw,
  WriteRefused,
} from '../tag-values.js';
import type { TagValue } from '../types.js';
import type { OpcuaDeviceConfig } from './config.js';

/**
 * A write request for an OPC UA tag: any JSON scalar, scaled back; the node's DataType, which
 * only the server knows, decides at the device whether it fits.
 */
export function prepareOpcuaWrite(
  tag: OpcuaDeviceConfig['tags'][number],
  requested: unknown,
  label: string,
): { value: TagValue; raw: TagValue } {
  const value = anyTagValue(requested, label);
  const raw = opcuaRawValue(value, tag);
  checkWriteLimits(
    typeof raw === 'number' && typeof value === 'string' ? Number(value) : value,
    tag,
    label,
  );
  return { value, raw };
}

/** OPC UA: any JSON scalar; the node's DataType decides at the device whether it fits. */
function anyTagValue(value: unknown, label: string): TagValue {
  if (typeof value === 'string' && value.length <= MAX_WRITE_TEXT) return value;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new WriteRefused(`${label} takes a number, true/false or text, not ${shownValue(value)}`);
}

/**
 * An OPC UA write's raw value: its type is the node's DataType, which only the server knows, so
 * the device source checks it. Here a number is scaled back, and numeric text is read as a
 * number when the tag has scale, offset or limits (they only mean something for numbers).
 */
export function opcuaRawValue(value: TagValue, tag: OpcuaDeviceConfig['tags'][number]): TagValue {
  const numeric =
    tag.scale !== 1 || tag.offset !== 0 || tag.min !== undefined || tag.max !== undefined;
  const n =
    numeric && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))
      ? Number(value)
      : value;
  if (typeof n !== 'number') return n;
  // 12 significant digits, so 25.3 / 0.1 is 253 and an integer node takes it.
  return Number((toRaw(n, tag.scale, tag.offset, false) as number).toPrecision(12));
}
