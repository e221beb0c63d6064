import { describe, expect, it } from 'vitest';
import { sampleContext } from './client.js';
import type { Diagnosis } from './diagnosis.js';
import { LOTO_NOTE } from './knowledge.js';
import { formatDiagnosis, MAX_DIAGNOSIS_TEXT, templateDiagnosis } from './template.js';

describe('templateDiagnosis', () => {
  it.each([
    ['error_code = 1: motor overload', 'error_code', /conveyor jammed or belt too tight/],
    ['error_code = 2: temperature high', 'error_code', /Cooling fan/],
    ['error_code = 3: conveyor jam', 'error_code', /blocking the belt/],
    ['error_code = 4: sensor failure', 'error_code', /Sensor dirty/],
    ['error_code = 5: communication loss', 'error_code', /Network cable/],
    ['e_stop_active = true', 'e_stop', /emergency stop was pressed/],
    ['no good sample for 30 s', 'stale', /Network cable/],
    ['value 7 above 5', 'vibration_high', /not known from the alarm alone/],
  ])('"%s" (rule %s) gives its causes', (text, rule, cause) => {
    const d = templateDiagnosis({ ...sampleContext(), text, rule, priority: 'LOW' });
    expect(d.probableCauses[0]!.cause).toMatch(cause);
    expect(d.probableCauses[0]!.likelihood).toBe('high');
    expect(d.safetyNotes).toEqual([LOTO_NOTE]);
    expect(d.suggestedPriority).toBe('LOW');
    expect(d.summary).toContain(text);
  });
});

const big: Diagnosis = {
  summary: 's'.repeat(5000),
  probableCauses: Array.from({ length: 30 }, (_, i) => ({
    cause: `c${i} ${'x'.repeat(900)}`,
    likelihood: 'low',
  })),
  checks: Array.from({ length: 30 }, (_, i) => `check ${i} ${'y'.repeat(900)}`),
  parts: Array.from({ length: 30 }, () => 'p'.repeat(900)),
  safetyNotes: ['Wear gloves'],
  suggestedPriority: 'HIGH',
};

describe('formatDiagnosis', () => {
  it('stays within MAX_DIAGNOSIS_TEXT whatever the model wrote', () => {
    const text = formatDiagnosis(big, { source: 'llm', model: 'm' });
    expect(text.length).toBeLessThanOrEqual(MAX_DIAGNOSIS_TEXT);
    expect(text).toMatch(/^Diagnosis \(LLM m; verify before acting\)\n/);
  });

  it('is plain text: numbered checks in order, priority, no markup', () => {
    const d = templateDiagnosis(sampleContext());
    const text = formatDiagnosis(d, { source: 'llm', model: 'llama3.2:3b', latencyMs: 2345 });
    expect(text).toContain('Diagnosis (LLM llama3.2:3b, 2.3 s; verify before acting)');
    expect(text).toContain(
      'Checks, in order:\n1. Check the conveyor for jams and foreign objects\n2. ',
    );
    expect(text).toContain('Suggested priority: HIGH');
    expect(text).not.toMatch(/<[a-z]/i);
  });

  it.each([
    [['Wear gloves'], true],
    [['Apply LOTO first'], false],
    [['Lock-out the breaker'], false],
    [[], true],
  ])('safety notes %j get the lock-out note added: %s', (notes, added) => {
    const text = formatDiagnosis({ ...big, safetyNotes: notes }, { source: 'llm', model: 'm' });
    expect(text.includes(LOTO_NOTE)).toBe(added);
  });

  it('says why the template was used', () => {
    const text = formatDiagnosis(templateDiagnosis(sampleContext()), {
      source: 'template',
      model: 'llama3.2:3b',
      error: 'model llama3.2:3b not found',
    });
    expect(text.split('\n')[0]).toBe(
      'Diagnosis (standard checks; the LLM llama3.2:3b did not answer: model llama3.2:3b not found)',
    );
  });
});
