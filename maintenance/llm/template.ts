import type { Diagnosis, DiagnosisContext, DiagnosisMeta } from './diagnosis.js';
import { knowledgeFor, LOTO_NOTE } from './knowledge.js';

/**
 * The plain diagnosis used when the LLM cannot answer: causes and checks for the fault named by
 * the alarm text, and the standard lock-out/tag-out note. The priority is the rule's own.
 */
export function templateDiagnosis(ctx: DiagnosisContext): Diagnosis {
  const k = knowledgeFor(ctx.text, ctx.rule);
  const others = ctx.related?.length ? ` (and ${ctx.related.length} more alarm(s))` : '';
  return {
    summary: `${ctx.asset}: ${ctx.text}${others}. Standard checks for this fault follow; no model diagnosis.`,
    probableCauses: k.causes.map((cause, i) => ({
      cause,
      likelihood: i === 0 ? 'high' : 'medium',
    })),
    checks: k.checks,
    parts: k.parts,
    safetyNotes: [LOTO_NOTE],
    suggestedPriority: ctx.priority,
  };
}

/** Longest text `formatDiagnosis` returns; Atlas takes 10,000 characters in a description. */
export const MAX_DIAGNOSIS_TEXT = 4000;
const MAX_ITEM = 300;
const MAX_ITEMS = 10;

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function list(title: string, items: readonly string[], numbered: boolean): string[] {
  if (items.length === 0) return [];
  const shown = items
    .slice(0, MAX_ITEMS)
    .map((s, i) => `${numbered ? `${i + 1}.` : '-'} ${clip(s, MAX_ITEM)}`);
  if (items.length > MAX_ITEMS) shown.push(`(${items.length - MAX_ITEMS} more not shown)`);
  return ['', title, ...shown];
}

function header(meta: DiagnosisMeta): string {
  if (meta.source === 'template') {
    return `Diagnosis (standard checks; the LLM ${meta.model} did not answer${meta.error ? `: ${clip(meta.error, 200)}` : ''})`;
  }
  const took = meta.latencyMs === undefined ? '' : `, ${(meta.latencyMs / 1000).toFixed(1)} s`;
  return `Diagnosis (LLM ${meta.model}${took}; verify before acting)`;
}

/** A model may forget lock-out/tag-out; an order that sends someone to a machine never does. */
function withLockout(notes: readonly string[]): string[] {
  return notes.some((n) => /lock[- ]?out|loto/i.test(n)) ? [...notes] : [...notes, LOTO_NOTE];
}

/**
 * Plain text for a work-order description or comment: Atlas strips HTML, so no markup, and at
 * most MAX_DIAGNOSIS_TEXT characters whatever the model wrote.
 */
export function formatDiagnosis(d: Diagnosis, meta: DiagnosisMeta): string {
  // Safety and priority come first: a long answer is cut at the end, never there.
  const lines = [
    header(meta),
    clip(d.summary, 600),
    `Suggested priority: ${d.suggestedPriority}`,
    ...list('Safety:', withLockout(d.safetyNotes), false),
    ...list(
      'Probable causes:',
      d.probableCauses.map((c) => `${c.cause} (${c.likelihood})`),
      true,
    ),
    ...list('Checks, in order:', d.checks, true),
    ...list('Parts that may be needed:', d.parts, false),
  ];
  const text = lines.join('\n');
  return text.length <= MAX_DIAGNOSIS_TEXT ? text : `${text.slice(0, MAX_DIAGNOSIS_TEXT - 1)}…`;
}
