import { AssetBatchWriter, encodeTagPayload } from '../protocols/mqtt/payload.js';
import { sparkplugTopic } from '../protocols/mqtt/sparkplug-topic.js';
import { assetTopic } from '../protocols/mqtt/topics.js';
import { tagId } from '../protocols/driver.js';
import { driverFor, type DeviceConfig } from '../protocols/registry.js';
import { QUALITIES, type SampleFrame } from '../protocols/sample-frame.js';
import type { TagValue } from '../protocols/types.js';
import type { AgentConfig } from './config.js';
import { encodeSamples, type StoredSample } from './sparkplug-records.js';
import type { SparkplugSessionOptions } from './sparkplug-session.js';
import { toEngineering } from '../protocols/tag-values.js';
import type { TagTable } from './tag-model.js';

/** Where encoded messages go: the outbox. */
export interface MessageSink {
  append(topic: string, payload: string | Buffer, samples: number, ts: number): void;
}

/** One output encoding: takes a cycle's accepted samples of one device, one at a time. */
export interface CyclePublisher {
  /** Tag `i` of `tags` with its engineering value; the rest of the sample is `frame`'s slot `s`. */
  add(tags: TagTable, i: number, value: TagValue | null, frame: SampleFrame, s: number): void;
  /** The cycle is over: send what was collected. */
  end(): void;
}

/** `publish.mode: tag`: one JSON message per tag on its own topic. */
export class TagJsonPublisher implements CyclePublisher {
  constructor(private readonly sink: MessageSink) {}

  add(tags: TagTable, i: number, v: TagValue | null, frame: SampleFrame, s: number): void {
    const payload: Parameters<typeof encodeTagPayload>[0] = {
      v,
      ts: frame.sampleTs(s),
      q: QUALITIES[frame.quality[s]!]!,
    };
    const reason = frame.reason[s];
    if (reason) payload.r = reason;
    this.sink.append(tags.topics[i]!, encodeTagPayload(payload), 1, frame.ts[s]!);
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

  add(tags: TagTable, i: number, v: TagValue | null, frame: SampleFrame, s: number): void {
    const asset = tags.assets[i]!;
    let batch = this.batches.get(asset);
    if (!batch) this.batches.set(asset, (batch = new AssetBatchWriter(frame.ts[s]!)));
    batch.add(tags.jsonKeys[i]!, v, QUALITIES[frame.quality[s]!]!, frame.reason[s]);
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

  add(tags: TagTable, i: number, v: TagValue | null, frame: SampleFrame, s: number): void {
    this.samples.push([tags.ids[i]!, v, QUALITIES[frame.quality[s]!]!, frame.sampleTs(s)]);
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
 * Report by exception: each sample becomes an engineering value, and the publisher gets those
 * the tag's policy lets through. Returns the samples read and accepted.
 */
export function publishCycle(
  tags: TagTable,
  frame: SampleFrame,
  publisher: CyclePublisher,
): { read: number; accepted: number } {
  let accepted = 0;
  for (let s = 0; s < frame.count; s++) {
    const i = frame.tag[s]!;
    const raw = frame.value(s);
    const v = raw === null ? null : toEngineering(raw, tags.scale[i]!, tags.offset[i]!);
    const q = frame.quality[s]!;
    const ts = frame.ts[s]!;
    if (!tags.shouldPublish(i, v, q, ts)) continue;
    tags.remember(i, v, q, ts);
    accepted += 1;
    publisher.add(tags, i, v, frame, s);
  }
  publisher.end();
  return { read: frame.count, accepted };
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
