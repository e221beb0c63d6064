import { describe, expect, it } from 'vitest';
import { view } from '../test/support/project-view.js';
import { findDuplicates } from './duplicates.js';
import { pickSource } from './fleet-view.js';
import type { FileEntry } from './report.js';

const entries = (n: number, changed = 0): FileEntry[] =>
  Array.from({ length: n }, (_, i) => [`f${i}.py`, i < changed ? `x${i}` : `h${i}`, 100]);

describe('pickSource', () => {
  it.each([
    [
      'production wins',
      [view('a:/x'), view('a:/y', { usage: 'production', usedBy: ['y.service (active)'] })],
      'a:/y',
      'runs y.service (active)',
    ],
    [
      'then a git remote',
      [
        view('a:/x', { kinds: ['git'] }),
        view('a:/y', { kinds: ['git'], remote: 'https://h/r.git' }),
      ],
      'a:/y',
      'git remote https://h/r.git',
    ],
    [
      'then a git repository',
      [view('a:/x'), view('a:/y', { kinds: ['git'] })],
      'a:/y',
      'git repository',
    ],
    [
      'then the newest commit',
      [view('a:/x', { lastCommitAt: 5 }), view('a:/y', { lastCommitAt: 9 })],
      'a:/y',
      'newest commit',
    ],
    [
      'then the oldest files',
      [view('a:/x', { modifiedAt: 9 }), view('a:/y', { modifiedAt: 5 })],
      'a:/y',
      'oldest files (copies are newer)',
    ],
    ['then the location', [view('b:/x'), view('a:/y')], 'a:/y', 'first by location'],
  ])('%s', (_name, copies, source, why) => {
    const picked = pickSource(copies);
    expect([picked.source.id, picked.why]).toEqual([source, why]);
  });
});

describe('findDuplicates', () => {
  it('marks exact copies DELETE, a dirty copy ARCHIVE, a running copy KEEP', () => {
    const fp = { fingerprint: 'same', files: 10, bytes: 1000 };
    const d = findDuplicates(
      [
        view('a:/src', { ...fp, modifiedAt: 1 }),
        view('a:/copy', { ...fp }),
        view('b:/copy', { ...fp, kinds: ['git'], dirty: 2 }),
        view('b:/live', { ...fp, usage: 'production', usedBy: ['live.service (active)'] }),
        view('c:/unit', { ...fp, usage: 'installed', usedBy: ['u.service (inactive)'] }),
        view('a:/other', { fingerprint: 'else' }),
      ],
      0.6,
    );
    expect(d.exact).toEqual([
      {
        fingerprint: 'same',
        files: 10,
        bytes: 1000,
        source: 'b:/live',
        why: 'runs live.service (active)',
        copies: ['a:/src', 'a:/copy', 'b:/copy', 'c:/unit'],
      },
    ]);
    expect(d.kill.map((k) => [k.id, k.action, k.reason])).toEqual([
      ['a:/copy', 'DELETE', 'exact copy of b:/live'],
      ['a:/src', 'DELETE', 'exact copy of b:/live'],
      ['b:/copy', 'ARCHIVE', '2 uncommitted files, 0 unpushed commits'],
      ['b:/live', 'KEEP', 'source: runs live.service (active)'],
      ['c:/unit', 'KEEP', 'installed as u.service (inactive): remove that first'],
    ]);
    expect(d.recovered).toEqual({ delete: 2000, archive: 1000 });
  });

  it.each([
    ['at the threshold: a fork', 10, 4, 0.6, 1],
    ['below the threshold: unrelated', 10, 5, 0.6, 0],
    ['a stricter threshold', 10, 2, 0.9, 0],
  ])('%s (%i files, %i changed, threshold %f)', (_name, n, changed, threshold, forks) => {
    const d = findDuplicates(
      [
        view('a:/orig', { entries: entries(n), files: n, modifiedAt: 1 }),
        view('a:/fork', { entries: entries(n, changed), files: n }),
      ],
      threshold,
    );
    expect(d.forks).toHaveLength(forks);
    if (forks) {
      expect(d.forks[0]).toMatchObject({
        source: 'a:/orig',
        fork: 'a:/fork',
        similarity: (n - changed) / n,
        changed: entries(changed).map(([p]) => p),
      });
      expect(d.kill.map((k) => [k.id, k.action])).toEqual([
        ['a:/fork', 'ARCHIVE'],
        ['a:/orig', 'KEEP'],
      ]);
    }
  });

  it.each([
    ['same name on another node: another version, kept', 'b:/srv/app', 'app', 'KEEP'],
    ['another name on another node: a fork', 'b:/srv/app-old', 'app-old', 'ARCHIVE'],
    ['same name on the same node: a fork', 'a:/backup/app', 'app', 'ARCHIVE'],
  ])('%s', (_name, id, name, action) => {
    const d = findDuplicates(
      [
        view('a:/opt/app', { name: 'app', entries: entries(10), modifiedAt: 1 }),
        view(id, { name, entries: entries(10, 2) }),
      ],
      0.6,
    );
    expect(d.kill.find((k) => k.id === id)?.action).toBe(action);
  });

  it('compares a fork with the source of an exact group, not with its copies', () => {
    const base = entries(10);
    const d = findDuplicates(
      [
        view('a:/orig', { entries: base, fingerprint: 'o', modifiedAt: 1 }),
        view('a:/orig-copy', { entries: base, fingerprint: 'o' }),
        view('a:/fork', { entries: entries(10, 1), fingerprint: 'f' }),
      ],
      0.6,
    );
    expect(d.forks.map((f) => [f.source, f.fork])).toEqual([['a:/orig', 'a:/fork']]);
  });
});
