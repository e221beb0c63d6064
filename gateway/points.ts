import { escape } from '@influxdata/influxdb-client';
import type { Quality, TagValue } from '../protocols/types.js';

export const TAG_MEASUREMENT = 'plc_tags';
/** What the plant's old services wrote (ARCHITECTURE.md), kept for their queries. */
export const LEGACY_MEASUREMENT = 'plc_registers';

/** One tag sample as the gateway stores it (ARCHITECTURE.md, measurement `plc_tags`). */
export interface TagPoint {
  site: string;
  area: string;
  line: string;
  asset: string;
  tag: string;
  /** Edge node that produced it, when its tag manifest is known. */
  node?: string;
  value: TagValue | null;
  quality: Quality;
  /** Why quality is not good, as the agent said (`timeout`, `exception 2 …`). */
  reason?: string;
  /** Epoch milliseconds; backfilled samples keep their original time. */
  ts: number;
  /** Its series text (`seriesOf`), when the producer keeps it per tag: saves a lookup per point. */
  series?: string;
}

/** Field text of each quality, sorted before `text` and `value` as line protocol wants. */
const QUALITY_FIELD: Record<string, string> = {
  good: 'quality="good"',
  bad: 'quality="bad"',
  uncertain: 'quality="uncertain"',
};

/** The tags of a series: a point without its value, quality and time. */
export type SeriesTags = Pick<TagPoint, 'site' | 'area' | 'line' | 'asset' | 'tag' | 'node'>;

/** Measurement and sorted tags of a line, escaped; an empty value is left out, as the client's Point does. */
export function seriesOf(p: SeriesTags): string {
  const tags: [string, string | undefined][] = [
    ['area', p.area],
    ['asset', p.asset],
    ['line', p.line],
    ['node', p.node],
    ['site', p.site],
    ['tag', p.tag],
  ];
  let text = TAG_MEASUREMENT;
  for (const [k, v] of tags) if (v) text += `,${k}=${escape.tag(v)}`;
  return text;
}

/** Most series a caller keeps texts of (see Gateway.series); beyond, it starts again. */
export const SERIES_CACHE_MAX = 100_000;

/**
 * InfluxDB line protocol for one point, millisecond precision, as the client's `Point` writes
 * it. `value` is always a float, bits as 0/1: InfluxDB fixes a field's type per measurement and
 * shard, so booleans beside floats in one `value` field make every write of the other type fail
 * with "field type conflict". String tags (serial numbers, recipe names) go to a `text` field
 * for the same reason.
 */
export function toLine(p: TagPoint): string {
  return lineOf(p.series ?? seriesOf(p), p.value, p.quality, p.ts);
}

/** A line of `series` (from `seriesOf`), for callers that keep the series text themselves. */
export function lineOf(
  series: string,
  value: TagPoint['value'],
  quality: string,
  ts: number,
): string {
  let fields = QUALITY_FIELD[quality] ?? `quality=${escape.quoted(quality)}`;
  if (typeof value === 'string') fields += `,text=${escape.quoted(value)}`;
  else if (value !== null) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`invalid float value for field 'value': ${value}`);
    fields += `,value=${n}`;
  }
  return `${series} ${fields} ${ts}`;
}

/**
 * The old services' line for a sample, written beside `plc_tags` with `influx.legacyRegisters`:
 * measurement `plc_registers`, tags `register_name` (the tag) and `register_addr` (its PLC
 * address from the node's manifest; left out when unknown), plus `asset` so two assets' tags of
 * one name do not overwrite each other; field `value` as a float. Text and missing values had
 * no place there: none.
 */
export function legacyLine(
  asset: string,
  tag: string,
  address: string | undefined,
  value: TagPoint['value'],
  ts: number,
): string | undefined {
  if (value === null || typeof value === 'string') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) return undefined;
  // As in seriesOf, an empty tag value is left out: `asset=` alone is not valid line protocol.
  let line = LEGACY_MEASUREMENT;
  if (asset) line += `,asset=${escape.tag(asset)}`;
  if (address) line += `,register_addr=${escape.tag(address)}`;
  return `${line},register_name=${escape.tag(tag)} value=${n} ${ts}`;
}
