import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

type Step = ['take' | 'tryTake', number, number, number];

describe('TokenBucket (10 tokens/s, burst 5, starts empty at t=0)', () => {
  it.each<[string, Step[]]>([
    ['starts empty: the first token is 100 ms away', [['tryTake', 1, 0, 100]]],
    [
      'refills at the rate and hands out what is there',
      [
        ['tryTake', 1, 100, 0],
        ['tryTake', 1, 150, 50],
        ['tryTake', 1, 200, 0],
      ],
    ],
    [
      'saves up no more than the burst',
      [
        ['tryTake', 5, 10_000, 0],
        ['tryTake', 1, 10_000, 100],
      ],
    ],
    [
      'tryTake takes nothing when short',
      [
        ['tryTake', 3, 200, 100],
        ['tryTake', 3, 300, 0],
      ],
    ],
    [
      'take goes into debt and says how long to wait it off',
      [
        ['take', 3, 100, 200],
        ['take', 1, 300, 100],
        ['tryTake', 1, 500, 0],
      ],
    ],
    ['take within the tokens owes nothing', [['take', 2, 1000, 0]]],
  ])('%s', (_name, steps) => {
    const bucket = new TokenBucket(10, 5, 0);
    for (const [op, n, now, waitMs] of steps) expect(bucket[op](n, now)).toBeCloseTo(waitMs, 6);
  });

  it('reset empties it and refills from then', () => {
    const bucket = new TokenBucket(10, 5, 0);
    bucket.reset(1000);
    expect(bucket.tryTake(1, 1000)).toBeCloseTo(100, 6);
    expect(bucket.tryTake(1, 1100)).toBe(0);
  });
});
