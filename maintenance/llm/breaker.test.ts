import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker.js';

type Step = 'fail' | 'ok' | 'trip' | `wait ${number}` | 'allow' | 'deny';

function run(steps: Step[]): string[] {
  let now = 0;
  const b = new CircuitBreaker({ failures: 3, resetMs: 1000 }, () => now);
  const states: string[] = [];
  for (const s of steps) {
    if (s === 'fail') b.failure();
    else if (s === 'ok') b.success();
    else if (s === 'trip') b.trip();
    else if (s === 'allow') expect(b.allow()).toBe(true);
    else if (s === 'deny') expect(b.allow()).toBe(false);
    else now += Number(s.slice(5));
    states.push(b.state);
  }
  return states;
}

describe('CircuitBreaker', () => {
  it.each<[string, Step[], string]>([
    ['stays closed below the threshold', ['fail', 'fail', 'allow'], 'closed'],
    ['a success resets the count', ['fail', 'fail', 'ok', 'fail', 'fail', 'allow'], 'closed'],
    ['opens at the threshold and refuses', ['fail', 'fail', 'fail', 'deny'], 'open'],
    [
      'half-open after resetMs lets one probe through',
      ['trip', 'wait 999', 'deny', 'wait 1', 'allow', 'deny'],
      'half-open',
    ],
    ['a successful probe closes it', ['trip', 'wait 1000', 'allow', 'ok', 'allow'], 'closed'],
    [
      'a failed probe opens it again for resetMs',
      ['trip', 'wait 1000', 'allow', 'fail', 'deny', 'wait 1000', 'allow'],
      'half-open',
    ],
  ])('%s', (_name, steps, final) => {
    expect(run(steps).at(-1)).toBe(final);
  });

  it('counts openings, not refusals', () => {
    let now = 0;
    const b = new CircuitBreaker({ failures: 1, resetMs: 10 }, () => now);
    b.failure();
    b.trip();
    expect(b.opened).toBe(1);
    now = 10;
    b.allow();
    b.failure();
    expect(b.opened).toBe(2);
  });
});
