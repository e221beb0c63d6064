import type { AlarmRule } from './rules.js';
import type { SampleValue } from './types.js';

/** Rules whose condition is computed from the value of a sample. */
export type ValueRule = Extract<
  AlarmRule,
  { kind: 'boolean' | 'equals' | 'notEquals' | 'in' | 'high' | 'low' | 'rate' }
>;

/** Booleans count as 0/1 on numeric rules; anything else has no number. */
function numberOf(v: SampleValue): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

/** Equality as a plant engineer means it: 1 = 1.0 = true, '3' ≠ 3 (a string tag is text). */
function same(v: SampleValue, target: number | string | boolean): boolean {
  if (typeof target === 'string' || typeof v === 'string') return v === target;
  return numberOf(v) === numberOf(target);
}

/**
 * Samples of one tag within a window, for the rate of change: a fixed ring, so a sample costs
 * no allocation. When more than `capacity` samples fall in the window the oldest are dropped,
 * which measures the rate over a shorter span.
 */
export class RateWindow {
  private readonly ts: Float64Array;
  private readonly values: Float64Array;
  private head = 0;
  private size = 0;

  constructor(
    readonly windowMs: number,
    readonly capacity = 64,
  ) {
    this.ts = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }

  /** Adds a sample and returns the rate per second from the oldest one in the window (0 alone). */
  push(ts: number, value: number): number {
    if (this.size === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.size -= 1;
    }
    const at = (this.head + this.size) % this.capacity;
    this.ts[at] = ts;
    this.values[at] = value;
    this.size += 1;
    while (this.size > 1 && ts - this.ts[this.head]! > this.windowMs) {
      this.head = (this.head + 1) % this.capacity;
      this.size -= 1;
    }
    const dt = ts - this.ts[this.head]!;
    return dt > 0 ? ((value - this.values[this.head]!) * 1000) / dt : 0;
  }
}

/**
 * The condition of a value rule for one sample: true = alarm condition present, undefined = the
 * value cannot be compared (a string on a threshold rule). `previous` is the condition before
 * this sample, which thresholds need for their hysteresis; `rate` is the rate per second from
 * the rule's RateWindow (rate rules only).
 */
export function evaluate(
  rule: ValueRule,
  value: SampleValue,
  previous: boolean,
  rate = 0,
): boolean | undefined {
  switch (rule.kind) {
    case 'boolean': {
      const n = numberOf(value);
      return n === undefined ? undefined : (n !== 0) === rule.when;
    }
    case 'equals':
      return value === null ? undefined : same(value, rule.value);
    case 'notEquals':
      return value === null ? undefined : !same(value, rule.value);
    case 'in':
      return value === null ? undefined : rule.values.some((t) => same(value, t));
    case 'high': {
      const n = numberOf(value);
      if (n === undefined) return undefined;
      // Raised above the limit, cleared only below limit - deadband (hysteresis).
      return previous ? n >= rule.limit - rule.deadband : n > rule.limit;
    }
    case 'low': {
      const n = numberOf(value);
      if (n === undefined) return undefined;
      return previous ? n <= rule.limit + rule.deadband : n < rule.limit;
    }
    case 'rate':
      if (rule.direction === 'rising') return rate > rule.limit;
      if (rule.direction === 'falling') return -rate > rule.limit;
      return Math.abs(rate) > rule.limit;
  }
}

/** 92.4, not 92.39999999. */
function num(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

function show(v: SampleValue): string {
  if (v === null) return 'no value';
  return typeof v === 'number' ? num(v) : String(v);
}

function withUnit(n: number, unit: string | undefined): string {
  return unit ? `${num(n)} ${unit}` : num(n);
}

/** Where a comm-loss alarm comes from, for its text. */
export interface CommSource {
  node?: string;
  device?: string;
  nodeOffline: boolean;
  deviceFailing: boolean;
}

/**
 * The human text of an alarm for its events and the work order: what the condition is while
 * `active`, and what it went back to otherwise. `rate` is the measured rate (rate rules),
 * `comm` the node and device states (comm-loss rules).
 */
export function describe(
  rule: AlarmRule,
  value: SampleValue,
  active: boolean,
  rate = 0,
  comm?: CommSource,
): string {
  switch (rule.kind) {
    case 'boolean':
      return `${rule.tag} = ${show(value)}`;
    case 'equals':
    case 'notEquals':
    case 'in': {
      const code = rule.codeTexts && value !== null ? rule.codeTexts[String(value)] : undefined;
      if (code) return `${rule.tag} = ${show(value)}: ${code}`;
      return rule.codeTexts && value !== null
        ? `${rule.tag} = ${show(value)}: unknown code`
        : `${rule.tag} = ${show(value)}`;
    }
    case 'high':
    case 'low': {
      const n = numberOf(value);
      if (n === undefined) return `${rule.tag} = ${show(value)} (${rule.kind})`;
      const sign = rule.kind === 'high' ? '>' : '<';
      if (active)
        return `${rule.tag} ${withUnit(n, rule.unit)} ${sign} ${num(rule.limit)} (${rule.kind})`;
      const back = rule.kind === 'high' ? rule.limit - rule.deadband : rule.limit + rule.deadband;
      return `${rule.tag} ${withUnit(n, rule.unit)} back ${rule.kind === 'high' ? 'below' : 'above'} ${num(back)} (${rule.kind})`;
    }
    case 'rate': {
      const per = rule.unit ? `${rule.unit}/s` : '/s';
      const way = rate >= 0 ? 'rising' : 'falling';
      return active
        ? `${rule.tag} ${way} ${num(Math.abs(rate))} ${per} > ${num(rule.limit)} ${per} (rate)`
        : `${rule.tag} changing ${num(Math.abs(rate))} ${per}, within ${num(rule.limit)} ${per} (rate)`;
    }
    case 'stale':
      return active
        ? `${rule.tag}: no good sample for ${num(rule.afterMs / 1000)} s (stale)`
        : `${rule.tag}: good samples again (stale)`;
    case 'comm_loss': {
      const node = comm?.node ?? 'unknown node';
      if (!active) return `node ${node} and its device reachable again (communication loss)`;
      if (comm?.nodeOffline) return `node ${node} offline (communication loss)`;
      return `device ${comm?.device ?? '?'} on node ${node} failing (communication loss)`;
    }
  }
}
