import { getHeapStatistics } from 'node:v8';
import type { DeviceConfig } from '../protocols/registry.js';

/**
 * Live V8 heap an agent needs for its devices, MB, from heap snapshots of the benches on Node 20
 * (bench/README.md, "Footprint"): 24 MB at 10,000 Modbus tags, 52 MB at 10,000 OPC UA items,
 * of which node-opcua's code and per-item objects are most. A rough model, for a warning only.
 */
export function liveHeapNeedMb(devices: readonly DeviceConfig[]): number {
  let modbusTags = 0;
  let opcuaItems = 0;
  for (const d of devices)
    if (d.protocol === 'opcua') opcuaItems += d.tags.length;
    else modbusTags += d.tags.length;
  const opcua = opcuaItems > 0 ? 19 + 1.7 * (opcuaItems / 1000) : 0;
  return 16 + 0.8 * (modbusTags / 1000) + opcua;
}

/** V8 runs with the unit's --heap-growing-percent=50: it needs room for 1.5× the live heap. */
const HEADROOM = 1.5;

/**
 * A warning when a heap cap (`--max-old-space-size` in FACTORYLM_NODE_FLAGS, the drop-ins of
 * deploy/README.md) leaves the config's devices too little room: a cap sized for 10,000 tags
 * kills an agent whose config later grew to 30,000, in a restart loop.
 */
export function heapBudgetWarning(
  devices: readonly DeviceConfig[],
  heapLimitBytes = getHeapStatistics().heap_size_limit,
): string | undefined {
  const heapLimitMb = heapLimitBytes / (1024 * 1024);
  const needMb = Math.ceil(HEADROOM * liveHeapNeedMb(devices));
  if (needMb <= heapLimitMb) return undefined;
  const tags = devices.reduce((n, d) => n + d.tags.length, 0);
  return `V8's heap is capped at ${Math.round(heapLimitMb)} MB, and ${tags} tags need about ${needMb} MB: raise --max-old-space-size in FACTORYLM_NODE_FLAGS (sudo systemctl edit factorylm-agent) or remove it, or the agent may run out of memory and restart in a loop (deploy/README.md, "Memory")`;
}
