/**
 * A token bucket: `ratePerSec` tokens a second, at most `burst` saved up. It starts empty, so a
 * replay or drain begins at the rate, not with a burst. Time is passed in (ms, any monotonic
 * clock) so callers pick their clock and tests need none.
 */
export class TokenBucket {
  private tokens = 0;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private refilledAt: number,
  ) {}

  /** Empty again, refilling from `now`. */
  reset(now: number): void {
    this.tokens = 0;
    this.refilledAt = now;
  }

  /** Takes `n` tokens when there are that many and returns 0; else takes none and returns the ms until there are. */
  tryTake(n: number, now: number): number {
    this.refill(now);
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    return ((n - this.tokens) * 1000) / this.ratePerSec;
  }

  /**
   * Takes `n` tokens even into debt (a batch cannot be split to fit) and returns the ms the
   * caller waits until the debt is paid, 0 when there was none.
   */
  take(n: number, now: number): number {
    this.refill(now);
    this.tokens -= n;
    return this.tokens < 0 ? (-this.tokens * 1000) / this.ratePerSec : 0;
  }

  private refill(now: number): void {
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.refilledAt) * this.ratePerSec) / 1000,
    );
    this.refilledAt = now;
  }
}
