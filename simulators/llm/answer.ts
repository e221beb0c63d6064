import type { Diagnosis } from '../../maintenance/llm/diagnosis.js';
import { knowledgeFor, LOTO_NOTE } from '../../maintenance/llm/knowledge.js';

/** What the simulated model reads from a prompt built by maintenance/llm/prompt.ts. */
export interface PromptFacts {
  asset: string;
  alarmText: string;
  rule: string;
  /** Alarms listed as active at the same time (flood grouping). */
  related: number;
}

export function promptFacts(prompt: string): PromptFacts {
  const line = (label: string) => new RegExp(`^${label}: (.*)$`, 'm').exec(prompt)?.[1]?.trim();
  const related = /^Other alarms active on this asset at the same time:\n((?:- .*\n?)*)/m.exec(
    prompt,
  );
  return {
    asset: line('Asset')?.split(' (')[0] ?? 'the machine',
    alarmText: line('Alarm text') ?? prompt.slice(-400),
    rule: line('Alarm')?.split(',')[0] ?? '',
    related: related ? related[1]!.trim().split('\n').length : 0,
  };
}

/**
 * A deterministic, plausible diagnosis: the same prompt always gets the same answer, and the
 * answer names the fault the prompt describes (the Micro 820 error texts and alarm tags), so a
 * test can tell a model's answer from the gateway's own template.
 */
export function simulatedDiagnosis(prompt: string): Diagnosis {
  const facts = promptFacts(prompt);
  const k = knowledgeFor(facts.alarmText, facts.rule);
  const also = facts.related > 0 ? ` ${facts.related} related alarm(s) point the same way.` : '';
  return {
    summary: `Likely ${k.kind.replace(/-/g, ' ')} on ${facts.asset} (${facts.alarmText}).${also}`,
    probableCauses: k.causes.map((cause, i) => ({
      cause,
      likelihood: i === 0 ? 'high' : i === 1 ? 'medium' : 'low',
    })),
    checks: k.checks,
    parts: k.parts,
    safetyNotes: [LOTO_NOTE],
    suggestedPriority: k.priority,
  };
}

/** What a model writes without structured output: prose, not JSON. */
export function proseAnswer(d: Diagnosis): string {
  return `Here is my assessment.\n\n**Summary:** ${d.summary}\n\n**Checks:**\n${d.checks.map((c, i) => `${i + 1}. ${c}`).join('\n')}`;
}

/** A model's rough token count: about 4 characters per token. */
export function tokens(text: string): number {
  return Math.ceil(text.length / 4);
}
