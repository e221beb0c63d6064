import type { TagManifest } from '../protocols/mqtt/payload.js';
import { driverFor } from '../protocols/registry.js';
import type { DeviceRuntime } from './device-runtime.js';

/**
 * The retained tag manifest on `_nodes/<node>/tags`: every tag's topic, device, unit, address and
 * whether it is writable, and (JSON output) the first message sequence number of this run.
 */
export function tagManifest(
  node: string,
  devices: readonly DeviceRuntime[],
  seqStart?: number,
): string {
  const body: TagManifest = {
    node,
    ts: Date.now(),
    ...(seqStart !== undefined ? { seqStart } : {}),
    tags: devices.flatMap((d) => {
      const driver = driverFor(d.config);
      return d.config.tags.map((t, i) => {
        const address = driver.tagAddress(d.config, t);
        return {
          topic: d.tags.topics[i]!,
          device: d.config.name,
          writable: t.writable,
          ...(t.unit ? { unit: t.unit } : {}),
          ...(address ? { address } : {}),
        };
      });
    }),
  };
  return JSON.stringify(body);
}
