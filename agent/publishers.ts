import { AssetBatchWriter, encodeTagPayload } from '../protocols/mqtt/payload.js';
import { sparkplugTopic } from '../protocols/mqtt/sparkplug-topic.js';
import { assetTopic } from '../protocols/mqtt/topics.js';
import { tagId } from '../protocols/driver.js';
import { driverFor, type DeviceConfig } from '../protocols/registry.js';
import type { Reading, TagValue } from '../protocols/types.js';
import type { AgentConfig } from './config.js';
import { encodeSamples, type StoredSample } from './sparkplug-records.js';
import type { SparkplugSessionOptions } from './sparkplug-session.js';
import { toEngineering } from '../protocols/tag-values.js';
import { shouldPublish, type TagRuntime } from './tag-model.js';

/** Where encoded messages go: the outbox. */
export interface MessageSink {
  append(topic: string, payload: string | Buffer, samples: number, ts: number): void;
}

/** One output encoding: takes a cycle's accepted samples of one device, one at a time. */
export interface CyclePublisher {
  add(tag: TagRuntime, value: TagValue | null, reading: Reading): void;
  /** The cycle is over: send what was collected. */
  end(): void;
}

/** `publish.mode: tag`: one JSON message per tag on its own topic. */
export class TagJsonPublisher implements CyclePublisher {
  constructor(private readonly sink: MessageSink) {}

  add(tag: TagRuntime, v: TagValue | null, r: Reading): void {
    const payload: Parameters<typeof encodeTagPayload>[0] = {
      v,
      ts: r.sourceTs ?? r.ts,
      q: r.quality,
    };
    if (r.reason) payload.r = r.reason;
    this.sink.append(tag.topic, encodeTagPayload(payload), 1, r.ts);
  }

  end(): void {}
}

/** `publish.mode: asset`: one message per asset per cycle with the changed tags. */
export class AssetBatchPublisher implements CyclePublisher {
  private batches = new Map<string, AssetBatchWriter>();

  constructor(
    private readonly sink: MessageSink,
    private readonly topicOf: (asset: string) => string,
  ) {}

  add(tag: TagRuntime, v: TagValue | null, r: Reading): void {
    let batch = this.batches.get(tag.asset);
    if (!batch) this.batches.set(tag.asset, (batch = new AssetBatchWriter(r.ts)));
    batch.add(tag.jsonKey, v, r.quality, r.reason);
  }

  end(): void {
    for (const [asset, batch] of this.batches)
      this.sink.append(this.topicOf(asset), batch.encode(), batch.count, batch.ts);
    this.batches = new Map();
  }
}

/**
 * `publish.output: sparkplug`: one DDATA per device per cycle. Stored as JSON samples and
 * encoded with sequence numbers when sent (agent/sparkplug-records.ts).
 */
export class SparkplugDataPublisher implements CyclePublisher {
  private samples: StoredSample[] = [];

  constructor(
    private readonly sink: MessageSink,
    private readonly topic: string,
  ) {}

  add(tag: TagRuntime, v: TagValue | null, r: Reading): void {
    this.samples.push([tag.id, v, r.quality, r.sourceTs ?? r.ts]);
  }

  end(): void {
    if (this.samples.length === 0) return;
    this.sink.append(
      this.topic,
      encodeSamples(this.samples),
      this.samples.length,
      this.samples[0]![3],
    );
    this.samples = [];
  }
}

/**
 * Report by exception: each reading becomes an engineering value, and the publisher gets those
 * the tag's policy lets through. Returns the samples read and accepted.
 */
export function publishCycle(
  tags: ReadonlyMap<string, TagRuntime>,
  readings: readonly Reading[],
  publisher: CyclePublisher,
): { read: number; accepted: number } {
  let read = 0;
  let accepted = 0;
  for (const r of readings) {
    const tag = tags.get(r.id);
    if (!tag) continue;
    read += 1;
    const v = r.value === null ? null : toEngineering(r.value, tag.scale, tag.offset);
    if (!shouldPublish(tag.last, v, r.quality, tag.policy, r.ts)) continue;
    // In place: a new object per sample lives one cycle, and at 100,000 samples/s that is
    // megabytes a second promoted to the old generation (bench:footprint heap profile).
    if (tag.last) {
      tag.last.v = v;
      tag.last.q = r.quality;
      tag.last.at = r.ts;
    } else tag.last = { v, q: r.quality, at: r.ts };
    accepted += 1;
    publisher.add(tag, v, r);
  }
  publisher.end();
  return { read, accepted };
}

/** The device's output: Sparkplug DDATA, or JSON per tag or per asset (publish.mode, per device). */
export function publisherFor(
  config: AgentConfig,
  device: DeviceConfig,
  sink: MessageSink,
): CyclePublisher {
  const { site, area, line, node } = config;
  if (config.publish.output === 'sparkplug')
    return new SparkplugDataPublisher(
      sink,
      sparkplugTopic({
        group: config.sparkplug.groupId ?? site,
        verb: 'DDATA',
        edgeNode: node,
        device: device.name,
      }),
    );
  if ((device.publishMode ?? config.publish.mode) === 'asset')
    return new AssetBatchPublisher(sink, (asset) => assetTopic({ site, area, line, asset }));
  return new TagJsonPublisher(sink);
}

/** Sparkplug births: every device with its tags as metrics named `<asset>/<tag>`. */
export function sparkplugDevices(config: AgentConfig): SparkplugSessionOptions['devices'] {
  return config.devices.map((d) => {
    const driver = driverFor(d);
    return {
      name: d.name,
      metrics: d.tags.map((t) => ({ name: tagId(d, t), type: driver.tagKind(d, t) })),
    };
  });
}
