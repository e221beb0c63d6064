import { describe as group, expect, it } from 'vitest';
import { describe, evaluate, RateWindow, type ValueRule } from './conditions.js';
import { alarmRulesSchema, compileRules, type AlarmRule } from './rules.js';
import type { SampleValue } from './types.js';

function rule(r: Record<string, unknown>): AlarmRule {
  return compileRules(alarmRulesSchema.parse([{ name: 'r', asset: '*', tag: 't', ...r }]))[0]!;
}

const boolTrue = rule({ kind: 'boolean' });
const boolFalse = rule({ kind: 'boolean', when: false });
const equals3 = rule({ kind: 'equals', value: 3 });
const notZero = rule({ kind: 'notEquals', value: 0, codes: 'micro820' });
const inSet = rule({ kind: 'in', values: [2, 'JAM', true] });
const high = rule({ kind: 'high', limit: 90, deadband: 2, unit: '°C' });
const low = rule({ kind: 'low', limit: 10, deadband: 1 });
const highNoBand = rule({ kind: 'high', limit: 90 });

group('evaluate', () => {
  it.each<[string, AlarmRule, SampleValue, boolean, boolean | undefined]>([
    // rule, value, previous condition, expected
    ['boolean true', boolTrue, true, false, true],
    ['boolean false', boolTrue, false, true, false],
    ['boolean as 1', boolTrue, 1, false, true],
    ['boolean as 0', boolTrue, 0, true, false],
    ['boolean when:false', boolFalse, false, false, true],
    ['boolean on text', boolTrue, 'on', false, undefined],
    ['boolean on null', boolTrue, null, false, undefined],
    ['equals hit', equals3, 3, false, true],
    ['equals float hit', equals3, 3.0, false, true],
    ['equals miss', equals3, 2, true, false],
    ['equals text is not a number', equals3, '3', false, false],
    ['notEquals 0 at 1', notZero, 1, false, true],
    ['notEquals 0 at 0', notZero, 0, true, false],
    ['notEquals 0 at false', notZero, false, true, false],
    ['in number', inSet, 2, false, true],
    ['in text', inSet, 'JAM', false, true],
    ['in bool as 1', inSet, 1, false, true],
    ['in miss', inSet, 5, true, false],
    // Hysteresis: raised above 90, cleared below 88.
    ['high below', high, 89.9, false, false],
    ['high at limit is not raised', high, 90, false, false],
    ['high above', high, 90.1, false, true],
    ['high active within deadband stays', high, 88.5, true, true],
    ['high active at limit - deadband stays', high, 88, true, true],
    ['high active below limit - deadband clears', high, 87.9, true, false],
    ['high inactive within deadband stays off', high, 89, false, false],
    ['high no deadband at limit while active stays', highNoBand, 90, true, true],
    ['high no deadband just below clears', highNoBand, 89.99, true, false],
    ['high on text', high, 'hot', false, undefined],
    ['high on bool as 1', rule({ kind: 'high', limit: 0.5 }), true, false, true],
    ['low above', low, 10.1, false, false],
    ['low at limit is not raised', low, 10, false, false],
    ['low below', low, 9.9, false, true],
    ['low active at limit + deadband stays', low, 11, true, true],
    ['low active above limit + deadband clears', low, 11.01, true, false],
    ['high on NaN', high, Number.NaN, false, undefined],
  ])('%s', (_what, r, value, previous, expected) => {
    expect(evaluate(r as ValueRule, value, previous)).toBe(expected);
  });

  it.each<[string, 'rising' | 'falling' | 'both', number, boolean]>([
    ['rising fast', 'rising', 2, true],
    ['rising at the limit', 'rising', 1, false],
    ['falling fast on a rising rule', 'rising', -2, false],
    ['falling fast', 'falling', -2, true],
    ['both falling', 'both', -1.5, true],
    ['both slow', 'both', 0.5, false],
  ])('rate %s', (_what, direction, rate, expected) => {
    const r = rule({ kind: 'rate', limit: 1, direction });
    expect(evaluate(r as ValueRule, 0, false, rate)).toBe(expected);
  });
});

group('RateWindow', () => {
  it('measures from the oldest sample within the window', () => {
    const w = new RateWindow(10_000);
    expect(w.push(0, 20)).toBe(0);
    expect(w.push(5_000, 30)).toBe(2);
    expect(w.push(10_000, 30)).toBe(1);
    // The sample at 0 falls out: from 5 s (30) to 12 s (44).
    expect(w.push(12_000, 44)).toBe(2);
    expect(w.push(30_000, 44)).toBe(0);
  });

  it('keeps at most its capacity, measuring over a shorter span', () => {
    const w = new RateWindow(60_000, 4);
    for (let i = 0; i < 4; i++) w.push(i * 1000, i * 10);
    // Holds 1..4 s now: (40 - 10) / 3 s.
    expect(w.push(4000, 40)).toBe(10);
  });
});

group('describe', () => {
  it.each<[string, AlarmRule, SampleValue, boolean, string]>([
    ['enumeration with code', notZero, 1, true, 't = 1: motor overload'],
    ['enumeration back to 0', notZero, 0, false, 't = 0: none'],
    ['enumeration unknown code', notZero, 9, true, 't = 9: unknown code'],
    ['equals without table', equals3, 3, true, 't = 3'],
    ['boolean', boolTrue, true, true, 't = true'],
    ['high', high, 92.4, true, 't 92.4 °C > 90 (high)'],
    ['high cleared', high, 85.25, false, 't 85.25 °C back below 88 (high)'],
    ['low', low, 9.5, true, 't 9.5 < 10 (low)'],
    ['low cleared', low, 12, false, 't 12 back above 11 (low)'],
    [
      'stale',
      rule({ kind: 'stale', afterMs: 30_000 }),
      null,
      true,
      't: no good sample for 30 s (stale)',
    ],
  ])('%s', (_what, r, value, active, text) => {
    expect(describe(r, value, active)).toBe(text);
  });

  it('rate and comm loss', () => {
    const r = rule({ kind: 'rate', limit: 1, unit: '°C' });
    expect(describe(r, 50, true, -2.5)).toBe('t falling 2.5 °C/s > 1 °C/s (rate)');
    const c = compileRules(
      alarmRulesSchema.parse([{ name: 'c', asset: '*', kind: 'comm_loss' }]),
    )[0]!;
    expect(
      describe(c, null, true, 0, { node: 'edge-01', nodeOffline: true, deviceFailing: false }),
    ).toBe('node edge-01 offline (communication loss)');
    expect(
      describe(c, null, true, 0, {
        node: 'edge-01',
        device: 'plc',
        nodeOffline: false,
        deviceFailing: true,
      }),
    ).toBe('device plc on node edge-01 failing (communication loss)');
  });
});
