import type { TagManifest } from '../protocols/mqtt/payload.js';
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
    tags: devices.flatMap((d) =>
      [...d.tags.values()].map((t) => ({
        topic: t.topic,
        device: t.device,
        writable: t.writable,
        ...(t.unit ? { unit: t.unit } : {}),
        ...(t.address ? { address: t.address } : {}),
      })),
    ),
  };
  return JSON.stringify(body);
}
