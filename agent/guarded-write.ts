import { AREAS } from '../protocols/modbus/address.js';
import { CodecError, encodeValue, type ValueFormat } from '../protocols/modbus/codec.js';
import type { ModbusTagSpec } from '../protocols/modbus/device-source.js';
import { resolveTag } from '../protocols/modbus/tag-spec.js';
import type { TagValue } from '../protocols/types.js';
import type { AgentConfig, ModbusDeviceConfig, OpcuaDeviceConfig } from './config.js';
import { toRaw } from './tag-model.js';

/** A write the config does not allow, or a value the tag cannot take. The message says which and why. */
export class WriteRefused extends Error {
  override name = 'WriteRefused';
}

/** A tag a write may go to; `id` is the tag id as the device sources know it: `<asset>/<name>`. */
export type WriteTarget =
  | {
      kind: 'modbus';
      device: ModbusDeviceConfig;
      tag: ModbusDeviceConfig['tags'][number];
      id: string;
      spec: ModbusTagSpec;
    }
  | {
      kind: 'opcua';
      device: OpcuaDeviceConfig;
      tag: OpcuaDeviceConfig['tags'][number];
      id: string;
    };

/**
 * Finds a tag by `name` or `asset/name` and checks that the config allows writing it. Nothing
 * writes to a PLC unless its tag is marked `writable: true`.
 */
export function findWritableTag(config: AgentConfig, ref: string): WriteTarget {
  const matches: WriteTarget[] = [];
  for (const device of config.devices) {
    if (device.protocol === 'opcua') {
      for (const tag of device.tags) {
        const id = `${tag.asset ?? device.asset}/${tag.name}`;
        if (ref === id || ref === tag.name) matches.push({ kind: 'opcua', device, tag, id });
      }
      continue;
    }
    for (const tag of device.tags) {
      const asset = tag.asset ?? device.asset;
      const id = `${asset}/${tag.name}`;
      if (ref === id || ref === tag.name)
        matches.push({
          kind: 'modbus',
          device,
          tag,
          id,
          spec: resolveTag(id, tag, device.byteOrder),
        });
    }
  }
  if (matches.length === 0)
    throw new WriteRefused(`no tag "${ref}" in the config; use the tag name or asset/name`);
  if (matches.length > 1)
    throw new WriteRefused(
      `"${ref}" matches ${matches.map((m) => m.id).join(', ')}; write asset/name`,
    );
  const target = matches[0]!;
  if (!target.tag.writable) {
    throw new WriteRefused(
      `tag ${target.id} is not writable: set writable: true on it in the config if writes to ${targetAddress(target)} are intended`,
    );
  }
  return target;
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

/** Where a target lives on its device: a Modbus address, an OPC UA node id or browse path. */
export function targetAddress(target: WriteTarget): string | number {
  if (target.kind === 'modbus') return target.tag.address;
  return target.tag.node ?? target.tag.path ?? '';
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
