import { tagId } from '../protocols/driver.js';
import { WriteRefused } from '../protocols/tag-values.js';
import type { AgentConfig, DeviceConfig } from './config.js';
import { driverFor } from '../protocols/registry.js';

/** A tag a write may go to; `id` is the tag id as the device sources know it: `<asset>/<name>`. */
export interface WriteTarget<D extends DeviceConfig = DeviceConfig> {
  device: D;
  tag: D['tags'][number];
  id: string;
}

/**
 * Finds a tag by `name` or `asset/name` and checks that the config allows writing it. Nothing
 * writes to a PLC unless its tag is marked `writable: true`.
 */
export function findWritableTag(config: AgentConfig, ref: string): WriteTarget {
  const matches: WriteTarget[] = [];
  for (const device of config.devices)
    for (const tag of device.tags) {
      const id = tagId(device, tag);
      if (ref === id || ref === tag.name) matches.push({ device, tag, id });
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

/** Where a target lives on its device: a Modbus address, an OPC UA node id or browse path. */
export function targetAddress({ device, tag }: WriteTarget): string {
  return driverFor(device).tagAddress(device, tag) ?? '';
}
