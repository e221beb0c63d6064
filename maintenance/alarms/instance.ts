import { describe, RateWindow } from './conditions.js';
import type { AlarmRule } from './rules.js';
import type { StoredAlarm } from './state-store.js';
import type { AlarmSnapshot, AlarmState, SampleValue, ShelveInfo } from './types.js';

/** An asset the engine has seen: where its tags come from and its alarm instances. */
export interface AssetRecord {
  site: string;
  asset: string;
  area: string;
  line: string;
  node?: string;
  device?: string;
  instances: AlarmInstance[];
  /** Active communication-loss alarms of the asset: while > 0 its other alarms are suppressed. */
  suppressors: number;
}

/**
 * One rule on one asset: its condition, its ISA-18.2 state and its shelve. Plain mutable fields
 * (the engine drives every transition); `toStored` and `snapshot` are its two views.
 */
export class AlarmInstance {
  readonly key: string;
  cond = false;
  condSince = 0;
  active = false;
  announced = false;
  acked = true;
  occurrences = 0;
  lastTs = -Infinity;
  lastValue: SampleValue = null;
  raisedAt: number | null = null;
  shelved: ShelveInfo | null = null;
  activations: number[] = [];
  suppressNotified = false;
  text = '';
  ts = 0;
  /** Engine time of the last good sample (stale rules) or of the last sample (rate rules). */
  lastSeenAt = 0;
  /** Rate per second at the last sample (rate rules). */
  rate = 0;
  readonly window: RateWindow | undefined;
  /** A type mismatch was logged already (once per alarm, not per sample). */
  warned = false;

  constructor(
    readonly rule: AlarmRule,
    readonly rec: AssetRecord,
    now: number,
  ) {
    this.key = `${rec.site}/${rec.asset}/${rule.name}`;
    this.window = rule.kind === 'rate' ? new RateWindow(rule.windowMs) : undefined;
    this.lastSeenAt = now;
    this.ts = now;
  }

  /** ISA-18.2 state from whether the activation was announced and acknowledged. */
  get state(): AlarmState {
    if (this.announced) return this.acked ? 'active_acked' : 'active_unacked';
    return this.acked ? 'normal' : 'returned_unacked';
  }

  get suppressed(): boolean {
    return this.rule.kind !== 'comm_loss' && this.rec.suppressors > 0;
  }

  /** Raised events are held back while shelved or suppressed. */
  get silenced(): boolean {
    return this.shelved !== null || this.suppressed;
  }

  restore(s: StoredAlarm): void {
    this.cond = s.cond;
    this.condSince = s.condSince;
    this.active = s.active;
    this.announced = s.announced;
    this.acked = s.acked;
    this.occurrences = s.occurrences;
    this.lastTs = s.lastTs ?? -Infinity;
    this.lastValue = s.lastValue;
    this.raisedAt = s.raisedAt;
    this.shelved = s.shelved;
    this.activations = Array.isArray(s.activations) ? s.activations : [];
    this.suppressNotified = s.suppressNotified;
    this.text = s.text;
    this.ts = s.ts;
  }

  toStored(): StoredAlarm {
    const { rec } = this;
    return {
      key: this.key,
      site: rec.site,
      area: rec.area,
      line: rec.line,
      asset: rec.asset,
      rule: this.rule.name,
      cond: this.cond,
      condSince: this.condSince,
      active: this.active,
      announced: this.announced,
      acked: this.acked,
      occurrences: this.occurrences,
      // JSON has no -Infinity: never evaluated is stored as null and read back as -Infinity.
      lastTs: Number.isFinite(this.lastTs) ? this.lastTs : (null as unknown as number),
      lastValue: this.lastValue,
      raisedAt: this.raisedAt,
      shelved: this.shelved,
      activations: this.activations,
      suppressNotified: this.suppressNotified,
      text: this.text,
      ts: this.ts,
    };
  }

  /** The text of the condition now (active) or of its return (not active). */
  describe(nodeOffline: boolean, deviceFailing: boolean): string {
    const { rec } = this;
    return describe(this.rule, this.lastValue, this.active, this.rate, {
      ...(rec.node !== undefined ? { node: rec.node } : {}),
      ...(rec.device !== undefined ? { device: rec.device } : {}),
      nodeOffline,
      deviceFailing,
    });
  }

  snapshot(): AlarmSnapshot {
    const { rule, rec } = this;
    return {
      key: this.key,
      site: rec.site,
      area: rec.area,
      line: rec.line,
      asset: rec.asset,
      rule: rule.name,
      ...(rec.node !== undefined ? { node: rec.node } : {}),
      ...(rule.kind !== 'comm_loss' ? { tag: rule.tag } : {}),
      severity: rule.severity,
      priority: rule.priority,
      state: this.state,
      shelved: this.shelved,
      suppressed: this.suppressed,
      value: this.lastValue,
      text: this.text,
      occurrences: this.occurrences,
      raisedAt: this.raisedAt,
      dueAt: this.raisedAt === null ? null : this.raisedAt + rule.dueInMs,
      ts: this.ts,
      description: rule.description,
      closeOnClear: rule.closeOnClear,
      ...(rule.assetStatus !== undefined ? { assetStatus: rule.assetStatus } : {}),
    };
  }
}
