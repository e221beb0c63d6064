import { describe, expect, it } from 'vitest';
import { ignoredByDefault, ignoredByRules, parseIgnore } from './ignore.js';

describe('.factorylmignore rules', () => {
  const sets = [
    {
      base: '/srv/app',
      rules: parseIgnore('# comment\n\n*.log\nbuild/\n/tmp/\ndata/**/raw\n!keep.log\n'),
    },
  ];
  it.each([
    ['/srv/app/x.log', false, true, 'a name pattern matches at any depth'],
    ['/srv/app/sub/deep/x.log', false, true, 'a name pattern matches at any depth'],
    ['/srv/app/build', true, true, 'dir/ matches a folder'],
    ['/srv/app/build', false, false, 'dir/ does not match a file of that name'],
    ['/srv/app/sub/build', true, true, 'dir/ without a slash inside is not anchored'],
    ['/srv/app/tmp', true, true, '/tmp/ is anchored to the file'],
    ['/srv/app/sub/tmp', true, false, '/tmp/ does not match deeper'],
    ['/srv/app/data/raw', true, true, '**/ matches zero folders'],
    ['/srv/app/data/a/b/raw', true, true, '**/ matches several folders'],
    ['/srv/app/keep.log', false, true, 'negation is not supported: the line is skipped'],
    ['/srv/other/x.log', false, false, 'rules apply only below their folder'],
    ['/srv/app/x.logs', false, false, '* does not run past the pattern'],
  ])('%s (dir %s) → ignored %s: %s', (path, isDir, expected) => {
    expect(ignoredByRules(sets, path, isDir)).toBe(expected);
  });

  it('applies rules based at the file system root', () => {
    const atRoot = [{ base: '/', rules: parseIgnore('/proc/\n*.log\n') }];
    expect(ignoredByRules(atRoot, '/proc', true)).toBe(true);
    expect(ignoredByRules(atRoot, '/srv/proc', true)).toBe(false);
    expect(ignoredByRules(atRoot, '/srv/x.log', false)).toBe(true);
  });

  it.each([
    ['node_modules', true, true],
    ['.git', true, true],
    ['venv', true, true],
    ['__pycache__', true, true],
    ['src', true, false],
    ['x.pyc', false, true],
    ['.DS_Store', false, true],
    ['x.py', false, false],
  ])('built-in: %s (dir %s) → %s', (name, isDir, expected) => {
    expect(ignoredByDefault(name, isDir)).toBe(expected);
  });
});
