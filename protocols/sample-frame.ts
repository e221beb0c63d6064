import type { Quality, Reading, TagValue } from './types.js';

/** Quality in a frame: an index into QUALITIES. */
export const QUALITIES: readonly Quality[] = ['good', 'bad', 'uncertain'];
export const GOOD = 0;
export const BAD = 1;

export function qualityCode(q: Quality): number {
  return q === 'good' ? GOOD : q === 'bad' ? BAD : 2;
}

/** What kind of value a sample holds; booleans are stored as 0/1 in `num`, text in `text`. */
export const NO_VALUE = 0;
export const NUMBER = 1;
export const BOOLEAN = 2;
export const TEXT = 3;

/** Values of every tag type as columns: a kind, the number (booleans as 0/1) and the text. */
export interface ValueColumns {
  kind: Uint8Array;
  num: Float64Array;
  text: (string | undefined)[];
}

export function storeValue(c: ValueColumns, i: number, value: TagValue | null): void {
  if (typeof value === 'number') {
    c.kind[i] = NUMBER;
    c.num[i] = value;
    c.text[i] = undefined;
  } else if (typeof value === 'boolean') {
    c.kind[i] = BOOLEAN;
    c.num[i] = value ? 1 : 0;
    c.text[i] = undefined;
  } else if (typeof value === 'string') {
    c.kind[i] = TEXT;
    c.text[i] = value;
  } else {
    c.kind[i] = NO_VALUE;
    c.text[i] = undefined;
  }
}

export function loadValue(c: ValueColumns, i: number): TagValue | null {
  switch (c.kind[i]) {
    case NUMBER:
      return c.num[i]!;
    case BOOLEAN:
      return c.num[i] !== 0;
    case TEXT:
      return c.text[i]!;
    default:
      return null;
  }
}

/**
 * The samples of one read(), as columns: sample `s` is tag `tag[s]` (an index into `ids`, the
 * source's tags in config order) with its raw value, quality, reason and times.
 *
 * A source owns one frame and refills it on every read(), so a frame is valid until the next
 * read(). Why columns: at 100,000 samples/s an object per sample was most of the agent's
 * garbage, and collecting it a third of the agent's CPU (bench:footprint with --cpu-prof).
 */
export class SampleFrame implements ValueColumns {
  /** Samples in the frame. */
  count = 0;
  tag = new Uint32Array(0);
  kind = new Uint8Array(0);
  num = new Float64Array(0);
  text: (string | undefined)[] = [];
  quality = new Uint8Array(0);
  reason: (string | undefined)[] = [];
  /** When the response arrived, ms since the epoch. */
  ts = new Float64Array(0);
  /** When the value changed at the source where the device says (OPC UA); NaN when it does not. */
  sourceTs = new Float64Array(0);

  /** `ids`: the source's tag ids; the index of each is what `tag` holds. */
  constructor(
    readonly ids: readonly string[],
    capacity = ids.length,
  ) {
    this.reserve(Math.max(1, capacity), false);
  }

  /** Starts a read of `count` samples, written by slot with put() in any order; grows if needed. */
  reset(count: number): void {
    this.reserve(count, false);
    this.count = count;
  }

  /**
   * Adds `n` samples at the end, keeping the ones before, and returns the first new slot; for a
   * source that learns its samples one at a time (OPC UA notifications). Write them with put().
   */
  extend(n = 1): number {
    const first = this.count;
    this.reserve(first + n, true);
    this.count = first + n;
    return first;
  }

  /** Sample `slot` (below `count`): tag index, raw value, quality and why it is not good. */
  put(
    slot: number,
    tag: number,
    value: TagValue | null,
    quality: number,
    reason: string | undefined,
    ts: number,
    sourceTs = NaN,
  ): void {
    this.tag[slot] = tag;
    storeValue(this, slot, value);
    this.quality[slot] = quality;
    this.reason[slot] = reason;
    this.ts[slot] = ts;
    this.sourceTs[slot] = sourceTs;
  }

  /** Copies sample `from` of `src` (a frame of the same tags) into `slot`, read at `ts`. */
  copy(slot: number, src: SampleFrame, from: number, ts = src.ts[from]!): void {
    this.tag[slot] = src.tag[from]!;
    this.kind[slot] = src.kind[from]!;
    this.num[slot] = src.num[from]!;
    this.text[slot] = src.text[from];
    this.quality[slot] = src.quality[from]!;
    this.reason[slot] = src.reason[from];
    this.ts[slot] = ts;
    this.sourceTs[slot] = src.sourceTs[from]!;
  }

  /** The raw value of sample `slot`. */
  value(slot: number): TagValue | null {
    return loadValue(this, slot);
  }

  /** The time to publish for sample `slot`: the source's when it gave one. */
  sampleTs(slot: number): number {
    const s = this.sourceTs[slot]!;
    return Number.isNaN(s) ? this.ts[slot]! : s;
  }

  /** The samples as objects, for the CLI, `agent --test` and tests; the agent reads the columns. */
  readings(): Reading[] {
    const out: Reading[] = [];
    for (let s = 0; s < this.count; s++) {
      const r: Reading = {
        id: this.ids[this.tag[s]!]!,
        value: this.value(s),
        quality: QUALITIES[this.quality[s]!]!,
        ts: this.ts[s]!,
      };
      const reason = this.reason[s];
      if (reason !== undefined) r.reason = reason;
      if (!Number.isNaN(this.sourceTs[s])) r.sourceTs = this.sourceTs[s]!;
      out.push(r);
    }
    return out;
  }

  /** Room for `n` samples, keeping the first `count` when `keep`; grows at least twofold. */
  private reserve(n: number, keep: boolean): void {
    if (n <= this.tag.length) return;
    const size = Math.max(n, this.tag.length * 2);
    const used = keep ? this.count : 0;
    this.tag = grown(this.tag, new Uint32Array(size), used);
    this.kind = grown(this.kind, new Uint8Array(size), used);
    this.num = grown(this.num, new Float64Array(size), used);
    this.text = grownList(this.text, size, used);
    this.quality = grown(this.quality, new Uint8Array(size), used);
    this.reason = grownList(this.reason, size, used);
    this.ts = grown(this.ts, new Float64Array(size), used);
    this.sourceTs = grown(this.sourceTs, new Float64Array(size), used);
  }
}

function grown<T extends Uint8Array | Uint32Array | Float64Array>(
  old: T,
  next: T,
  used: number,
): T {
  if (used > 0) next.set(old.subarray(0, used));
  return next;
}

function grownList(
  old: (string | undefined)[],
  size: number,
  used: number,
): (string | undefined)[] {
  const next = new Array<string | undefined>(size);
  for (let s = 0; s < used; s++) next[s] = old[s];
  return next;
}
