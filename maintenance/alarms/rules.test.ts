import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfigFile, parseConfigText } from '../../core/config/load.js';
import { ConfigError } from '../../core/errors.js';
import { alarmOptionsSchema, alarmRulesSchema, compileRules } from './rules.js';

/** The rules as the gateway config embeds them, so errors carry the full YAML path. */
const config = z.strictObject({
  maintenance: z.strictObject({ alarms: alarmOptionsSchema, rules: alarmRulesSchema }).prefault({}),
});

function parse(yaml: string) {
  return parseConfigText(yaml, 'gateway.yaml', config, {});
}

function issues(yaml: string): string[] {
  try {
    parse(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('alarm rules schema', () => {
  it('fills defaults so a rule needs only name, asset, tag, kind and its limit', () => {
    const c = parse(`
maintenance:
  rules:
    - { name: temp_high, asset: '*', tag: temperature, kind: high, limit: 90 }
`);
    expect(c.maintenance.rules[0]).toEqual({
      name: 'temp_high',
      asset: '*',
      tag: 'temperature',
      kind: 'high',
      limit: 90,
      deadband: 0,
      severity: 'medium',
      description: '',
      onDelayMs: 1000,
      offDelayMs: 5000,
      closeOnClear: false,
    });
    expect(c.maintenance.alarms.tickMs).toBe(250);
    expect(c.maintenance.alarms.chatter).toEqual({
      activations: 3,
      windowMs: 60_000,
      shelveMs: 600_000,
    });
  });

  it('compiles severity to a CMMS priority and due time, overridable per rule', () => {
    const rules = compileRules(
      alarmRulesSchema.parse([
        { name: 'a', asset: 'm1', tag: 't', kind: 'boolean', severity: 'critical' },
        { name: 'b', asset: 'm1', tag: 't', kind: 'boolean', severity: 'low' },
        { name: 'c', asset: 'm1', tag: 't', kind: 'boolean', priority: 'LOW', dueInHours: 2 },
        { name: 'd', asset: 'm1', tag: 't', kind: 'boolean', severity: 'info' },
      ]),
    );
    expect(rules.map((r) => [r.name, r.priority, r.dueInMs / 3_600_000])).toEqual([
      ['a', 'HIGH', 4],
      ['b', 'LOW', 168],
      ['c', 'LOW', 2],
      ['d', 'NONE', 720],
    ]);
  });

  it('expands kind micro820 into the Micro 820 rules with its code table', () => {
    const c = parse(`
maintenance:
  alarms: { assetTypes: { conveyor1: micro820 } }
  rules:
    - { kind: micro820, assetType: micro820, closeOnClear: true }
    - { kind: micro820, asset: press2, prefix: p2_, onDelayMs: 0 }
`);
    const rules = compileRules(c.maintenance.rules);
    expect(rules.map((r) => `${r.name}:${r.kind}`)).toEqual([
      'fault_alarm:boolean',
      'e_stop_active:boolean',
      'error_code:notEquals',
      'comm_loss:comm_loss',
      'p2_fault_alarm:boolean',
      'p2_e_stop_active:boolean',
      'p2_error_code:notEquals',
      'p2_comm_loss:comm_loss',
    ]);
    expect(rules[0]).toMatchObject({
      assetType: 'micro820',
      closeOnClear: true,
      assetStatus: 'DOWN',
    });
    expect(rules[4]).toMatchObject({ asset: 'press2', onDelayMs: 0 });
    expect(rules[2]!.codeTexts?.['3']).toBe('conveyor jam');
  });

  it('accepts an inline code table', () => {
    const rules = compileRules(
      alarmRulesSchema.parse([
        {
          name: 'e',
          asset: '*',
          tag: 'err',
          kind: 'in',
          values: [7, 9],
          codes: { 7: 'belt torn' },
        },
      ]),
    );
    expect(rules[0]!.codeTexts).toEqual({ 7: 'belt torn' });
  });

  it.each([
    [
      'an unknown kind',
      `- { name: a, asset: '*', tag: t, kind: hi, limit: 1 }`,
      /^maintenance\.rules\[0\]\.kind: /,
    ],
    [
      'a missing limit',
      `- { name: a, asset: '*', tag: t, kind: high }`,
      /^maintenance\.rules\[0\]\.limit: required field is missing \(expected number\)$/,
    ],
    [
      'a misspelt field',
      `- { name: a, asset: '*', tag: t, kind: high, limit: 1, deadbnd: 2 }`,
      /^maintenance\.rules\[0\]\.deadbnd: unknown field; did you mean "deadband"\?$/,
    ],
    [
      'a name that cannot be a topic level',
      `- { name: Temp High, asset: '*', tag: t, kind: high, limit: 1 }`,
      /^maintenance\.rules\[0\]\.name: use 1–64 of a-z/,
    ],
    [
      'no asset nor assetType',
      `- { name: a, tag: t, kind: boolean }`,
      /^maintenance\.rules\[0\]\.asset: say which assets the rule applies to/,
    ],
    [
      'a negative deadband',
      `- { name: a, asset: '*', tag: t, kind: low, limit: 1, deadband: -1 }`,
      /^maintenance\.rules\[0\]\.deadband: /,
    ],
    [
      'a stale rule without afterMs',
      `- { name: a, asset: '*', tag: t, kind: stale }`,
      /^maintenance\.rules\[0\]\.afterMs: required field is missing/,
    ],
    [
      'an unknown code table',
      `- { name: a, asset: '*', tag: t, kind: notEquals, value: 0, codes: micro830 }`,
      /^maintenance\.rules\[0\]\.codes: a map of code → text, or the name of a built-in table \(micro820\)$/,
    ],
    [
      'an unknown asset status',
      `- { name: a, asset: '*', tag: t, kind: boolean, assetStatus: BROKEN }`,
      /^maintenance\.rules\[0\]\.assetStatus: /,
    ],
    [
      'a duplicate name',
      `- { name: a, asset: '*', tag: t, kind: boolean }\n    - { name: a, asset: m2, tag: u, kind: boolean }`,
      /^maintenance\.rules\[1\]\.name: rule name a is already used by rules\[0\]$/,
    ],
    [
      'two presets without a prefix',
      `- { kind: micro820, asset: m1 }\n    - { kind: micro820, asset: m2 }`,
      /^maintenance\.rules\[1\]\.name: rule name fault_alarm is already used by rules\[0\] \(this preset makes it; give the preset a prefix\)$/,
    ],
  ])('names the YAML path of %s', (_what, rule, message) => {
    const found = issues(`maintenance:\n  rules:\n    ${rule}\n`);
    expect(found).toContainEqual(expect.stringMatching(message));
  });

  it('loads the commented example deploy/examples/alarm-rules.yaml', async () => {
    const c = await loadConfigFile('deploy/examples/alarm-rules.yaml', config, {});
    const rules = compileRules(c.maintenance.rules);
    expect(rules.map((r) => r.name)).toEqual([
      'fault_alarm',
      'e_stop_active',
      'error_code',
      'comm_loss',
      'temperature_high',
      'temperature_rising',
      'pressure_low',
      'speed_stale',
    ]);
    expect(rules.find((r) => r.name === 'pressure_low')!.dueInMs).toBe(8 * 3_600_000);
    expect(c.maintenance.alarms.assetTypes).toEqual({ conveyor1: 'micro820' });
  });

  it('names the path of a bad option', () => {
    expect(issues(`maintenance:\n  alarms: { chatter: { activations: 1 } }\n`)).toEqual([
      expect.stringMatching(/^maintenance\.alarms\.chatter\.activations: /),
    ]);
  });
});
