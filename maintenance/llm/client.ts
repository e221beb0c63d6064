import { diagnosisSchema, type Diagnosis, type DiagnosisContext } from './diagnosis.js';
import { errorMessage } from '../../core/errors.js';
import { LlmOutputError } from './errors.js';

/** One server API (Ollama or OpenAI-compatible) behind the interface the service uses. */
export interface LlmClient {
  /** The model name, for results and logs. */
  readonly model: string;
  /** One request; rejects with an LlmError (or the signal's reason when aborted). */
  diagnose(ctx: DiagnosisContext, signal?: AbortSignal): Promise<Diagnosis>;
  /** Server reachable, model present, one timed diagnosis: what `factorylm llm check` prints. */
  check(): Promise<CheckResult>;
}

export interface CheckStep {
  name: 'reachable' | 'model' | 'diagnosis';
  ok: boolean;
  /** What was found, or what is wrong and what to do next. */
  detail: string;
  ms?: number;
}

export interface CheckResult {
  ok: boolean;
  steps: CheckStep[];
  /** The sample diagnosis, when that step ran and passed. */
  diagnosis?: Diagnosis;
}

/** A Micro 820 motor overload: the alarm every plant has, for `check()`. */
export function sampleContext(now = Date.now()): DiagnosisContext {
  const recent = (from: number, to: number): Array<[number, number]> =>
    Array.from({ length: 10 }, (_, i) => [now - (9 - i) * 30_000, from + ((to - from) * i) / 9]);
  return {
    site: 'plant',
    area: 'packaging',
    line: 'line1',
    asset: 'conveyor1',
    rule: 'error_code',
    severity: 'high',
    priority: 'HIGH',
    value: 1,
    text: 'error_code = 1: motor overload',
    ts: now,
    recent: {
      motor_current: recent(48, 91),
      motor_speed: recent(1750, 1610),
      temperature: recent(412, 455),
    },
    workOrders: [],
  };
}

/**
 * The model's text as a Diagnosis. Structured output should give bare JSON, but an
 * OpenAI-compatible server without it may wrap the JSON in a markdown fence: that is unwrapped.
 */
export function parseDiagnosisText(text: string): Diagnosis {
  const trimmed = text.trim();
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(trimmed);
  let value: unknown;
  try {
    value = JSON.parse(fenced ? fenced[1]! : trimmed);
  } catch (err) {
    throw new LlmOutputError(
      'invalid',
      `the model's answer is not JSON (${errorMessage(err)}): ${JSON.stringify(trimmed.slice(0, 120))}`,
    );
  }
  const parsed = diagnosisSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LlmOutputError(
      'invalid',
      `the model's JSON does not match the diagnosis schema: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  return parsed.data;
}

/** Ollama tags are `name:tag`; `llama3.2` means `llama3.2:latest`. */
export function sameModel(a: string, b: string): boolean {
  const full = (m: string) => (m.includes(':') ? m : `${m}:latest`);
  return full(a) === full(b);
}

/** The three steps of `check()`, shared by both APIs; `listModels` is the API's own listing. */
export async function runCheck(
  client: Pick<LlmClient, 'diagnose' | 'model'>,
  origin: string,
  listModels: () => Promise<string[]>,
  modelHint: string,
): Promise<CheckResult> {
  const steps: CheckStep[] = [];
  let models: string[];
  let t0 = performance.now();
  try {
    models = await listModels();
    steps.push({
      name: 'reachable',
      ok: true,
      detail: `${origin} answers (${models.length} model(s))`,
      ms: performance.now() - t0,
    });
  } catch (err) {
    steps.push({ name: 'reachable', ok: false, detail: errorMessage(err) });
    return { ok: false, steps };
  }
  if (!models.some((m) => sameModel(m, client.model))) {
    const have = models.length > 0 ? `; the server has ${models.slice(0, 10).join(', ')}` : '';
    steps.push({
      name: 'model',
      ok: false,
      detail: `model ${client.model} not found${have}; ${modelHint}`,
    });
    return { ok: false, steps };
  }
  steps.push({ name: 'model', ok: true, detail: `model ${client.model} present` });
  t0 = performance.now();
  try {
    const diagnosis = await client.diagnose(sampleContext());
    const ms = performance.now() - t0;
    steps.push({
      name: 'diagnosis',
      ok: true,
      detail: `sample diagnosis: ${diagnosis.summary.slice(0, 160)}`,
      ms,
    });
    return { ok: true, steps, diagnosis };
  } catch (err) {
    steps.push({
      name: 'diagnosis',
      ok: false,
      detail: errorMessage(err),
      ms: performance.now() - t0,
    });
    return { ok: false, steps };
  }
}
