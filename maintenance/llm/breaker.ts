export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** How long it stays open before one probe is let through, ms. */
  resetMs: number;
}

/**
 * Circuit breaker: after `failures` failures in a row the LLM is not asked for `resetMs`; then one
 * probe request goes through (half-open) and its outcome closes or re-opens the circuit. The
 * clock is injected so the table tests need no waiting.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  /** Times the circuit opened. */
  opened = 0;

  constructor(
    private readonly options: BreakerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.resetMs) {
      this.current = 'half-open';
      this.probing = false;
    }
    return this.current;
  }

  /** May a request go out now? In half-open state, only the first caller gets true (the probe). */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.current = 'closed';
    this.consecutive = 0;
    this.probing = false;
  }

  failure(): void {
    this.consecutive += 1;
    if (this.current === 'half-open' || this.consecutive >= this.options.failures) this.trip();
  }

  /** Opens the circuit at once (a configuration error: no point in N more tries). */
  trip(): void {
    if (this.current !== 'open') this.opened += 1;
    this.current = 'open';
    this.openedAt = this.now();
    this.probing = false;
  }
}
