import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';
import { BoundedQueue } from './bounded-queue.js';

describe('BoundedQueue', () => {
  it('keeps FIFO order across wrap-around', () => {
    const q = new BoundedQueue<number>(3);
    q.push(1);
    q.push(2);
    expect(q.shift()).toBe(1);
    q.push(3);
    q.push(4);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([2, 3, 4, undefined]);
    expect(q.dropped).toBe(0);
  });

  it('drops the oldest when full and counts it', () => {
    const q = new BoundedQueue<number>(2);
    expect(q.push(1)).toBeUndefined();
    q.push(2);
    expect(q.push(3)).toBe(1);
    expect(q.push(4)).toBe(2);
    expect(q.dropped).toBe(2);
    expect(q.length).toBe(2);
    expect([q.shift(), q.shift()]).toEqual([3, 4]);
  });

  it.each([0, -1, 1.5])('refuses capacity %s', (capacity) => {
    expect(() => new BoundedQueue(capacity)).toThrow(RangeError);
  });
});

describe('Backoff', () => {
  it('grows exponentially up to the cap and resets on success', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    expect([b.nextDelay(), b.nextDelay(), b.nextDelay(), b.nextDelay(), b.nextDelay()]).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    b.success();
    expect(b.nextDelay()).toBe(100);
  });

  it('spreads delays by the jitter fraction and never exceeds the cap', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.2 }, () => 0);
    const high = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.2 }, () => 0.999);
    expect(low.nextDelay()).toBe(800);
    expect(high.nextDelay()).toBe(1000);
  });
});
