/**
 * The last minutes of each asset's tags, kept in memory for the diagnosis context: what the
 * machine did before the fault is what a maintenance engineer looks at first. Bounded three ways
 * (assets, tags per asset, points per tag) and thinned to one point per `stepMs`, so a tag
 * sampled at 10 Hz costs no more than one sampled once a second.
 */

type Value = number | string | boolean | null;

export interface RecentSamplesLimits {
  /** How far back a tag is kept, ms. */
  windowMs: number;
  /** At most one point per tag per step, ms. */
  stepMs: number;
  maxAssets: number;
  maxTagsPerAsset: number;
}

/** A ring of [ts, value] for one tag. */
class Ring {
  readonly ts: Float64Array;
  readonly values: Value[];
  start = 0;
  size = 0;

  constructor(capacity: number) {
    this.ts = new Float64Array(capacity);
    this.values = new Array<Value>(capacity).fill(null);
  }

  get last(): number {
    return this.size === 0 ? -Infinity : this.ts[(this.start + this.size - 1) % this.ts.length]!;
  }

  push(ts: number, v: Value): void {
    const cap = this.ts.length;
    const at = (this.start + this.size) % cap;
    this.ts[at] = ts;
    this.values[at] = v;
    if (this.size < cap) this.size += 1;
    else this.start = (this.start + 1) % cap;
  }

  since(from: number): Array<[number, Value]> {
    const out: Array<[number, Value]> = [];
    const cap = this.ts.length;
    for (let i = 0; i < this.size; i++) {
      const at = (this.start + i) % cap;
      if (this.ts[at]! >= from) out.push([this.ts[at]!, this.values[at]!]);
    }
    return out;
  }
}

export class RecentSamples {
  /** site → asset → tag → ring: nested, so a sample costs lookups and no key string. */
  private readonly sites = new Map<string, Map<string, Map<string, Ring>>>();
  private assetCount = 0;
  private readonly capacity: number;
  /** Samples not kept because a limit was reached. */
  refused = 0;

  constructor(private readonly limits: RecentSamplesLimits) {
    this.capacity = Math.max(2, Math.ceil(limits.windowMs / limits.stepMs) + 1);
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
      if (tags.size >= this.limits.maxTagsPerAsset) {
        this.refused += 1;
        return;
      }
      tags.set(tag, (ring = new Ring(this.capacity)));
    }
    // Older than what is kept (a replayed backlog) or within the step: nothing to add.
    if (ts < ring.last + this.limits.stepMs) return;
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
