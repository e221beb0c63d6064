import { z } from 'zod';

/** Work-order priorities of Atlas CMMS; the LLM suggests one, the rule's severity decides. */
export const PRIORITIES = ['NONE', 'LOW', 'MEDIUM', 'HIGH'] as const;
export type Priority = (typeof PRIORITIES)[number];

/**
 * The structured answer asked of the LLM. Every field is required and no other is allowed:
 * OpenAI's `strict: true` structured output accepts only such schemas, and a small model fills
 * a fixed shape more reliably than an open one. No length bounds here: a long answer is cut by
 * `formatDiagnosis`, not refused.
 */
export const diagnosisSchema = z.strictObject({
  summary: z.string().describe('One or two sentences: what is most likely wrong'),
  probableCauses: z
    .array(
      z.strictObject({
        cause: z.string().describe('A physical or electrical cause a technician can verify'),
        likelihood: z.enum(['high', 'medium', 'low']),
      }),
    )
    .describe('Most likely first'),
  checks: z.array(z.string()).describe('Checks in the order a technician should do them'),
  parts: z.array(z.string()).describe('Spare parts that may be needed'),
  safetyNotes: z.array(z.string()).describe('Safety precautions before work starts'),
  suggestedPriority: z.enum(PRIORITIES),
});

export type Diagnosis = z.output<typeof diagnosisSchema>;

/**
 * The JSON Schema sent as Ollama's `format` and OpenAI's `response_format.json_schema.schema`,
 * derived from the zod schema so the two cannot drift. `$schema` is left out: it is not part of
 * the structured-output subset some servers accept.
 */
export const diagnosisJsonSchema: Record<string, unknown> = (() => {
  const schema: Record<string, unknown> = z.toJSONSchema(diagnosisSchema, { io: 'output' });
  delete schema.$schema;
  return schema;
})();

/** Name of the schema in OpenAI's `response_format.json_schema.name` (letters, digits, _ and -). */
export const DIAGNOSIS_SCHEMA_NAME = 'maintenance_diagnosis';

/** Another alarm of the same asset answered by the same request (flood grouping). */
export interface RelatedAlarm {
  rule: string;
  text: string;
  value: number | string | boolean | null;
  severity: string;
  ts: number;
}

/** What the LLM is told about one alarm. The bridge builds it; this module only reads it. */
export interface DiagnosisContext {
  site: string;
  area: string;
  line: string;
  asset: string;
  rule: string;
  ruleDescription?: string;
  severity: string;
  priority: Priority;
  value: number | string | boolean | null;
  /** Decoded alarm text, e.g. "error_code = 1: motor overload". */
  text: string;
  /** When the alarm became active, ms since epoch. */
  ts: number;
  /** The asset's tags over the last minutes: tag → [ts ms, value] oldest first. */
  recent: Record<string, Array<[number, number | string | boolean | null]>>;
  /** The asset's recent work orders, newest first. */
  workOrders: Array<{
    id: number | string;
    customId?: string;
    title: string;
    status: string;
    createdAt?: string;
  }>;
  /** Other alarms of the same asset that were waiting at the same time; set by the service. */
  related?: RelatedAlarm[];
}

/** How a result was obtained: what `formatDiagnosis` prints under the answer. */
export interface DiagnosisMeta {
  source: 'llm' | 'template';
  model: string;
  latencyMs?: number;
  /** Why the template was used. */
  error?: string;
}
