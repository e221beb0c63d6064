import {
  BOOLEAN,
  loadValue,
  NO_VALUE,
  NUMBER,
  QUALITIES,
  storeValue,
  TEXT,
  type ValueColumns,
} from '../protocols/sample-frame.js';
import type { Quality, TagValue } from '../protocols/types.js';

/** When a tag is published: report by exception with a heartbeat. */
export interface PublishPolicy {
  /** Absolute deadband, engineering units; 0 = any change. */
  deadband: number;
  /** Deadband as a percent of the last published value; 0 = off. */
  deadbandPercent: number;
  /** A value change waits at least this long after the previous publish, ms. */
  minIntervalMs: number;
  /** An unchanged value is re-published after this long, ms. */
  maxSilenceMs: number;
}

/** One tag as the table takes it. */
export interface TagEntry {
  asset: string;
  topic: string;
  /** `"<name>":` ready to splice into an asset-batch JSON body. */
  jsonKey: string;
  scale: number;
  offset: number;
  policy: PublishPolicy;
}

/** A sample as last published. */
export interface LastSample {
  v: TagValue | null;
  q: Quality;
  at: number;
}

/** lastValue.kind before a tag's first publish. */
const NEVER = 255;

/**
 * One device's tags as columns, by tag index (the order of the source's tagIds): topic, scaling,
 * report-by-exception policy and what was last published. Why columns: as an object per tag
 * (with its policy and last sample) 10,000 tags held 4.5 MB of the agent's heap, and every
 * publish wrote a boxed number into one (bench:footprint heap snapshots).
 */
export class TagTable {
  readonly topics: string[];
  readonly jsonKeys: string[];
  readonly assets: string[];
  readonly scale: Float64Array;
  readonly offset: Float64Array;
  private readonly deadband: Float64Array;
  private readonly deadbandPercent: Float64Array;
  private readonly minIntervalMs: Float64Array;
  private readonly maxSilenceMs: Float64Array;
  /** The last value published; kind NEVER before the first. */
  private readonly lastValue: ValueColumns;
  private readonly lastQuality: Uint8Array;
  private readonly lastAt: Float64Array;
  /** Built on first use: births and reloads look tags up by id, the poll path never does. */
  private index?: Map<string, number>;

  constructor(readonly ids: readonly string[]) {
    const n = ids.length;
    this.topics = new Array<string>(n);
    this.jsonKeys = new Array<string>(n);
    this.assets = new Array<string>(n);
    this.scale = new Float64Array(n);
    this.offset = new Float64Array(n);
    this.deadband = new Float64Array(n);
    this.deadbandPercent = new Float64Array(n);
    this.minIntervalMs = new Float64Array(n);
    this.maxSilenceMs = new Float64Array(n);
    this.lastValue = {
      kind: new Uint8Array(n).fill(NEVER),
      num: new Float64Array(n),
      text: new Array<string | undefined>(n),
    };
    this.lastQuality = new Uint8Array(n);
    this.lastAt = new Float64Array(n);
  }

  get size(): number {
    return this.ids.length;
  }

  set(i: number, t: TagEntry): void {
    this.assets[i] = t.asset;
    this.topics[i] = t.topic;
    this.jsonKeys[i] = t.jsonKey;
    this.scale[i] = t.scale;
    this.offset[i] = t.offset;
    this.deadband[i] = t.policy.deadband;
    this.deadbandPercent[i] = t.policy.deadbandPercent;
    this.minIntervalMs[i] = t.policy.minIntervalMs;
    this.maxSilenceMs[i] = t.policy.maxSilenceMs;
  }

  /** The tag's index, or -1. */
  indexOf(id: string): number {
    this.index ??= new Map(this.ids.map((tagId, i) => [tagId, i]));
    return this.index.get(id) ?? -1;
  }

  /**
   * Report by exception: publish when quality changes (always), when nothing was published for
   * `maxSilenceMs`, or when the value changed beyond the deadbands (booleans and strings on any
   * change) and `minIntervalMs` has passed since the last publish. `q` is a quality code
   * (protocols/sample-frame.ts).
   */
  shouldPublish(i: number, v: TagValue | null, q: number, now: number): boolean {
    const { kind: kinds, num, text } = this.lastValue;
    const kind = kinds[i]!;
    if (kind === NEVER) return true;
    if (this.lastQuality[i] !== q) return true;
    const since = now - this.lastAt[i]!;
    if (since >= this.maxSilenceMs[i]!) return true;
    if (since < this.minIntervalMs[i]!) return false;
    if (v === null || kind === NO_VALUE) return v !== null || kind !== NO_VALUE;
    if (typeof v === 'number') {
      if (kind !== NUMBER) return true;
      const last = num[i]!;
      const delta = Math.abs(v - last);
      if (delta === 0) return false;
      const deadband = this.deadband[i]!;
      if (deadband > 0 && delta <= deadband) return false;
      const percent = this.deadbandPercent[i]!;
      if (percent > 0 && delta <= (Math.abs(last) * percent) / 100) return false;
      return true;
    }
    if (typeof v === 'boolean') return kind !== BOOLEAN || v !== (num[i] !== 0);
    return kind !== TEXT || v !== text[i];
  }

  /** Records a published sample. */
  remember(i: number, v: TagValue | null, q: number, at: number): void {
    storeValue(this.lastValue, i, v);
    this.lastQuality[i] = q;
    this.lastAt[i] = at;
  }

  /** What was last published for tag `i`, if anything was. */
  last(i: number): LastSample | undefined {
    if (this.lastValue.kind[i] === NEVER) return undefined;
    return {
      v: loadValue(this.lastValue, i),
      q: QUALITIES[this.lastQuality[i]!]!,
      at: this.lastAt[i]!,
    };
  }

  /** Takes over tag `i`'s last published sample from another table (a reload). */
  carry(i: number, from: TagTable, j: number): void {
    this.lastValue.kind[i] = from.lastValue.kind[j]!;
    this.lastValue.num[i] = from.lastValue.num[j]!;
    this.lastValue.text[i] = from.lastValue.text[j];
    this.lastQuality[i] = from.lastQuality[j]!;
    this.lastAt[i] = from.lastAt[j]!;
  }
}
