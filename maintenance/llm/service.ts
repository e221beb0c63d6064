import { Backoff, sleep } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import { LatencyHistogram } from '../../core/histogram.js';
import type { Logger } from '../../core/logger.js';
import { CircuitBreaker, type BreakerState } from './breaker.js';
import type { LlmClient } from './client.js';
import type { LlmConfig } from './config.js';
import { PRIORITIES, type Diagnosis, type DiagnosisContext } from './diagnosis.js';
import { LLM_ERROR_KINDS, LlmError, type LlmErrorKind } from './errors.js';
import { formatDiagnosis, templateDiagnosis } from './template.js';

/** Why a result came from the template: an LLM error, or the service chose not to ask. */
export type FallbackReason = LlmErrorKind | 'disabled' | 'queue-full' | 'breaker-open' | 'stopped';

export interface DiagnosisResult {
  source: 'llm' | 'template';
  diagnosis: Diagnosis;
  /** Plain text for the work order (formatDiagnosis). */
  text: string;
  model: string;
  /** From request() to this result, queue wait included, ms. */
  latencyMs: number;
  /** HTTP requests made for it (0: answered without asking). */
  attempts: number;
  /** Alarms of the same asset answered by the same request, this one included. */
  batched: number;
  /** Why the template was used. */
  error?: string;
  reason?: FallbackReason;
}

/** `result` never rejects: the worst case is the template. */
export interface DiagnosisRequest {
  result: Promise<DiagnosisResult>;
}

export interface DiagnosisStats {
  queueDepth: number;
  inFlight: number;
  /** Alarms asked for. */
  requests: number;
  /** HTTP requests sent to the LLM, retries included. */
  llmRequests: number;
  answered: number;
  templated: number;
  /** Alarms that found the queue full (answered by the template at once). */
  dropped: number;
  /** Alarms answered by another alarm's request (flood grouping). */
  grouped: number;
  failures: Record<LlmErrorKind, number>;
  breaker: { state: BreakerState; opened: number };
  /** The configuration error the LLM reports (model missing, bad key), until it answers again. */
  configError: string | null;
  /** Duration of successful diagnoses (retries included), ms. */
  latency: { p50: number; p99: number; max: number; count: number };
}

export type DiagnosisServiceOptions = Pick<
  LlmConfig,
  'enabled' | 'concurrency' | 'queueMax' | 'maxBatch' | 'retry' | 'breaker'
>;

interface Waiting {
  ctx: DiagnosisContext;
  resolve: (r: DiagnosisResult) => void;
  since: number;
}

/** One of the LLM's few invalid or truncated answers is retried once before the template. */
const OUTPUT_RETRIES = 1;

/**
 * The only thing the bridge calls: `request(ctx).result` resolves with the LLM's diagnosis or,
 * whatever goes wrong, with the template. Requests wait in a bounded queue and go out
 * `concurrency` at a time (Ollama serves one); waiting alarms of the same asset are grouped
 * into one request (its prompt lists them all, the one answer serves each). Busy servers are
 * retried with backoff, bad output once; a configuration error or `breaker.failures` failures
 * in a row open the circuit, so later alarms get the template at once until a probe succeeds.
 */
export class DiagnosisService {
  private readonly queue: Waiting[] = [];
  private readonly breaker: CircuitBreaker;
  private readonly latency = new LatencyHistogram();
  private readonly abort = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private inFlight = 0;
  private stopping = false;
  private configError: string | null = null;
  private readonly counts = {
    requests: 0,
    llmRequests: 0,
    answered: 0,
    templated: 0,
    dropped: 0,
    grouped: 0,
  };
  private readonly failures = Object.fromEntries(LLM_ERROR_KINDS.map((k) => [k, 0])) as Record<
    LlmErrorKind,
    number
  >;

  constructor(
    private readonly options: DiagnosisServiceOptions,
    private readonly client: LlmClient,
    private readonly log: Logger,
    private readonly deps: { now?: () => number; random?: () => number } = {},
  ) {
    this.breaker = new CircuitBreaker(options.breaker, deps.now);
  }

