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

/** Engineering conversion and report-by-exception state for one configured tag. */
export interface TagRuntime {
  id: string;
  device: string;
  asset: string;
  name: string;
  topic: string;
  /** `"<name>":` ready to splice into an asset-batch JSON body. */
  jsonKey: string;
  scale: number;
  offset: number;
  policy: PublishPolicy;
  writable: boolean;
  unit?: string;
  /** Where it lives in the device, as configured (Modbus address, OPC UA node id or path). */
  address?: string;
  /** Last value/quality published, and when. */
  last?: { v: TagValue | null; q: Quality; at: number };
}

/**
 * Report by exception: publish when quality changes (always), when nothing was published for
 * `maxSilenceMs`, or when the value changed beyond the deadbands (booleans and strings on any
 * change) and `minIntervalMs` has passed since the last publish.
 */
export function shouldPublish(
  last: TagRuntime['last'],
  v: TagValue | null,
  q: Quality,
  policy: PublishPolicy,
  now: number,
): boolean {
  if (!last) return true;
  if (last.q !== q) return true;
  const since = now - last.at;
  if (since >= policy.maxSilenceMs) return true;
  if (since < policy.minIntervalMs) return false;
  if (v === null || last.v === null) return v !== last.v;
  if (typeof v === 'number' && typeof last.v === 'number') {
    const delta = Math.abs(v - last.v);
    if (delta === 0) return false;
    if (policy.deadband > 0 && delta <= policy.deadband) return false;
    if (policy.deadbandPercent > 0 && delta <= (Math.abs(last.v) * policy.deadbandPercent) / 100)
      return false;
    return true;
  }
  return v !== last.v;
}
