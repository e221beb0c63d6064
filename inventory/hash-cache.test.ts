import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HashCache, holds } from './hash-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'factorylm-hash-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('HashCache', () => {
  it.each([
    ['unchanged', [10, 5, 1], true],
    ['another size', [11, 5, 1], false],
    ['another mtime', [10, 6, 1], false],
    ['another inode (replaced by a copy)', [10, 5, 2], false],
  ])('a cached hash holds when %s: %s', (_name, [size, mtime, ino], expected) => {
    expect(holds({ size: 10, mtimeMs: 5, ino: 1, hash: 'h' }, size!, mtime!, ino!)).toBe(expected);
  });

  it('keeps what a scan saw, forgets what it did not, per root', () => {
    const file = join(dir, 'cache.db');
    const first = HashCache.open(file, ['/a', '/b']);
    first.set('/a/x', 1, 1, 1, 'hx');
    first.set('/a/y', 2, 2, 2, 'hy');
    first.set('/b/z', 3, 3, 3, 'hz');
    first.save();
    first.close();

    // /a/y deleted since; /b not scanned this time.
    const second = HashCache.open(file, ['/a']);
    expect(second.lookup('/a', 'x')?.hash).toBe('hx');
    expect(second.lookup('/b', 'z')).toBeUndefined();
    second.save();
    second.close();

    const third = HashCache.open(file, ['/a', '/b']);
    expect(
      ['/a/x', '/a/y', '/b/z'].map((p) => third.lookup(p.slice(0, 2), p.slice(3))?.hash),
    ).toEqual(['hx', undefined, 'hz']);
    third.close();
  });

  it('keeps the new hash of a changed file, and names with newlines', () => {
    const file = join(dir, 'changed.db');
    const first = HashCache.open(file, ['/a']);
    first.set('/a/x', 1, 1, 1, 'old');
    first.set('/a/two\nlines', 2, 2, 2, 'h2');
    first.save();
    first.close();

    const second = HashCache.open(file, ['/a']);
    expect(second.lookup('/a', 'x')).toEqual({ size: 1, mtimeMs: 1, ino: 1, hash: 'old' });
    expect(second.lookup('/a', 'two\nlines')?.hash).toBe('h2');
    second.set('/a/x', 3, 4, 1, 'new');
    second.save();
    second.close();

    const third = HashCache.open(file, ['/a']);
    expect(third.lookup('/a', 'x')).toEqual({ size: 3, mtimeMs: 4, ino: 1, hash: 'new' });
    expect(third.lookup('/a', 'two\nlines')?.hash).toBe('h2');
    third.close();
  });

  it('finds files in any order, in folders stored in several runs', () => {
    const file = join(dir, 'order.db');
    const first = HashCache.open(file, ['/a']);
    // The folder /a's files come before and after those of its sub-folder.
    for (const [path, hash] of [
      ['/a/x', 'hx'],
      ['/a/s/y', 'hy'],
      ['/a/z', 'hz'],
      ['/a/s/t/w', 'hw'],
    ] as const)
      first.set(path, 1, 1, 1, hash);
    first.save();
    first.close();

    const second = HashCache.open(file, ['/a']);
    const found = [
      ['/a', 'z'],
      ['/a/s/t', 'w'],
      ['/a', 'x'],
      ['/a/s', 'y'],
      ['/a', 'y'],
      ['/a/s', 'w'],
    ].map(([d, n]) => second.lookup(d!, n!)?.hash);
    expect(found).toEqual(['hz', 'hw', 'hx', 'hy', undefined, undefined]);
    second.close();
  });

  it('without a file caches nothing', () => {
    const none = HashCache.open(undefined, ['/a']);
    none.set('/a/x', 1, 1, 1, 'hx');
    none.save();
    expect(none.lookup('/a', 'x')).toBeUndefined();
  });
});
