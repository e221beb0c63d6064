import { AssetBatchWriter, encodeTagPayload } from '../protocols/mqtt/payload.js';
import type { Reading, TagValue } from '../protocols/types.js';
import type { DeviceRuntime } from './device-runtime.js';
import { encodeSamples, type StoredSample } from './sparkplug-records.js';
import { shouldPublish, toEngineering, type TagRuntime } from './tag-model.js';

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
  device: DeviceRuntime,
  readings: readonly Reading[],
  publisher: CyclePublisher,
): { read: number; accepted: number } {
  let read = 0;
  let accepted = 0;
  for (const r of readings) {
    const tag = device.tags.get(r.id);
    if (!tag) continue;
    read += 1;
    const v = r.value === null ? null : toEngineering(r.value, tag.scale, tag.offset);
    if (!shouldPublish(tag.last, v, r.quality, tag.policy, r.ts)) continue;
    tag.last = { v, q: r.quality, at: r.ts };
    accepted += 1;
    publisher.add(tag, v, r);
  }
  publisher.end();
  return { read, accepted };
}
