/**
 * The last minutes of each asset's tags, kept in memory for the diagnosis context: what the
 * machine did before the fault is what a maintenance engineer looks at first. Bounded (assets,
 * tags per asset, points per tag, points in all) and thinned to `pointsPerTag` per window, so a
 * tag sampled at 10 Hz costs no more than one sampled once a minute. Rings grow as points come:
 * preallocating a window per tag cost 288 MB for 20,000 tags and had the gateway collecting
 * garbage more than working (bench:alarms).
 */

type Value = number | string | boolean | null;

export interface RecentSamplesLimits {
  /** How far back a tag is kept, ms. */
  windowMs: number;
  /** Points kept per tag over the window (one per windowMs / pointsPerTag at most). */
  pointsPerTag: number;
  maxAssets: number;
  maxTagsPerAsset: number;
  /** Points kept in all; new tags are refused beyond (counted). */
  maxPoints: number;
}

/** A ring of [ts, value] for one tag, growing to `capacity` before it wraps. */
class Ring {
  readonly ts: number[] = [];
  readonly values: Value[] = [];
  /** Oldest entry once full. */
  start = 0;
  last = -Infinity;

  constructor(private readonly capacity: number) {}

  push(ts: number, v: Value): void {
    this.last = ts;
    if (this.ts.length < this.capacity) {
      this.ts.push(ts);
      this.values.push(v);
      return;
    }
    this.ts[this.start] = ts;
    this.values[this.start] = v;
    this.start = (this.start + 1) % this.capacity;
  }

  since(from: number): Array<[number, Value]> {
    const out: Array<[number, Value]> = [];
    const n = this.ts.length;
    for (let i = 0; i < n; i++) {
      const at = (this.start + i) % n;
      if (this.ts[at]! >= from) out.push([this.ts[at]!, this.values[at]!]);
    }
    return out;
  }
}

export class RecentSamples {
  /** site → asset → tag → ring: nested, so a sample costs lookups and no key string. */
  private readonly sites = new Map<string, Map<string, Map<string, Ring>>>();
  private assetCount = 0;
  private tagCount = 0;
  private readonly stepMs: number;
  /** Samples not kept because a limit was reached. */
  refused = 0;

  constructor(private readonly limits: RecentSamplesLimits) {
    this.stepMs = limits.windowMs / limits.pointsPerTag;
  }

  /** One sample. Cheap when thinned away. */
  add(site: string, asset: string, tag: string, ts: number, value: Value): void {
    let assets = this.sites.get(site);
    if (!assets) this.sites.set(site, (assets = new Map()));
    let tags = assets.get(asset);
    if (!tags) {
      if (this.assetCount >= this.limits.maxAssets) {
        this.refused += 1;
        return;
      }
      this.assetCount += 1;
      assets.set(asset, (tags = new Map()));
    }
    let ring = tags.get(tag);
    if (!ring) {
      const full = (this.tagCount + 1) * this.limits.pointsPerTag > this.limits.maxPoints;
      if (tags.size >= this.limits.maxTagsPerAsset || full) {
        this.refused += 1;
        return;
      }
      this.tagCount += 1;
      tags.set(tag, (ring = new Ring(this.limits.pointsPerTag)));
    }
    // Older than what is kept (a replayed backlog) or within the step: nothing to add.
    if (ts < ring.last + this.stepMs) return;
    ring.push(ts, value);
  }

  /** The asset's tags over the window ending at `now`: tag → [ts, value] oldest first. */
  of(site: string, asset: string, now: number): Record<string, Array<[number, Value]>> {
    const out: Record<string, Array<[number, Value]>> = {};
    const tags = this.sites.get(site)?.get(asset);
    if (!tags) return out;
    const from = now - this.limits.windowMs;
    for (const [tag, ring] of tags) {
      const points = ring.since(from);
      if (points.length > 0) out[tag] = points;
    }
    return out;
  }
}
