import type { Quality, TagValue } from '../protocols/types.js';

/** Engineering conversion and report-by-exception state for one configured tag. */
export interface TagRuntime {
  id: string;
  device: string;
  asset: string;
  name: string;
  topic: string;
  scale: number;
  offset: number;
  deadband: number;
  writable: boolean;
  unit?: string;
  /** Last value/quality published, and when. */
  last?: { v: TagValue | null; q: Quality; at: number };
}

/**
 * raw × scale + offset, rounded to 12 significant digits so that 253 × 0.1 reads 25.3 rather
 * than 25.300000000000001 in every dashboard downstream.
 */
export function toEngineering(raw: TagValue, scale: number, offset: number): TagValue {
  if (typeof raw !== 'number') return raw;
  if (scale === 1 && offset === 0) return raw;
  return Number((raw * scale + offset).toPrecision(12));
}

/** Inverse of toEngineering, for writes; the codec then checks the raw value fits its type. */
export function toRaw(value: TagValue, scale: number, offset: number, integer: boolean): TagValue {
  if (typeof value !== 'number') return value;
  const raw = (value - offset) / scale;
  return integer ? Math.round(raw) : raw;
}

/**
 * Report by exception: publish when quality changes, a boolean flips, a number moves by more
 * than the deadband (any change when it is 0), or nothing was published for `heartbeatMs`.
 */
export function shouldPublish(
  last: TagRuntime['last'],
  v: TagValue | null,
  q: Quality,
  deadband: number,
  heartbeatMs: number,
  now: number,
): boolean {
  if (!last) return true;
  if (last.q !== q) return true;
  if (now - last.at >= heartbeatMs) return true;
  if (v === null || last.v === null) return v !== last.v;
  if (typeof v === 'number' && typeof last.v === 'number') {
    const delta = Math.abs(v - last.v);
    return deadband > 0 ? delta > deadband : delta > 0;
  }
  return v !== last.v;
}
