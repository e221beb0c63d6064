import { describe, expect, it } from 'vitest';
import { BAD, GOOD, qualityCode, SampleFrame } from './sample-frame.js';

describe('SampleFrame', () => {
  it.each([
    ['a whole number', 42],
    ['a fraction', -3.25],
    ['true', true],
    ['false', false],
    ['text', 'RUN'],
    ['no value', null],
  ] as const)('gives back %s as it was put', (_name, value) => {
    const frame = new SampleFrame(['a/x']);
    frame.reset(1);
    frame.put(0, 0, value, GOOD, undefined, 1000);
    expect(frame.value(0)).toBe(value);
    expect(frame.readings()).toEqual([{ id: 'a/x', value, quality: 'good', ts: 1000 }]);
  });

  it('fills slots in any order and lists them by slot', () => {
    const frame = new SampleFrame(['a/x', 'a/y', 'a/z']);
    frame.reset(3);
    frame.put(2, 0, 1, GOOD, undefined, 30);
    frame.put(0, 2, null, BAD, 'timeout', 10);
    frame.put(1, 1, 2, qualityCode('uncertain'), 'sensor cal', 20);
    expect(frame.readings()).toEqual([
      { id: 'a/z', value: null, quality: 'bad', reason: 'timeout', ts: 10 },
      { id: 'a/y', value: 2, quality: 'uncertain', reason: 'sensor cal', ts: 20 },
      { id: 'a/x', value: 1, quality: 'good', ts: 30 },
    ]);
  });

  it('a reused slot keeps nothing of its previous sample', () => {
    const frame = new SampleFrame(['a/x']);
    frame.reset(1);
    frame.put(0, 0, 'STOP', BAD, 'old reason', 1, 5);
    frame.reset(1);
    frame.put(0, 0, 7, GOOD, undefined, 2);
    expect(frame.readings()).toEqual([{ id: 'a/x', value: 7, quality: 'good', ts: 2 }]);
    expect(frame.sampleTs(0)).toBe(2);
  });

  it('reset grows the columns past their first size', () => {
    const frame = new SampleFrame(['a/x', 'a/y']);
    frame.reset(10);
    for (let i = 0; i < 10; i++) frame.put(i, i % 2, i, GOOD, undefined, i, 100 + i);
    expect(frame.count).toBe(10);
    const readings = frame.readings();
    expect(readings.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(readings[9]).toEqual({ id: 'a/y', value: 9, quality: 'good', ts: 9, sourceTs: 109 });
    expect(frame.sampleTs(9)).toBe(109);
  });

  it('extend keeps what was there as the columns grow, and copy carries a sample over', () => {
    const frame = new SampleFrame(['a/x', 'a/y'], 1);
    for (let i = 0; i < 9; i++)
      frame.put(
        frame.extend(),
        i % 2,
        i % 3 === 0 ? `t${i}` : i,
        GOOD,
        i === 4 ? 'why' : undefined,
        i,
        100 + i,
      );
    expect(frame.count).toBe(9);
    expect(frame.readings().map((r) => r.value)).toEqual(['t0', 1, 2, 't3', 4, 5, 't6', 7, 8]);
    expect(frame.readings()[4]).toEqual({
      id: 'a/x',
      value: 4,
      quality: 'good',
      reason: 'why',
      ts: 4,
      sourceTs: 104,
    });
    const other = new SampleFrame(['a/x', 'a/y']);
    const first = other.extend(2);
    other.copy(first, frame, 3);
    other.copy(first + 1, frame, 4, 999);
    expect(other.readings()).toEqual([
      { id: 'a/y', value: 't3', quality: 'good', ts: 3, sourceTs: 103 },
      { id: 'a/x', value: 4, quality: 'good', reason: 'why', ts: 999, sourceTs: 104 },
    ]);
  });

  it.each([
    ['good', 0],
    ['bad', 1],
    ['uncertain', 2],
  ] as const)('quality %s is code %d', (q, code) => {
    expect(qualityCode(q)).toBe(code);
  });
});
