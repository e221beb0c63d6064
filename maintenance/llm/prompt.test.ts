import { describe, expect, it } from 'vitest';
import { sampleContext } from './client.js';
import type { DiagnosisContext } from './diagnosis.js';
import { buildMessages, DEFAULT_PROMPT_LIMITS, promptBudgetChars, thin } from './prompt.js';

/** A context far larger than any prompt may be: 200 tags × 2,000 points, long texts. */
function huge(): DiagnosisContext {
  const ctx = sampleContext(1_700_000_000_000);
  const recent: DiagnosisContext['recent'] = {};
  for (let t = 0; t < 200; t++)
    recent[`tag_${String(t).padStart(3, '0')}`] = Array.from({ length: 2000 }, (_, i) => [
      ctx.ts - (2000 - i) * 500,
      Math.sin(i) * 1000.123456,
    ]);
  return {
    ...ctx,
    text: `error_code = 1: motor overload ${'x'.repeat(5000)}`,
    ruleDescription: 'd'.repeat(10_000),
    recent,
    workOrders: Array.from({ length: 50 }, (_, i) => ({
      id: i,
      title: `t${i} ${'w'.repeat(1000)}`,
      status: 'OPEN',
    })),
    related: Array.from({ length: 40 }, (_, i) => ({
      rule: `rule${i}`,
      text: 'y'.repeat(1000),
      value: i,
      severity: 'high',
      ts: ctx.ts,
    })),
  };
}

describe('buildMessages', () => {
  it.each([1000, 3000, 6000, 12_000, 30_000])(
    'keeps the user message within %i characters',
    (maxChars) => {
      const [system, user] = buildMessages(huge(), { ...DEFAULT_PROMPT_LIMITS, maxChars });
      expect(system!.role).toBe('system');
      expect(user!.content.length).toBeLessThanOrEqual(maxChars);
      expect(user!.content).toMatch(/^Asset: conveyor1 /);
      expect(user!.content).toContain('Alarm text: error_code = 1: motor overload');
    },
  );

  it('thins series before cutting the message, and says how many tags it left out', () => {
    const user = buildMessages(huge(), { ...DEFAULT_PROMPT_LIMITS, maxChars: 30_000 })[1]!.content;
    expect(user).toContain('(176 more tags not shown)');
    const line = user.split('\n').find((l) => l.startsWith('- tag_000:'))!;
    expect(line.split(' ').length - 2).toBeLessThanOrEqual(DEFAULT_PROMPT_LIMITS.maxPointsPerTag);
    expect(user).not.toContain('…\n'.repeat(0) + 'w'.repeat(DEFAULT_PROMPT_LIMITS.maxFieldChars));
    expect(user.split('\n').filter((l) => l.startsWith('- rule')).length).toBe(
      DEFAULT_PROMPT_LIMITS.maxRelated,
    );
  });

  it('lists the whole small context as given', () => {
    const ctx = sampleContext(1_700_000_000_000);
    ctx.workOrders = [
      {
        id: 7,
        customId: 'WO000007',
        title: 'Replace bearing',
        status: 'COMPLETE',
        createdAt: '2026-01-02',
      },
    ];
    const user = buildMessages(ctx)[1]!.content;
    expect(user).toContain('- motor_current: -270s=48 -240s=52.7778');
    expect(user).toContain('0s=91');
    expect(user).toContain('- WO000007 [COMPLETE] created 2026-01-02: Replace bearing');
    expect(user).toContain('Value: 1');
  });

  it('says so when there is no history and no work order', () => {
    const user = buildMessages({ ...sampleContext(), recent: {}, workOrders: [] })[1]!.content;
    expect(user).toContain(
      'Recent tag values (seconds relative to the alarm = value):\n- none recorded',
    );
    expect(user).toContain('Recent work orders on this asset:\n- none');
  });
});

describe('thin', () => {
  it.each([
    [[1, 2, 3], 5, [1, 2, 3]],
    [[1, 2, 3, 4, 5], 3, [1, 3, 5]],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4, [1, 4, 7, 10]],
    [[1, 2, 3], 1, [3]],
    [[1, 2, 3], 0, []],
  ])('%j to %i points: %j', (points, max, expected) => {
    expect(thin(points, max)).toEqual(expected);
  });
});

describe('promptBudgetChars', () => {
  it.each([
    [4096, 1024, 8016],
    [2048, 1024, 1872],
    [1024, 1000, 1000],
  ])('num_ctx %i, num_predict %i: %i characters', (ctx, predict, chars) => {
    expect(promptBudgetChars(ctx, predict)).toBe(chars);
  });
});
