import { describe, expect, it } from 'vitest';
import { LogLimiter } from './log-limiter.js';

/** [key, now, logged?, suppressed count handed over] */
type Step = [string, number, boolean, number];

describe('LogLimiter', () => {
  it.each<[string, number, Step[]]>([
    [
      'one line per interval, the skipped ones counted into the next',
      1,
      [
        ['a', 1000, true, 0],
        ['a', 1500, false, 0],
        ['a', 10_999, false, 0],
        ['a', 11_000, true, 2],
        ['a', 11_001, false, 0],
      ],
    ],
    [
      'keys are limited apart',
      1,
      [
        ['a', 0, true, 0],
        ['b', 1, true, 0],
        ['a', 2, false, 0],
        ['b', 3, false, 0],
        ['b', 10_003, true, 1],
      ],
    ],
    [
      'max lines per window',
      3,
      [
        ['a', 0, true, 0],
        ['a', 1, true, 0],
        ['a', 2, true, 0],
        ['a', 3, false, 0],
        ['a', 4, false, 0],
        ['a', 10_000, true, 2],
        ['a', 10_001, true, 0],
      ],
    ],
  ])('%s', (_name, max, steps) => {
    const limiter = new LogLimiter(10_000, max);
    for (const [key, now, log, suppressed] of steps)
      expect(limiter.take(key, now)).toEqual({ log, suppressed });
  });

  it('a line logged outside the limiter starts a new window', () => {
    const limiter = new LogLimiter(10_000);
    expect(limiter.take('down', 0).log).toBe(true);
    limiter.logged('down', 9000);
    expect(limiter.take('down', 10_000).log).toBe(false);
    expect(limiter.take('down', 19_000)).toEqual({ log: true, suppressed: 1 });
  });
});
