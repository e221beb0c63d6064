/** Capped exponential backoff with jitter, so a fleet of agents does not reconnect in lockstep. */
export interface BackoffOptions {
  /** First delay in ms. Default 500. */
  initialMs: number;
  /** Upper bound of any delay in ms. Default 30000. */
  maxMs: number;
  /** Growth per attempt. Default 2. */
  factor: number;
  /** Fraction of the delay that is randomised, 0..1. Default 0.2; tests set 0. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.2,
};

export class Backoff {
  private readonly options: BackoffOptions;
  private attempt = 0;

  constructor(
    options: Partial<BackoffOptions> = {},
    private readonly random = Math.random,
  ) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
  }

  /** Delay before the next attempt; each call counts as one more failure. */
  nextDelay(): number {
    const { initialMs, maxMs, factor, jitter } = this.options;
    const base = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt += 1;
    const spread = base * jitter;
    return Math.round(Math.min(maxMs, base - spread + this.random() * 2 * spread));
  }

  /** The connection works again: the next failure starts from the initial delay. */
  success(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

/** Resolves after `ms`, or early when `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