  request(ctx: DiagnosisContext): DiagnosisRequest {
    this.counts.requests += 1;
    const since = performance.now();
    if (this.stopping) return this.immediate(ctx, since, 'stopped', 'the gateway is stopping');
    if (!this.options.enabled)
      return this.immediate(ctx, since, 'disabled', 'maintenance.llm.enabled is false');
    if (this.breaker.state === 'open') {
      return this.immediate(
        ctx,
        since,
        'breaker-open',
        this.configError ?? 'the LLM failed repeatedly; circuit open',
      );
    }
    if (this.queue.length >= this.options.queueMax) {
      this.counts.dropped += 1;
      return this.immediate(
        ctx,
        since,
        'queue-full',
        `${this.queue.length} alarms already wait for the LLM (maintenance.llm.queueMax)`,
      );
    }
    const result = new Promise<DiagnosisResult>((resolve) =>
      this.queue.push({ ctx, resolve, since }),
    );
    this.drain();
    return { result };
  }

  stats(): DiagnosisStats {
    return {
      queueDepth: this.queue.length,
      inFlight: this.inFlight,
      ...this.counts,
      failures: { ...this.failures },
      breaker: { state: this.breaker.state, opened: this.breaker.opened },
      configError: this.configError,
      latency: this.latency.summary(),
    };
  }

  /** Aborts requests in flight; every waiting alarm gets the template. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort(new Error('diagnosis service stopped'));
    for (const w of this.queue.splice(0))
      this.fallback([w], 0, 'stopped', 'the gateway is stopping');
    await Promise.all([...this.running]);
  }

  private immediate(
    ctx: DiagnosisContext,
    since: number,
    reason: FallbackReason,
    error: string,
  ): DiagnosisRequest {
    let out!: DiagnosisResult;
    this.fallback([{ ctx, since, resolve: (r) => (out = r) }], 0, reason, error);
    return { result: Promise.resolve(out) };
  }

  private drain(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.concurrency && !this.stopping) {
      if (this.breaker.state === 'open') {
        const error = this.configError ?? 'the LLM failed repeatedly; circuit open';
        for (const w of this.queue.splice(0)) this.fallback([w], 0, 'breaker-open', error);
        return;
      }
      // Half-open with its probe still out: the rest wait for the probe's outcome.
      if (!this.breaker.allow()) return;
      const batch = this.takeBatch();
      this.inFlight += 1;
      const run = this.run(batch)
        .catch((err: unknown) => this.fallback(batch, 0, 'rejected', `bug: ${errorMessage(err)}`))
        .finally(() => {
          this.inFlight -= 1;
          this.running.delete(run);
          this.drain();
        });
      this.running.add(run);
    }
  }

  /** The oldest alarm and the other waiting alarms of its asset, up to maxBatch. */
  private takeBatch(): Waiting[] {
    const first = this.queue.shift()!;
    const batch = [first];
    const { site, asset } = first.ctx;
    for (let i = 0; i < this.queue.length && batch.length < this.options.maxBatch;) {
      const w = this.queue[i]!;
      if (w.ctx.site === site && w.ctx.asset === asset) {
        batch.push(w);
        this.queue.splice(i, 1);
      } else i += 1;
    }
    return batch;
  }

