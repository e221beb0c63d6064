import { z } from 'zod';

/** What the simulator does instead of a good answer. */
export const LLM_FAULT_KINDS = [
  'not-found',
  'busy',
  'error',
  'malformed',
  'truncated',
  'thinking',
  'drop',
] as const;
export type LlmFaultKind = (typeof LLM_FAULT_KINDS)[number];

export interface LlmFaultSettings {
  /** Added before every generation answer, ms. */
  delayMs: number;
  /** Added once, to the first generation request while the model is not loaded, ms. */
  coldLoadMs: number;
  /**
   * not-found: 404 model not found; busy: 503; error: 500; malformed: broken JSON content;
   * truncated: content cut, done_reason/finish_reason "length"; thinking: empty content, the
   * text in `thinking`/`reasoning_content`; drop: the connection closes without an answer.
   */
  fault: LlmFaultKind | null;
  /** Generation requests the fault applies to before it clears itself; null: all of them. */
  count: number | null;
}

export const NO_LLM_FAULTS: LlmFaultSettings = {
  delayMs: 0,
  coldLoadMs: 0,
  fault: null,
  count: null,
};

export const llmFaultPatchSchema = z.strictObject({
  delayMs: z.int().min(0).max(600_000).optional(),
  coldLoadMs: z.int().min(0).max(600_000).optional(),
  fault: z.enum(LLM_FAULT_KINDS).nullable().optional(),
  count: z.int().min(1).nullable().optional(),
});

/** Holds the fault settings and hands out one decision per generation request. */
export class LlmFaults {
  settings: LlmFaultSettings = { ...NO_LLM_FAULTS };
  /** Faults applied, by kind. */
  readonly applied: Record<LlmFaultKind, number> = Object.fromEntries(
    LLM_FAULT_KINDS.map((k) => [k, 0]),
  ) as Record<LlmFaultKind, number>;

  set(patch: Partial<LlmFaultSettings>): LlmFaultSettings {
    this.settings = { ...this.settings, ...patch };
    return this.settings;
  }

  reset(): void {
    this.settings = { ...NO_LLM_FAULTS };
  }

  /** The fault for the next generation request, counting it down. */
  next(): LlmFaultKind | null {
    const { fault, count } = this.settings;
    if (fault === null) return null;
    if (count !== null) {
      if (count <= 1) this.settings = { ...this.settings, fault: null, count: null };
      else this.settings = { ...this.settings, count: count - 1 };
    }
    this.applied[fault] += 1;
    return fault;
  }
}
