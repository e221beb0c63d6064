import type { CodeFacts } from './facts.js';
import { decodeFingerprints } from './fingerprint.js';

/** Thresholds of clone detection (`audit --clone-*`); defaults in DEFAULT_CLONE_OPTIONS. */
export interface CloneOptions {
  /** Files with fewer tokens are never reported as clones (empty `__init__.py`, one-liners). */
  minFileTokens: number;
  /**
   * Near-clone bar: shared fingerprints ÷ the larger file's fingerprints, so a small file is
   * not a clone of every large file that contains it (function-level groups find that).
   */
  similarity: number;
  /** Fingerprints found in more files than this are boilerplate and say nothing. */
  maxPostings: number;
}

export const DEFAULT_CLONE_OPTIONS: CloneOptions = {
  minFileTokens: 50,
  similarity: 0.7,
  maxPostings: 50,
};

/** 1: the same code (layout and comments aside); 2: the same with names and literals changed;
 * near: a large share of fingerprints in common (edited copy). */
export type CloneType = '1' | '2' | 'near';

export interface CloneInput {
  /** Index of the file in the code graph. */
  file: number;
  facts: CodeFacts;
}

export interface CloneMember {
  file: number;
  /** Function clones: the function and its lines. */
  function?: string;
  line?: number;
  endLine?: number;
}

export interface CloneGroup {
  level: 'file' | 'function';
  type: CloneType;
  /** Least similarity of a member to the first (1 for types 1 and 2). */
  similarity: number;
  tokens: number;
  members: CloneMember[];
}

class UnionFind {
  private readonly parent: number[];
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) i = this.parent[i] = this.parent[this.parent[i]!]!;
    return i;
  }
  union(a: number, b: number): void {
    this.parent[this.find(a)] = this.find(b);
  }
}

/**
 * File-level clone groups: equal token hashes (types 1 and 2) and winnowed-fingerprint overlap
 * (near clones), then function-level groups among the functions of files not already in one
 * group. Identical contents appear once per file, so byte-identical copies are type 1 too.
 */
export function findClones(inputs: CloneInput[], options: CloneOptions): CloneGroup[] {
  const files = inputs.filter((x) => x.facts.tokens >= options.minFileTokens && !!x.facts.fp);
  const fps = files.map((x) => new Set(decodeFingerprints(x.facts.fp)));
  const postings = new Map<number, number[]>();
  fps.forEach((set, i) => {
    for (const h of set) {
      const list = postings.get(h);
      if (list) list.push(i);
      else postings.set(h, [i]);
    }
  });
  const shared = new Map<number, number>();
  const n = files.length;
  for (const list of postings.values()) {
    if (list.length < 2 || list.length > options.maxPostings) continue;
    for (let a = 0; a < list.length; a++)
      for (let b = a + 1; b < list.length; b++) {
        const key = list[a]! * n + list[b]!;
        shared.set(key, (shared.get(key) ?? 0) + 1);
      }
  }
  const uf = new UnionFind(n);
  const similarityOf = (a: number, b: number) => {
    if (files[a]!.facts.norm === files[b]!.facts.norm) return 1;
    const [x, y] = a < b ? [a, b] : [b, a];
    return (shared.get(x * n + y) ?? 0) / Math.max(1, fps[a]!.size, fps[b]!.size);
  };
  for (const [key, count] of shared) {
    const a = Math.floor(key / n);
    const b = key % n;
    if (count / Math.max(1, fps[a]!.size, fps[b]!.size) >= options.similarity) uf.union(a, b);
  }
  // Equal normalised token streams are clones whatever their fingerprints (short files).
  const byNorm = new Map<string, number>();
  files.forEach((x, i) => {
    const seen = x.facts.norm !== undefined ? byNorm.get(x.facts.norm) : undefined;
    if (seen !== undefined) uf.union(seen, i);
    else if (x.facts.norm !== undefined) byNorm.set(x.facts.norm, i);
  });
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = uf.find(i);
    const g = groups.get(r);
    if (g) g.push(i);
    else groups.set(r, [i]);
  }
  const out: CloneGroup[] = [];
  /** File-level group of each grouped file (graph index → group number). */
  const groupOf = new Map<number, number>();
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const first = members[0]!;
    const type: CloneType = members.every((m) => files[m]!.facts.raw === files[first]!.facts.raw)
      ? '1'
      : members.every((m) => files[m]!.facts.norm === files[first]!.facts.norm)
        ? '2'
        : 'near';
    const similarity = Math.min(...members.slice(1).map((m) => similarityOf(first, m)));
    for (const m of members) groupOf.set(files[m]!.file, out.length);
    out.push({
      level: 'file',
      type,
      similarity: type === 'near' ? Math.round(similarity * 100) / 100 : 1,
      tokens: files[first]!.facts.tokens,
      members: members.map((m) => ({ file: files[m]!.file })),
    });
  }

  // Functions pasted into otherwise different files. Files of file-level groups take part too: a
  // module copied whole somewhere is still where functions get pasted from. A function group
  // all of whose files are one file-level group says nothing that group does not.
  const fns = new Map<string, CloneMember[]>();
  const raws = new Map<string, Set<string>>();
  const tokens = new Map<string, number>();
  for (const x of inputs) {
    for (const f of x.facts.functions) {
      const list = fns.get(f.norm) ?? [];
      list.push({ file: x.file, function: f.name, line: f.line, endLine: f.endLine });
      fns.set(f.norm, list);
      (raws.get(f.norm) ?? raws.set(f.norm, new Set()).get(f.norm)!).add(f.raw);
      tokens.set(f.norm, f.tokens);
    }
  }
  for (const [norm, members] of fns) {
    if (new Set(members.map((m) => m.file)).size < 2) continue;
    // Files in no file-level group count as groups of their own.
    if (new Set(members.map((m) => groupOf.get(m.file) ?? -1 - m.file)).size < 2) continue;
    out.push({
      level: 'function',
      type: raws.get(norm)!.size === 1 ? '1' : '2',
      similarity: 1,
      tokens: tokens.get(norm)!,
      members,
    });
  }
  return out.sort(
    (a, b) =>
      b.tokens * b.members.length - a.tokens * a.members.length ||
      a.members[0]!.file - b.members[0]!.file,
  );
}