  private async run(batch: Waiting[]): Promise<void> {
    const ctx = grouped(batch.map((w) => w.ctx));
    const backoff = new Backoff(
      { initialMs: this.options.retry.initialMs, maxMs: this.options.retry.maxMs },
      this.deps.random,
    );
    const started = performance.now();
    let attempts = 0;
    let outputRetries = 0;
    for (;;) {
      attempts += 1;
      this.counts.llmRequests += 1;
      try {
        const diagnosis = await this.client.diagnose(ctx, this.abort.signal);
        this.succeeded(batch, diagnosis, attempts, performance.now() - started);
        return;
      } catch (err) {
        if (this.stopping)
          return this.fallback(batch, attempts, 'stopped', 'the gateway is stopping');
        const e = err instanceof LlmError ? err : new LlmError('rejected', errorMessage(err));
        this.failures[e.kind] += 1;
        this.log.debug(
          { kind: e.kind, attempt: attempts, asset: ctx.asset, rule: ctx.rule, err: e.message },
          'LLM attempt failed',
        );
        if (e.kind === 'config') {
          this.configFailed(e.message);
          return this.fallback(batch, attempts, e.kind, e.message);
        }
        if ((e.kind === 'invalid' || e.kind === 'truncated') && outputRetries < OUTPUT_RETRIES) {
          outputRetries += 1;
          continue;
        }
        if (e.kind === 'busy' && backoff.failures < this.options.retry.attempts) {
          await sleep(Math.max(e.retryAfterMs ?? 0, backoff.nextDelay()), this.abort.signal);
          if (this.stopping)
            return this.fallback(batch, attempts, 'stopped', 'the gateway is stopping');
          continue;
        }
        this.failed(batch, attempts, e);
        return;
      }
    }
  }

  private succeeded(batch: Waiting[], diagnosis: Diagnosis, attempts: number, ms: number): void {
    this.breaker.success();
    if (this.configError !== null) {
      this.log.info(
        { model: this.client.model },
        'LLM answers again; configuration error resolved',
      );
      this.configError = null;
    }
    this.latency.record(ms);
    const text = formatDiagnosis(diagnosis, {
      source: 'llm',
      model: this.client.model,
      latencyMs: ms,
    });
    this.counts.answered += batch.length;
    this.counts.grouped += batch.length - 1;
    for (const w of batch) {
      w.resolve({
        source: 'llm',
        diagnosis,
        text,
        model: this.client.model,
        latencyMs: performance.now() - w.since,
        attempts,
        batched: batch.length,
      });
    }
  }

  private failed(batch: Waiting[], attempts: number, e: LlmError): void {
    const wasOpen = this.breaker.opened;
    this.breaker.failure();
    if (this.breaker.opened !== wasOpen) {
      this.log.warn(
        { kind: e.kind, err: e.message, resetMs: this.options.breaker.resetMs },
        'LLM keeps failing: circuit open, alarms get the standard-checks template until a probe succeeds',
      );
    } else {
      this.log.warn(
        { kind: e.kind, attempts, asset: batch[0]!.ctx.asset, err: e.message },
        'LLM diagnosis failed; using the template',
      );
    }
    this.fallback(batch, attempts, e.kind, e.message);
  }

  /** Logged once per distinct message, not once per alarm. */
  private configFailed(message: string): void {
    this.breaker.trip();
    if (this.configError === message) return;
    this.configError = message;
    this.log.error(
      { model: this.client.model, err: message },
      'LLM configuration error: alarms get the template until it is fixed',
    );
  }

  private fallback(
    batch: Waiting[],
    attempts: number,
    reason: FallbackReason,
    error: string,
  ): void {
    this.counts.templated += batch.length;
    for (const w of batch) {
      const diagnosis = templateDiagnosis(w.ctx);
      w.resolve({
        source: 'template',
        diagnosis,
        text: formatDiagnosis(diagnosis, { source: 'template', model: this.client.model, error }),
        model: this.client.model,
        latencyMs: performance.now() - w.since,
        attempts,
        batched: batch.length,
        error,
        reason,
      });
    }
  }
}

/** One context for several alarms of one asset: the first, with the others as `related`. */
export function grouped(contexts: DiagnosisContext[]): DiagnosisContext {
  const [first, ...rest] = contexts;
  if (rest.length === 0) return first!;
  const rank = (p: string) => PRIORITIES.indexOf(p as (typeof PRIORITIES)[number]);
  const priority = contexts.reduce(
    (p, c) => (rank(c.priority) > rank(p) ? c.priority : p),
    first!.priority,
  );
  return {
    ...first!,
    priority,
    related: [
      ...(first!.related ?? []),
      ...rest.map((c) => ({
        rule: c.rule,
        text: c.text,
        value: c.value,
        severity: c.severity,
        ts: c.ts,
      })),
    ],
  };
}
