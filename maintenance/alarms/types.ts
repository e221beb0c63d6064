/**
 * The alarm engine's contract with its caller (the gateway's maintenance bridge). Structural
 * types only: maintenance/ never imports gateway/, so the sample is declared here with the shape
 * of the gateway's TagPoint.
 */

import type { Priority } from '../cmms/types.js';

export type Quality = 'good' | 'bad' | 'uncertain';
export type SampleValue = number | boolean | string | null;

/** One tag sample, as the gateway consumes it (per-tag, asset-batch and Sparkplug alike). */
export interface AlarmSample {
  site: string;
  area: string;
  line: string;
  asset: string;
  tag: string;
  /** Edge node that published it, when its tag manifest is known: comm-loss alarms need it. */
  node?: string;
  value: SampleValue;
  quality: Quality;
  /** Epoch ms of the sample at its source. */
  ts: number;
}

/** ISA-18.2 alarm states (shelving and suppression are flags beside them). */
export type AlarmState = 'normal' | 'active_unacked' | 'active_acked' | 'returned_unacked';

export type AlarmEventKind =
  | 'raised'
  | 'cleared'
  | 'acked'
  | 'shelved'
  | 'unshelved'
  | 'chattering'
  | 'suppressed'
  | 'unsuppressed';

/** Atlas CMMS work-order priorities: the CMMS client's own list. */
export type CmmsPriority = Priority;

export interface ShelveInfo {
  /** Epoch ms when the shelve ends by itself. */
  untilMs: number;
  /** Who shelved it: a user name, or `chatter` when the engine did. */
  by: string;
  reason: string;
}

/** One alarm as `list()` shows it and as its retained MQTT state carries it. */
export interface AlarmSnapshot {
  /** `<site>/<asset>/<rule>` */
  key: string;
  site: string;
  area: string;
  line: string;
  asset: string;
  rule: string;
  node?: string;
  tag?: string;
  severity: string;
  priority: CmmsPriority;
  state: AlarmState;
  /** A shelve in force, or null. */
  shelved: ShelveInfo | null;
  /** True while a communication-loss alarm of the asset holds this one back. */
  suppressed: boolean;
  /** Last value the rule evaluated (null for comm-loss and stale). */
  value: SampleValue;
  /** Human text of the condition: `error_code = 1: motor overload`. */
  text: string;
  /** Activations since the alarm was last normal and acknowledged. */
  occurrences: number;
  /** Epoch ms of the latest raise, or null if it never was raised. */
  raisedAt: number | null;
  /** When the raised alarm is due in the CMMS, epoch ms (raisedAt + the rule's dueInHours). */
  dueAt: number | null;
  /** Epoch ms of the latest change of this snapshot. */
  ts: number;
  description: string;
  closeOnClear: boolean;
  /** Asset status the work order sets (Atlas `assetStatus`), when the rule names one. */
  assetStatus?: string;
}

/** What the engine tells its caller; `state` is the ISA-18.2 state after the event. */
export interface AlarmEvent extends AlarmSnapshot {
  kind: AlarmEventKind;
  /** User behind an ack, shelve or unshelve (`chatter`, `expiry` when the engine did it). */
  by?: string;
}

export interface AlarmStats {
  /** Rules after presets were expanded. */
  rules: number;
  /** Alarm instances (asset × rule) the engine tracks. */
  alarms: number;
  /** Samples that reached at least one rule. */
  samples: number;
  /** Rule evaluations (a sample reaching two rules counts two). */
  evaluations: number;
  active: number;
  unacked: number;
  shelved: number;
  suppressed: number;
  chattering: number;
  /** Events emitted, by kind. */
  events: Record<AlarmEventKind, number>;
  /** Samples of bad or uncertain quality: they drive no value rule. */
  badSamplesIgnored: number;
  /** Samples older than the last one seen for their tag (replayed history): not evaluated. */
  outOfOrderIgnored: number;
  /** Samples older than `lateSampleMs`: they may clear an alarm, never raise one. */
  lateSamples: number;
  /** Values a rule cannot compare (a string on a threshold rule …). */
  typeMismatches: number;
  /** New assets refused because `maxAlarms` was reached. */
  refused: number;
  /** Errors from the event callback or the state store, logged and counted. */
  errors: number;
}

export type AckResult =
  | { ok: true; state: AlarmState }
  | { ok: false; error: string; status: 'not-found' | 'conflict' | 'invalid' };
