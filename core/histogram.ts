/**
 * A fixed-size latency histogram: 0.05 ms to ~100 s in buckets 10 % apart, so recording is
 * O(1) with no allocation and quantiles are within 10 % of the truth.
 */
export class LatencyHistogram {
  private static readonly BASE = 0.05;
  private static readonly GROWTH = Math.log(1.1);
  private readonly buckets = new Uint32Array(160);
  count = 0;
  max = 0;

  record(ms: number): void {
    const i =
      ms <= LatencyHistogram.BASE
        ? 0
        : Math.min(
            this.buckets.length - 1,
            Math.ceil(Math.log(ms / LatencyHistogram.BASE) / LatencyHistogram.GROWTH),
          );
    this.buckets[i]! += 1;
    this.count += 1;
    if (ms > this.max) this.max = ms;
  }

  /** The upper bound of the bucket holding quantile q (0..1), ms; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) {
        // The last bucket is open-ended: its only honest bound is the largest value seen.
        if (i === this.buckets.length - 1) return this.max;
        return Math.min(this.max, LatencyHistogram.BASE * Math.exp(i * LatencyHistogram.GROWTH));
      }
    }
    return this.max;
  }

  /** p50, p99 and max rounded to 0.01 ms, and the count: what logs and health report. */
  summary(): { p50: number; p99: number; max: number; count: number } {
    const r = (n: number) => Math.round(n * 100) / 100;
    return {
      p50: r(this.quantile(0.5)),
      p99: r(this.quantile(0.99)),
      max: r(this.max),
      count: this.count,
    };
  }
}
