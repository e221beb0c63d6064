/**
 * The last window of every tag, kept in the gateway so a live page shows history the moment it
 * loads. Bounded twice: at most `maxTags` tags (new ones beyond are counted, not kept) and at most
 * `perTag` samples per tag in a ring. The ring covers the whole window because time is cut into
 * buckets of `windowMs / (perTag - 2)` and a bucket keeps only its latest sample: a 10 Hz tag
 * keeps one sample per 6 s over 60 min, always ending with its latest value. Where quality
 * changes, the sample is kept whatever its bucket (a gap must not be thinned away).
 */

export interface RecentSamplesOptions {
  /** Longest time window a page may ask for, ms. Default 60 min. */
  windowMs: number;
  /** Samples kept per tag. Default 600 (one per 6 s over 60 min); 16 bytes each. */
  perTag: number;
  /** Tags kept; beyond, a new tag is counted in `dropped` and not kept. Default 5000. */
  maxTags: number;
}

export const DEFAULT_RECENT_SAMPLES: RecentSamplesOptions = {
  windowMs: 60 * 60_000,
  perTag: 600,
  maxTags: 5000,
};

/**
 * One tag's history as the page charts it: times (epoch ms), values (null = bad quality, a gap)
 * and, by index, the reason a value is missing.
 */
export interface TagHistory {
  ts: number[];
  v: (number | null)[];
  reasons: Record<number, string>;
}

/** A sample as the ring takes it: a chartable number, or null with a reason when bad. */
export interface RecentSample {
  ts: number;
  value: number | null;
  reason?: string;
}

class Ring {
  readonly ts: Float64Array;
  /** NaN marks a bad sample. */
  readonly v: Float64Array;
  /** Reasons of bad samples, by slot; cleared when the slot is reused. */
  readonly reasons = new Map<number, string>();
  start = 0;
  size = 0;

  constructor(capacity: number) {
    this.ts = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
  }

  slot(i: number): number {
    return (this.start + i) % this.ts.length;
  }

  push(s: RecentSample, bucketMs: number): void {
    const bad = s.value === null;
    if (this.size > 0) {
      const last = this.slot(this.size - 1);
      // Out-of-order samples (a replayed backlog) are not charted live: the ring stays sorted.
      if (s.ts < this.ts[last]!) return;
      const sameBucket = Math.floor(s.ts / bucketMs) === Math.floor(this.ts[last]! / bucketMs);
      const sameKind = Number.isNaN(this.v[last]!) === bad;
      // The entry where quality changed is never replaced: the gap starts where it started.
      const prevSameKind =
        this.size === 1 || Number.isNaN(this.v[this.slot(this.size - 2)]!) === bad;
      if (sameBucket && sameKind && prevSameKind) {
        this.set(last, s);
        return;
      }
    }
    if (this.size === this.ts.length) {
      this.reasons.delete(this.start);
      this.start = (this.start + 1) % this.ts.length;
      this.size -= 1;
    }
    this.set(this.slot(this.size), s);
    this.size += 1;
  }

  private set(slot: number, s: RecentSample): void {
    this.ts[slot] = s.ts;
    this.v[slot] = s.value ?? NaN;
    if (s.value === null) this.reasons.set(slot, s.reason ?? 'bad quality');
    else this.reasons.delete(slot);
  }
}

export class RecentSamples {
  private readonly options: RecentSamplesOptions;
  private readonly rings = new Map<string, Ring>();
  private readonly bucketMs: number;
  /** Samples of tags not kept because `maxTags` was reached. */
  dropped = 0;

  constructor(options: Partial<RecentSamplesOptions> = {}) {
    this.options = { ...DEFAULT_RECENT_SAMPLES, ...options };
    if (this.options.perTag < 3) throw new RangeError('perTag must be at least 3');
    // Entries sit in distinct buckets, so perTag of them span at least perTag - 2 whole buckets.
    this.bucketMs = this.options.windowMs / (this.options.perTag - 2);
  }

  get tagCount(): number {
    return this.rings.size;
  }

  get windowMs(): number {
    return this.options.windowMs;
  }

  add(key: string, sample: RecentSample): void {
    let ring = this.rings.get(key);
    if (!ring) {
      if (this.rings.size >= this.options.maxTags) {
        this.dropped += 1;
        return;
      }
      this.rings.set(key, (ring = new Ring(this.options.perTag)));
    }
    ring.push(sample, this.bucketMs);
  }

  /** The latest sample of every tag: `[ts, value]`, value null when bad. */
  latest(): Record<string, [number, number | null]> {
    const out: Record<string, [number, number | null]> = {};
    for (const [key, ring] of this.rings) {
      const slot = ring.slot(ring.size - 1);
      const v = ring.v[slot]!;
      out[key] = [ring.ts[slot]!, Number.isNaN(v) ? null : v];
    }
    return out;
  }

  /**
   * A tag's samples from `since` on, plus the last one before it: a value reported by exception
   * long ago still holds at the start of the window. Undefined for a tag never seen.
   */
  history(key: string, since: number): TagHistory | undefined {
    const ring = this.rings.get(key);
    if (!ring) return undefined;
    let first = 0;
    while (first < ring.size - 1 && ring.ts[ring.slot(first + 1)]! <= since) first += 1;
    const out: TagHistory = { ts: [], v: [], reasons: {} };
    for (let i = first; i < ring.size; i++) {
      const slot = ring.slot(i);
      const v = ring.v[slot]!;
      out.ts.push(ring.ts[slot]!);
      out.v.push(Number.isNaN(v) ? null : v);
      const reason = ring.reasons.get(slot);
      if (reason !== undefined) out.reasons[i - first] = reason;
    }
    return out;
  }
}
