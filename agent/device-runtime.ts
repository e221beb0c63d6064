import { tagId } from '../protocols/driver.js';
import { tagTopic } from '../protocols/mqtt/topics.js';
import { driverFor, type DeviceConfig } from '../protocols/registry.js';
import type { TagSource } from '../protocols/types.js';
import type { AgentConfig } from './config.js';
import type { CyclePublisher } from './publishers.js';
import type { TagRuntime } from './tag-model.js';

/** A configured device while the agent polls it. */
export interface DeviceRuntime {
  config: DeviceConfig;
  source: TagSource;
  /** By tag id (`<asset>/<name>`). */
  tags: Map<string, TagRuntime>;
  /** Its output encoding (publish.output, publish.mode or the device's publishMode). */
  publisher: CyclePublisher;
  cycles: number;
  missedCycles: number;
}

/** The device's tags with their topics, scaling and report-by-exception policy. */
export function buildTags(config: AgentConfig, device: DeviceConfig): Map<string, TagRuntime> {
  const driver = driverFor(device);
  const tags = new Map<string, TagRuntime>();
  for (const t of device.tags) {
    const asset = t.asset ?? device.asset;
    const id = tagId(device, t);
    tags.set(id, {
      id,
      device: device.name,
      asset,
      name: t.name,
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
      writable: t.writable,
      unit: t.unit,
      address: driver.tagAddress(device, t),
    });
  }
  return tags;
}

/** Tags that survive a reload keep their report-by-exception state: no burst of re-publishes. */
export function carryOverState(
  devices: readonly DeviceRuntime[],
  previous: ReadonlyMap<string, TagRuntime>,
): void {
  for (const d of devices)
    for (const t of d.tags.values()) {
      const before = previous.get(t.id);
      if (before?.topic === t.topic) t.last = before.last;
    }
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
