import { describe, expect, it } from 'vitest';
import { BAD, GOOD, SampleFrame } from '../protocols/sample-frame.js';
import {
  AssetBatchPublisher,
  publishCycle,
  TagJsonPublisher,
  type MessageSink,
} from './publishers.js';
import { TagTable } from './tag-model.js';

const POLICY = { deadband: 0, deadbandPercent: 0, minIntervalMs: 0, maxSilenceMs: 60_000 };

function table(): TagTable {
  const tags = new TagTable(['pump/speed', 'pump/run', 'tank/level']);
  tags.set(0, {
    asset: 'pump',
    topic: 'p/speed',
    jsonKey: '"speed":',
    scale: 0.1,
    offset: 0,
    policy: POLICY,
  });
  tags.set(1, {
    asset: 'pump',
    topic: 'p/run',
    jsonKey: '"run":',
    scale: 1,
    offset: 0,
    policy: POLICY,
  });
  tags.set(2, {
    asset: 'tank',
    topic: 't/level',
    jsonKey: '"level":',
    scale: 1,
    offset: 0,
    policy: { ...POLICY, deadband: 5 },
  });
  return tags;
}

function recorder(): MessageSink & { sent: [string, string, number, number][] } {
  const sent: [string, string, number, number][] = [];
  return {
    sent,
    append: (topic, payload, samples, ts) => sent.push([topic, String(payload), samples, ts]),
  };
}

function cycle(
  frame: SampleFrame,
  ts: number,
  samples: [number, number | boolean | null, number, string?][],
) {
  frame.reset(samples.length);
  samples.forEach(([tag, v, q, reason], s) => frame.put(s, tag, v, q, reason, ts));
  return frame;
}

describe('publishCycle', () => {
  it('scales, lets through what report by exception allows and remembers it', () => {
    const tags = table();
    const sink = recorder();
    const frame = new SampleFrame(tags.ids);
    const publisher = new TagJsonPublisher(sink);
    const first = cycle(frame, 1000, [
      [0, 253, GOOD],
      [1, true, GOOD],
      [2, 50, GOOD],
    ]);
    expect(publishCycle(tags, first, publisher)).toEqual({ read: 3, accepted: 3 });
    expect(sink.sent).toEqual([
      ['p/speed', '{"v":25.3,"ts":1000,"q":"good"}', 1, 1000],
      ['p/run', '{"v":true,"ts":1000,"q":"good"}', 1, 1000],
      ['t/level', '{"v":50,"ts":1000,"q":"good"}', 1, 1000],
    ]);
    sink.sent.length = 0;
    // Unchanged, inside the deadband, then a quality change: only the last goes out.
    const second = cycle(frame, 2000, [
      [0, 253, GOOD],
      [2, 54, GOOD],
      [1, null, BAD, 'timeout'],
    ]);
    expect(publishCycle(tags, second, publisher)).toEqual({ read: 3, accepted: 1 });
    expect(sink.sent).toEqual([['p/run', '{"v":null,"ts":2000,"q":"bad","r":"timeout"}', 1, 2000]]);
    expect(tags.last(1)).toEqual({ v: null, q: 'bad', at: 2000 });
    expect(tags.last(2)).toEqual({ v: 50, q: 'good', at: 1000 });
  });

  it('batches a cycle per asset, with qualities and reasons of the bad tags', () => {
    const tags = table();
    const sink = recorder();
    const publisher = new AssetBatchPublisher(sink, (asset) => `a/${asset}`);
    const frame = cycle(new SampleFrame(tags.ids), 5000, [
      [0, 100, GOOD],
      [1, null, BAD, 'exception 2 (illegal data address)'],
      [2, 7, GOOD],
    ]);
    publishCycle(tags, frame, publisher);
    expect(sink.sent).toEqual([
      [
        'a/pump',
        '{"ts":5000,"v":{"speed":10,"run":null},"q":{"run":"bad"},"r":{"run":"exception 2 (illegal data address)"}}',
        2,
        5000,
      ],
      ['a/tank', '{"ts":5000,"v":{"level":7}}', 1, 5000],
    ]);
  });
});

describe('TagTable', () => {
  it('finds tags by id and carries the last sample over to another table', () => {
    const before = table();
    before.remember(2, 'FULL', GOOD, 10);
    const after = new TagTable(['tank/level']);
    expect(before.indexOf('tank/level')).toBe(2);
    expect(before.indexOf('tank/none')).toBe(-1);
    expect(after.last(0)).toBeUndefined();
    after.carry(0, before, 2);
    expect(after.last(0)).toEqual({ v: 'FULL', q: 'good', at: 10 });
  });
});
