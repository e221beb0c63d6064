import { errorMessage } from '../../core/errors.js';
import { tagId } from '../driver.js';
import {
  checkWriteLimits,
  MAX_WRITE_TEXT,
  shownValue,
  toRaw,
  WriteRefused,
} from '../tag-values.js';
import type { TagValue } from '../types.js';
import { AREAS } from './address.js';
import { CodecError, encodeValue, type ValueFormat } from './codec.js';
import type { ModbusDeviceConfig } from './config.js';
import type { ModbusTagSpec } from './device-source.js';
import { resolveTag } from './tag-spec.js';

/** A write request for a Modbus tag: typed by the tag's format, limits, then the raw value. */
export function prepareModbusWrite(
  device: ModbusDeviceConfig,
  tag: ModbusDeviceConfig['tags'][number],
  requested: unknown,
  label: string,
): { value: TagValue; raw: TagValue } {
  const spec = resolveTag(tagId(device, tag), tag, device.byteOrder);
  const value = requestedValue(requested, spec.format, label);
  checkWriteLimits(value, tag, label);
  return { value, raw: rawWriteValue(value, spec, tag.scale, tag.offset, label) };
}

/** The request's value as the tag's type: JSON types must match it; text follows the CLI's rules. */
function requestedValue(value: unknown, format: ValueFormat, label: string): TagValue {
  const wants = format.type === 'bool' ? 'boolean' : format.type === 'string' ? 'string' : 'number';
  const hint = wants === 'boolean' ? 'true or false' : wants === 'string' ? 'text' : 'a number';
  if (typeof value === 'string') {
    if (value.length > MAX_WRITE_TEXT)
      throw new WriteRefused(`${label} takes ${hint}, not ${shownValue(value)}`);
    try {
      return parseWriteValue(value, format);
    } catch (err) {
      throw new WriteRefused(`${label}: ${errorMessage(err)}`);
    }
  }
  if (typeof value !== wants || (typeof value === 'number' && !Number.isFinite(value)))
    throw new WriteRefused(`${label} takes ${hint}, not ${shownValue(value)}`);
  return value as TagValue;
}

/** Parses text typed by a person into a value of the tag's type. */
export function parseWriteValue(text: string, format: ValueFormat): TagValue {
  if (format.type === 'bool') {
    if (/^(true|on|1)$/i.test(text)) return true;
    if (/^(false|off|0)$/i.test(text)) return false;
    throw new WriteRefused(`"${text}" is not a bit value; use true/false, on/off or 1/0`);
  }
  if (format.type === 'string') return text;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n))
    throw new WriteRefused(`"${text}" is not a number`);
  return n;
}

/**
 * Converts an engineering value into the raw value for the device (scale and offset reversed,
 * rounded for integer types) and checks it fits the type, so a bad value never reaches the PLC.
 */
export function rawWriteValue(
  value: TagValue,
  spec: ModbusTagSpec,
  scale: number,
  offset: number,
  label: string,
): TagValue {
  const { format } = spec;
  if (AREAS[spec.address.area].bits && typeof value !== 'boolean')
    throw new WriteRefused(`${label}: a coil takes true or false, not ${JSON.stringify(value)}`);
  const integer = format.type !== 'float32' && format.type !== 'float64';
  const raw = toRaw(value, scale, offset, integer);
  if (!AREAS[spec.address.area].bits) {
    try {
      encodeValue(raw, format);
    } catch (err) {
      const scaled = raw !== value ? ` (raw ${raw} after scale ${scale}, offset ${offset})` : '';
      throw new WriteRefused(
        `${label}=${JSON.stringify(value)}${scaled}: ${(err as CodecError).message}`,
      );
    }
  }
  return raw;
}
