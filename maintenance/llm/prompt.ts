import type { DiagnosisContext } from './diagnosis.js';

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

export interface PromptLimits {
  /** Longest user message, characters. */
  maxChars: number;
  /** Points kept per tag series (evenly thinned, the newest always kept). */
  maxPointsPerTag: number;
  /** Tag series kept. */
  maxTags: number;
  /** Recent work orders listed. */
  maxWorkOrders: number;
  /** Related alarms listed (flood grouping). */
  maxRelated: number;
  /** Longest single text field (description, title, alarm text), characters. */
  maxFieldChars: number;
}

export const DEFAULT_PROMPT_LIMITS: PromptLimits = {
  maxChars: 6000,
  maxPointsPerTag: 20,
  maxTags: 24,
  maxWorkOrders: 5,
  maxRelated: 10,
  maxFieldChars: 300,
};

/**
 * Characters the user message may take so that system prompt + user prompt + answer fit in the
 * model's context window: about 3 characters per token for this mix of English and numbers
 * (llama tokenizers average 3.5–4 on prose, fewer on digits), with 400 tokens for the system
 * prompt and the schema Ollama adds as a grammar.
 */
export function promptBudgetChars(numCtx: number, numPredict: number): number {
  return Math.max(1000, (numCtx - numPredict - 400) * 3);
}

export const SYSTEM_PROMPT = `You are a maintenance assistant for an industrial production line (PLC-controlled motors, conveyors, sensors).
A rule on live PLC tags raised an alarm. From the alarm, the recent tag values and the asset's recent work orders, give a technician a short diagnosis.
Answer with JSON only, with these fields:
- summary: one or two sentences, what is most likely wrong;
- probableCauses: [{cause, likelihood: high|medium|low}], most likely first;
- checks: what to check, in order, each one short and concrete;
- parts: spare parts that may be needed (may be empty);
- safetyNotes: precautions before work starts (lock-out/tag-out where energy is involved);
- suggestedPriority: NONE, LOW, MEDIUM or HIGH.
Base the answer on the data given; say so when the data does not show a cause. Do not invent part numbers.`;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

function iso(ts: number): string {
  return Number.isFinite(ts) ? new Date(ts).toISOString() : String(ts);
}

function formatValue(v: unknown): string {
  if (typeof v === 'number')
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'string') return JSON.stringify(clip(v, 40));
  return String(v);
}

/** Keeps `max` points spread evenly over the series, always the first and the newest. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  if (max <= 1) return max === 1 ? [points[points.length - 1]!] : [];
  const out: T[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)]!);
  return out;
}

function seriesLines(ctx: DiagnosisContext, limits: PromptLimits, pointsPerTag: number): string[] {
  const tags = Object.keys(ctx.recent).sort().slice(0, limits.maxTags);
  const lines: string[] = [];
  for (const tag of tags) {
    const points = thin(ctx.recent[tag] ?? [], pointsPerTag);
    if (points.length === 0) continue;
    // Seconds relative to the alarm keep each point short and make the timing obvious.
    const rendered = points.map(
      ([ts, v]) => `${Math.round((ts - ctx.ts) / 1000)}s=${formatValue(v)}`,
    );
    lines.push(`- ${clip(tag, 60)}: ${rendered.join(' ')}`);
  }
  const hidden = Object.keys(ctx.recent).length - tags.length;
  if (hidden > 0) lines.push(`- (${hidden} more tags not shown)`);
  return lines;
}

function userPrompt(ctx: DiagnosisContext, limits: PromptLimits, pointsPerTag: number): string {
  const f = (s: string) => clip(s, limits.maxFieldChars);
  const parts = [
    `Asset: ${f(ctx.asset)} (site ${f(ctx.site)}, area ${f(ctx.area)}, line ${f(ctx.line)})`,
    `Alarm: ${f(ctx.rule)}, severity ${f(ctx.severity)}, priority ${ctx.priority}, since ${iso(ctx.ts)}`,
    `Alarm text: ${f(ctx.text)}`,
    `Value: ${formatValue(ctx.value)}`,
  ];
  if (ctx.ruleDescription) parts.push(`Rule: ${f(ctx.ruleDescription)}`);
  const related = (ctx.related ?? []).slice(0, limits.maxRelated);
  if (related.length > 0) {
    parts.push('', 'Other alarms active on this asset at the same time:');
    for (const r of related)
      parts.push(`- ${f(r.rule)} (${f(r.severity)}) since ${iso(r.ts)}: ${f(r.text)}`);
  }
  const series = seriesLines(ctx, limits, pointsPerTag);
  parts.push(
    '',
    'Recent tag values (seconds relative to the alarm = value):',
    ...(series.length > 0 ? series : ['- none recorded']),
  );
  const orders = ctx.workOrders.slice(0, limits.maxWorkOrders);
  parts.push('', 'Recent work orders on this asset:');
  if (orders.length === 0) parts.push('- none');
  for (const o of orders) {
    const created = o.createdAt ? ` created ${f(o.createdAt)}` : '';
    parts.push(`- ${f(o.customId ?? String(o.id))} [${f(o.status)}]${created}: ${f(o.title)}`);
  }
  return parts.join('\n');
}

/**
 * The system and user messages for one alarm, bounded: the user message never exceeds
 * `limits.maxChars`. Series are thinned first (they are the bulk), then cut to their newest
 * points, and only as a last resort is the message cut.
 */
export function buildMessages(
  ctx: DiagnosisContext,
  limits: PromptLimits = DEFAULT_PROMPT_LIMITS,
): ChatMessage[] {
  let pointsPerTag = limits.maxPointsPerTag;
  let user = userPrompt(ctx, limits, pointsPerTag);
  while (user.length > limits.maxChars && pointsPerTag > 1) {
    pointsPerTag = Math.max(1, Math.floor(pointsPerTag / 2));
    user = userPrompt(ctx, limits, pointsPerTag);
  }
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: clip(user, limits.maxChars) },
  ];
}
