import { z } from 'zod';
import { stateFileField } from '../../core/config/state-file.js';
import { stateFile } from '../../core/state-dir.js';
import { ASSET_STATUSES } from '../cmms/types.js';
import type { CmmsPriority } from './types.js';
import { MICRO820_CODES, micro820Preset, micro820PresetSchema } from './presets.js';

/** Atlas CMMS asset statuses a work order may set (`assetStatus`): the CMMS client's own list. */
export { ASSET_STATUSES };

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Default CMMS priority and due time of each severity; a rule may override either. */
export const SEVERITY_DEFAULTS: Record<Severity, { priority: CmmsPriority; dueInHours: number }> = {
  critical: { priority: 'HIGH', dueInHours: 4 },
  high: { priority: 'HIGH', dueInHours: 24 },
  medium: { priority: 'MEDIUM', dueInHours: 72 },
  low: { priority: 'LOW', dueInHours: 168 },
  info: { priority: 'NONE', dueInHours: 720 },
};

/** Code → text tables a rule may name instead of writing its own. */
export const CODE_TABLES: Record<string, Record<string, string>> = { micro820: MICRO820_CODES };

const HOUR_MS = 3_600_000;

const ruleName = z
  .string()
  .regex(
    /^[a-z0-9_-]{1,64}$/,
    'use 1–64 of a-z, 0-9, _ and - (it is a level of the alarm MQTT topic)',
  );

/** Fields every rule has. `asset`/`assetType` are checked together by `alarmRulesSchema`. */
export const commonRuleFields = {
  name: ruleName.describe('Unique rule name; the alarm key is <site>/<asset>/<name>'),
  asset: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Asset the rule applies to, or * for every asset (with assetType: every asset of it)',
    ),
  assetType: z
    .string()
    .min(1)
    .optional()
    .describe('Only assets of this type (maintenance.alarms.assetTypes maps asset → type)'),
  severity: z
    .enum(SEVERITIES)
    .default('medium')
    .describe(
      'critical|high|medium|low|info: sets the CMMS priority (HIGH, HIGH, MEDIUM, LOW, NONE) and due time (4, 24, 72, 168, 720 h)',
    ),
  priority: z
    .enum(['NONE', 'LOW', 'MEDIUM', 'HIGH'])
    .optional()
    .describe('CMMS work-order priority; default from severity'),
  dueInHours: z
    .number()
    .positive()
    .max(24 * 365)
    .optional()
    .describe('Work order due this long after the alarm is raised, hours; default from severity'),
  description: z
    .string()
    .max(2000)
    .default('')
    .describe('What the alarm means and what to do first; goes into the work order'),
  group: ruleName
    .optional()
    .describe(
      'Alarms of one asset with the same group share one work order (a fault that sets both fault_alarm and error_code is one fault); default: the rule name',
    ),
  onDelayMs: z
    .int()
    .min(0)
    .max(HOUR_MS)
    .default(1000)
    .describe('The condition must hold this long before the alarm is raised, ms'),
  offDelayMs: z
    .int()
    .min(0)
    .max(HOUR_MS)
    .default(5000)
    .describe(
      'The condition must be gone this long before the alarm clears, ms; a return within it is the same activation',
    ),
  closeOnClear: z
    .boolean()
    .default(false)
    .describe('Complete the work order when the alarm clears (else a comment says it cleared)'),
  assetStatus: z
    .enum(ASSET_STATUSES)
    .optional()
    .describe('Asset status the work order sets in the CMMS, e.g. DOWN'),
};

const tag = z.string().min(1).describe('Tag the rule watches');
const unit = z.string().max(16).optional().describe('Unit shown in alarm texts, e.g. °C');
const enumValue = z.union([z.number(), z.string(), z.boolean()]);
const codes = z
  .union(
    [z.enum(Object.keys(CODE_TABLES) as [string, ...string[]]), z.record(z.string(), z.string())],
    {
      error: `a map of code → text, or the name of a built-in table (${Object.keys(CODE_TABLES).join(', ')})`,
    },
  )
  .optional()
  .describe(
    'Code → text table for alarm texts: a map, or micro820 for the built-in Micro 820 table',
  );

const booleanRule = z.strictObject({
  ...commonRuleFields,
  kind: z.literal('boolean'),
  tag,
  when: z.boolean().default(true).describe('Value that raises the alarm'),
});

const equalsRule = z.strictObject({
  ...commonRuleFields,
  kind: z.enum(['equals', 'notEquals']),
  tag,
  value: enumValue.describe('equals: raised at this value; notEquals: raised at any other value'),
  codes,
});

const inRule = z.strictObject({
  ...commonRuleFields,
  kind: z.literal('in'),
  tag,
  values: z.array(enumValue).min(1).describe('Values that raise the alarm'),
  codes,
});

const thresholdRule = z.strictObject({
  ...commonRuleFields,
  kind: z.enum(['high', 'low']),
  tag,
  limit: z.number().describe('high: raised above this value; low: raised below it'),
  deadband: z
    .number()
    .min(0)
    .default(0)
    .describe(
      'Hysteresis: a high alarm clears below limit - deadband, a low one above limit + deadband',
    ),
  unit,
});

const rateRule = z.strictObject({
  ...commonRuleFields,
  kind: z.literal('rate'),
  tag,
  limit: z
    .number()
    .positive()
    .describe('Raised when the value changes faster than this, per second'),
  windowMs: z
    .int()
    .min(100)
    .max(HOUR_MS)
    .default(10_000)
    .describe('Rate measured between the oldest and newest sample within this window, ms'),
  direction: z.enum(['rising', 'falling', 'both']).default('both').describe('Which changes count'),
  unit,
});

