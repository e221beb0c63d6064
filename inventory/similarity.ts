import type { FileEntry } from './report.js';

/** What two folders share and where they differ, by file content. */
export interface Comparison {
  /** Files of the smaller side whose content the other side also has (any path). */
  shared: number;
  /** shared ÷ the larger side's file count: 1 for equal folders, 0.9 for one change in ten. */
  similarity: number;
  /** Same path, different content. */
  changed: string[];
  /** Paths only in b (added by the fork) and only in a (removed by it). */
  added: string[];
  removed: string[];
}

/**
 * Compares folder `a` (the source) with `b` (a fork). Content is matched as a multiset of
 * hashes, so a renamed or moved file still counts as shared; the lists say what differs by path.
 */
export function compareEntries(a: FileEntry[], b: FileEntry[]): Comparison {
  const counts = new Map<string, number>();
  for (const [, hash] of a) counts.set(hash, (counts.get(hash) ?? 0) + 1);
  let shared = 0;
  for (const [, hash] of b) {
    const n = counts.get(hash);
    if (n) {
      shared += 1;
      counts.set(hash, n - 1);
    }
  }
  const byPath = new Map(a.map(([p, h]) => [p, h]));
  const changed: string[] = [];
  const added: string[] = [];
  const inB = new Set<string>();
  for (const [p, h] of b) {
    inB.add(p);
    const old = byPath.get(p);
    if (old === undefined) added.push(p);
    else if (old !== h) changed.push(p);
  }
  const removed = a.map(([p]) => p).filter((p) => !inB.has(p));
  const larger = Math.max(a.length, b.length);
  return { shared, similarity: larger === 0 ? 1 : shared / larger, changed, added, removed };
}

/** Groups of ids with the same fingerprint (two or more), largest folders first. */
export function exactGroups<T extends { id: string; fingerprint: string; files: number }>(
  items: T[],
): T[][] {
  const by = new Map<string, T[]>();
  for (const it of items) {
    if (it.files === 0) continue;
    const list = by.get(it.fingerprint);
    if (list) list.push(it);
    else by.set(it.fingerprint, [it]);
  }
  return [...by.values()]
    .filter((g) => g.length > 1)
    .sort((x, y) => y[0]!.files - x[0]!.files || (x[0]!.id < y[0]!.id ? -1 : 1));
}

/**
 * A content hash found in more folders than this is boilerplate (an empty `__init__.py`, a
 * LICENSE): it says nothing about forks and would make candidate search quadratic.
 */
export const COMMON_HASH_FOLDERS = 200;

/**
 * Pairs of folders that may share at least `threshold` of their files, found through an index
 * of content hash → folders instead of comparing every pair. Returns index pairs [i, j], i < j,
 * to be compared exactly with compareEntries.
 */
export function candidatePairs(entries: FileEntry[][], threshold: number): [number, number][] {
  const index = new Map<string, number[]>();
  entries.forEach((list, i) => {
    const seen = new Set<string>();
    for (const [, hash] of list) {
      if (seen.has(hash)) continue;
      seen.add(hash);
      const folders = index.get(hash);
      if (folders) folders.push(i);
      else index.set(hash, [i]);
    }
  });
  const pairs = new Set<number>();
  const n = entries.length;
  for (const folders of index.values()) {
    if (folders.length < 2 || folders.length > COMMON_HASH_FOLDERS) continue;
    for (let x = 0; x < folders.length; x++)
      for (let y = x + 1; y < folders.length; y++) pairs.add(folders[x]! * n + folders[y]!);
  }
  const out: [number, number][] = [];
  for (const key of pairs) {
    const i = Math.floor(key / n);
    const j = key % n;
    const a = entries[i]!.length;
    const b = entries[j]!.length;
    // shared <= the smaller side, so a pair of very unequal sizes cannot reach the threshold.
    if (Math.min(a, b) >= threshold * Math.max(a, b)) out.push([i, j]);
  }
  return out.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}
