import { describe, expect, it } from 'vitest';
import type { FileEntry } from './report.js';
import { candidatePairs, compareEntries, exactGroups } from './similarity.js';
import { fingerprint } from './walk.js';

const files = (spec: string): FileEntry[] =>
  spec
    .split(' ')
    .filter(Boolean)
    .map((pair) => {
      const [path, hash] = pair.split('=') as [string, string];
      return [path, hash, 1];
    });

describe('fingerprint', () => {
  it.each([
    ['a=1 b=2', 'b=2 a=1', true, 'order does not matter'],
    ['a=1 b=2', 'a=1 b=3', false, 'content matters'],
    ['a=1 b=2', 'a=1 c=2', false, 'paths matter'],
    ['a=1', 'a=1 b=2', false, 'an extra file matters'],
  ])('%s vs %s → equal %s (%s)', (a, b, equal) => {
    expect(fingerprint(files(a)) === fingerprint(files(b))).toBe(equal);
  });
});

describe('compareEntries', () => {
  it.each([
    [
      'identical',
      'a=1 b=2',
      'a=1 b=2',
      { shared: 2, similarity: 1, changed: [], added: [], removed: [] },
    ],
    [
      'one changed of four',
      'a=1 b=2 c=3 d=4',
      'a=1 b=2 c=3 d=9',
      { shared: 3, similarity: 0.75, changed: ['d'], added: [], removed: [] },
    ],
    [
      'a file moved keeps its content shared',
      'a=1 b=2',
      'a=1 sub/b=2',
      { shared: 2, similarity: 1, changed: [], added: ['sub/b'], removed: ['b'] },
    ],
    [
      'added and removed',
      'a=1 b=2 c=3',
      'a=1 b=2 e=5 f=6',
      { shared: 2, similarity: 0.5, changed: [], added: ['e', 'f'], removed: ['c'] },
    ],
    [
      'duplicate contents count once each side',
      'a=1 b=1',
      'a=1 c=2',
      { shared: 1, similarity: 0.5, changed: [], added: ['c'], removed: ['b'] },
    ],
    ['both empty', '', '', { shared: 0, similarity: 1, changed: [], added: [], removed: [] }],
  ])('%s', (_name, a, b, expected) => {
    expect(compareEntries(files(a), files(b))).toEqual(expected);
  });
});

describe('exactGroups', () => {
  it('groups by fingerprint, two or more, empty folders never', () => {
    const items = [
      { id: 'n:/a', fingerprint: 'f1', files: 3 },
      { id: 'n:/b', fingerprint: 'f1', files: 3 },
      { id: 'n:/c', fingerprint: 'f2', files: 1 },
      { id: 'n:/d', fingerprint: 'f0', files: 0 },
      { id: 'n:/e', fingerprint: 'f0', files: 0 },
      { id: 'm:/f', fingerprint: 'f3', files: 9 },
      { id: 'n:/g', fingerprint: 'f3', files: 9 },
    ];
    expect(exactGroups(items).map((g) => g.map((i) => i.id))).toEqual([
      ['m:/f', 'n:/g'],
      ['n:/a', 'n:/b'],
    ]);
  });
});

describe('candidatePairs', () => {
  it.each([
    ['sharing a file', ['a=1 b=2', 'a=1 c=3'], 0.5, [[0, 1]]],
    ['sharing nothing', ['a=1', 'b=2'], 0.1, []],
    ['sizes too unequal for the threshold', ['a=1', 'a=1 b=2 c=3 d=4'], 0.6, []],
    [
      'three way',
      ['a=1 b=2', 'a=1 b=2', 'a=1 b=9'],
      0.5,
      [
        [0, 1],
        [0, 2],
        [1, 2],
      ],
    ],
  ])('%s', (_name, folders, threshold, expected) => {
    expect(candidatePairs(folders.map(files), threshold)).toEqual(expected);
  });
});
