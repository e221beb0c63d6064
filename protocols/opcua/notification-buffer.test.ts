import { describe, expect, it } from 'vitest';
import { GOOD, SampleFrame } from '../sample-frame.js';
import { NotificationBuffer } from './notification-buffer.js';

const ids = ['a', 'b', 'c'];

/** Notifies tag `i` with `value` arriving at `ts`. */
function notify(buffer: NotificationBuffer, i: number, value: number, ts: number): void {
  buffer.notified(i).put(i, i, value, GOOD, undefined, ts);
}

function drain(buffer: NotificationBuffer, now: number, tags = [0, 1, 2]) {
  const out = new SampleFrame(ids);
  out.reset(0);
  buffer.drainInto(out, tags, now);
  return out.readings().map((r) => [r.id, r.value, r.ts]);
}

describe('NotificationBuffer', () => {
  it('hands over older values first, then each latest; repeats unchanged ones as read now', () => {
    const dropped: number[] = [];
    const buffer = new NotificationBuffer(ids, 10, (n) => dropped.push(n));
    notify(buffer, 0, 1, 10);
    notify(buffer, 1, 5, 11);
    notify(buffer, 0, 2, 12);
    expect(drain(buffer, 100)).toEqual([
      ['a', 1, 10],
      ['a', 2, 12],
      ['b', 5, 11],
    ]);
    // Nothing new: each latest again, read now; a tag never heard stays out.
    notify(buffer, 1, 6, 150);
    expect(drain(buffer, 200)).toEqual([
      ['a', 2, 200],
      ['b', 6, 150],
    ]);
    expect(dropped).toEqual([]);
  });

  it('drops older values beyond its bound, counted, never a latest', () => {
    const dropped: number[] = [];
    const buffer = new NotificationBuffer(ids, 2, (n) => dropped.push(n));
    for (let v = 1; v <= 5; v++) notify(buffer, 0, v, v);
    expect(dropped).toEqual([2]);
    expect(drain(buffer, 100)).toEqual([
      ['a', 3, 3],
      ['a', 4, 4],
      ['a', 5, 5],
    ]);
  });

  it('only the tags asked for; a cleared session repeats nothing', () => {
    const buffer = new NotificationBuffer(ids, 10, () => {});
    notify(buffer, 0, 1, 10);
    notify(buffer, 2, 3, 10);
    expect(drain(buffer, 20, [2])).toEqual([['c', 3, 10]]);
    buffer.clear();
    expect(drain(buffer, 30)).toEqual([]);
  });
});
