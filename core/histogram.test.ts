import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './histogram.js';

describe('LatencyHistogram', () => {
  it('is empty at first', () => {
    expect(new LatencyHistogram().quantile(0.99)).toBe(0);
  });

  it('answers quantiles within 10 %', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    expect(h.count).toBe(1000);
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(50);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(55);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(99);
    expect(h.quantile(0.99)).toBeLessThanOrEqual(100);
    expect(h.quantile(1)).toBe(100);
  });

  it('clamps tiny and huge values into the end buckets', () => {
    const h = new LatencyHistogram();
    h.record(0);
    h.record(1e9);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(0.05);
    expect(h.quantile(1)).toBe(1e9);
  });
});
