import { tagId } from '../protocols/driver.js';
import { tagTopic } from '../protocols/mqtt/topics.js';
import { driverFor, type DeviceConfig } from '../protocols/registry.js';
import type { TagSource } from '../protocols/types.js';
import type { AgentConfig } from './config.js';
import type { CyclePublisher } from './publishers.js';
import { TagTable } from './tag-model.js';

/** A configured device while the agent polls it. */
export interface DeviceRuntime {
  config: DeviceConfig;
  source: TagSource;
  /** Its tags, in the source's order. */
  tags: TagTable;
  /** Its output encoding (publish.output, publish.mode or the device's publishMode). */
  publisher: CyclePublisher;
  cycles: number;
  missedCycles: number;
}

/**
 * The device's tags with their topics, scaling and report-by-exception policy, indexed like the
 * source's samples (`ids`: its tagIds, the config's tags in order).
 */
export function buildTags(
  config: AgentConfig,
  device: DeviceConfig,
  ids: readonly string[],
): TagTable {
  const tags = new TagTable(ids);
  for (const [i, t] of device.tags.entries()) {
    const asset = t.asset ?? device.asset;
    if (ids[i] !== tagId(device, t))
      throw new Error(
        `internal error: device ${device.name}'s source lists tag ${ids[i]} where the config has ${tagId(device, t)}`,
      );
    tags.set(i, {
      asset,
      topic: tagTopic({
        site: config.site,
        area: config.area,
        line: config.line,
        asset,
        tag: t.name,
      }),
      jsonKey: JSON.stringify(t.name) + ':',
      scale: t.scale,
      offset: t.offset,
      policy: {
        deadband: t.deadband,
        deadbandPercent: t.deadbandPercent,
        minIntervalMs: t.minIntervalMs ?? config.publish.minIntervalMs,
        maxSilenceMs: t.maxSilenceMs ?? config.publish.heartbeatMs,
      },
    });
  }
  return tags;
}

/** Tags that survive a reload keep their report-by-exception state: no burst of re-publishes. */
export function carryOverState(
  devices: readonly DeviceRuntime[],
  previous: readonly DeviceRuntime[],
): void {
  const before = new Map<string, [TagTable, number]>();
  for (const d of previous) d.tags.ids.forEach((id, j) => before.set(id, [d.tags, j]));
  for (const d of devices)
    d.tags.ids.forEach((id, i) => {
      const [old, j] = before.get(id) ?? [];
      if (old && old.topics[j!] === d.tags.topics[i]) d.tags.carry(i, old, j!);
    });
}

/** A device as the start-up log shows it. */
export function describeDevice(d: DeviceRuntime) {
  return {
    name: d.config.name,
    endpoint: driverFor(d.config).endpoint(d.config),
    tags: d.tags.size,
    ...(d.source.planned ? { requests: d.source.planned.length } : {}),
    pollMs: d.config.pollIntervalMs,
  };
}