const staleRule = z.strictObject({
  ...commonRuleFields,
  kind: z.literal('stale'),
  tag,
  afterMs: z
    .int()
    .min(1000)
    .max(7 * 24 * HOUR_MS)
    .describe('Raised when the tag had no good sample for this long, ms'),
});

const commLossRule = z.strictObject({
  ...commonRuleFields,
  kind: z.literal('comm_loss'),
  source: z
    .enum(['node', 'device', 'both'])
    .default('both')
    .describe(
      'node: the edge node is offline (its MQTT Will); device: the node reports the device failing; both: either',
    ),
});

const singleRuleSchema = z.discriminatedUnion('kind', [
  booleanRule,
  equalsRule,
  inRule,
  thresholdRule,
  rateRule,
  staleRule,
  commLossRule,
]);

const ruleSchema = z.discriminatedUnion('kind', [
  ...singleRuleSchema.options,
  micro820PresetSchema,
]);

export type RuleInput = z.output<typeof ruleSchema>;
/** One rule as written, after defaults, presets excluded. */
export type RuleConfig = z.output<typeof singleRuleSchema>;
export type RuleKind = RuleConfig['kind'];

/** Rules with presets expanded, each with the rules-array index it came from. */
function expand(rules: RuleInput[]): { rule: RuleConfig; index: number }[] {
  return rules.flatMap((r, index) =>
    r.kind === 'micro820'
      ? micro820Preset(r).map((raw) => ({ rule: singleRuleSchema.parse(raw), index }))
      : [{ rule: r, index }],
  );
}

/**
 * `maintenance.rules`: the alarm rules. Each names its YAML path in errors; names must be unique
 * after presets expand, and every rule says which assets it applies to.
 */
export const alarmRulesSchema = z
  .array(ruleSchema)
  .default([])
  .superRefine((rules, ctx) => {
    rules.forEach((r, i) => {
      if (r.asset === undefined && r.assetType === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'asset'],
          message:
            'say which assets the rule applies to: asset (a name, or * for all) and/or assetType',
        });
    });
    const seen = new Map<string, number>();
    for (const { rule, index } of expand(rules)) {
      const first = seen.get(rule.name);
      if (first === undefined) seen.set(rule.name, index);
      else
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message:
            first === index
              ? `rule ${rule.name} appears twice`
              : `rule name ${rule.name} is already used by rules[${first}]${rules[index]!.kind === 'micro820' ? ' (this preset makes it; give the preset a prefix)' : ''}`,
        });
    }
  })
  .describe('Alarm rules evaluated on every sample (maintenance/alarms/README.md)');

export type AlarmRulesConfig = z.output<typeof alarmRulesSchema>;

/** `maintenance.alarms`: how the engine runs. */
export const alarmOptionsSchema = z
  .strictObject({
    tickMs: z
      .int()
      .min(50)
      .max(5000)
      .default(250)
      .describe('How often delays, stale timers and shelve expiry are checked, ms'),
    statePath: stateFileField(
      'holding alarm states across restarts',
      'alarms-<name>.db',
      '; :memory: is lost on restart',
    ),
    assetTypes: z
      .record(z.string(), z.string().min(1))
      .default({})
      .describe(
        'Asset name → asset type, for rules that match by assetType (e.g. conveyor1: micro820)',
      ),
    chatter: z
      .strictObject({
        activations: z
          .int()
          .min(2)
          .default(3)
          .describe('This many activations of one alarm within windowMs make it chatter'),
        windowMs: z.int().min(1000).default(60_000).describe('Chatter window, ms'),
        shelveMs: z
          .int()
          .min(1000)
          .default(600_000)
          .describe('A chattering alarm is shelved this long, ms'),
      })
      .prefault({})
      .describe('Chatter: an alarm that keeps coming back is shelved by itself and says so once'),
    maxShelveMs: z
      .int()
      .min(60_000)
      .default(7 * 24 * HOUR_MS)
      .describe('Longest shelve an operator may ask for, ms'),
    lateSampleMs: z
      .int()
      .min(1000)
      .default(120_000)
      .describe(
        'Samples older than this (history replayed after an outage) may clear an alarm but never raise one, ms',
      ),
    maxAlarms: z
      .int()
      .min(100)
      .default(100_000)
      .describe(
        'Most alarm instances (asset × rule) tracked; beyond, new assets are refused and counted',
      ),
  })
  .prefault({})
  .describe('Alarm engine options');

export type AlarmOptions = z.output<typeof alarmOptionsSchema>;

/** Default state file: beside the spool, in systemd's StateDirectory or the working directory. */
export function defaultAlarmStatePath(gatewayName: string): string {
  return stateFile(`alarms-${gatewayName}.db`);
}

/** A rule ready for the engine: presets expanded, priority, due time and code table resolved. */
export type AlarmRule = RuleConfig & {
  priority: CmmsPriority;
  dueInMs: number;
  /** Code → text, for enumeration rules. */
  codeTexts?: Record<string, string>;
};

export function compileRules(rules: AlarmRulesConfig): AlarmRule[] {
  return expand(rules).map(({ rule }) => {
    const defaults = SEVERITY_DEFAULTS[rule.severity];
    const table = 'codes' in rule ? rule.codes : undefined;
    return {
      ...rule,
      priority: rule.priority ?? defaults.priority,
      dueInMs: (rule.dueInHours ?? defaults.dueInHours) * HOUR_MS,
      ...(table ? { codeTexts: typeof table === 'string' ? CODE_TABLES[table]! : table } : {}),
    };
  });
}
