import { Point } from '@influxdata/influxdb-client';
import type { Quality, TagValue } from '../protocols/types.js';

export const TAG_MEASUREMENT = 'plc_tags';

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
  /** Epoch milliseconds; backfilled samples keep their original time. */
  ts: number;
}

const msTime = (v: string | number | Date | undefined) => (v === undefined ? undefined : String(v));

/**
 * InfluxDB line protocol for one point, millisecond precision. `value` is always a float, bits
 * as 0/1: InfluxDB fixes a field's type per measurement and shard, so booleans beside floats in
 * one `value` field make every write of the other type fail with "field type conflict".
 * String tags (serial numbers, recipe names) go to a `text` field for the same reason.
 */
export function toLine(p: TagPoint): string {
  const point = new Point(TAG_MEASUREMENT)
    .tag('site', p.site)
    .tag('area', p.area)
    .tag('line', p.line)
    .tag('asset', p.asset)
    .tag('tag', p.tag)
    .stringField('quality', p.quality)
    .timestamp(p.ts);
  if (p.node) point.tag('node', p.node);
  if (typeof p.value === 'string') point.stringField('text', p.value);
  else if (p.value !== null) point.floatField('value', Number(p.value));
  return point.toLineProtocol({ convertTime: msTime })!;
}
