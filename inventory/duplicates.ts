import { pickSource, type ProjectView } from './fleet-view.js';
import { candidatePairs, compareEntries, exactGroups } from './similarity.js';

export type Action = 'DELETE' | 'ARCHIVE' | 'KEEP';

/** A set of folders with the same fingerprint, on one node or several. */
export interface ExactGroup {
  fingerprint: string;
  files: number;
  bytes: number;
  source: string;
  why: string;
  copies: string[];
}

/** A folder that shares most but not all of its files with its source. */
export interface Fork {
  source: string;
  fork: string;
  similarity: number;
  shared: number;
  changed: string[];
  added: string[];
  removed: string[];
}

/** One line of "Duplicates to kill". */
export interface KillRow {
  id: string;
  node: string;
  path: string;
  files: number;
  bytes: number;
  action: Action;
  reason: string;
}

export interface Duplicates {
  exact: ExactGroup[];
  forks: Fork[];
  kill: KillRow[];
  /** Bytes freed by the DELETE rows, and by the ARCHIVE rows once archived elsewhere. */
  recovered: { delete: number; archive: number };
}

/** Default for "near-duplicate": shares at least this much of its files with another folder. */
export const DEFAULT_FORK_THRESHOLD = 0.6;

function row(p: ProjectView, action: Action, reason: string): KillRow {
  return { id: p.id, node: p.node, path: p.path, files: p.files, bytes: p.bytes, action, reason };
}

/** What to do with a copy that is not the source; a running copy is never deleted. */
function verdict(p: ProjectView, otherwise: [Action, string]): [Action, string] {
  if (p.usage === 'production') return ['KEEP', `in production: ${p.usedBy.join(', ')}`];
  if (p.usage === 'installed')
    return ['KEEP', `installed as ${p.usedBy.join(', ')}: remove that first`];
  if (p.dirty > 0 || p.ahead > 0)
    return ['ARCHIVE', `${p.dirty} uncommitted files, ${p.ahead} unpushed commits`];
  return otherwise;
}

/**
 * A fork is archived, except the same project on another node: that is a deployment at another
 * version, which is drift (reported as such), not a copy to clean up.
 */
function forkAction(p: ProjectView, source: ProjectView, f: Fork): [Action, string] {
  if (p.node !== source.node && p.name.toLowerCase() === source.name.toLowerCase())
    return ['KEEP', `${p.name} deployed at another version than ${source.id}: see drift`];
  return ['ARCHIVE', `fork of ${source.id}: ${forkSummary(f)}`];
}

function forkSummary(f: Fork): string {
  return `${f.changed.length} changed, ${f.added.length} added, ${f.removed.length} removed`;
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
 * Exact duplicates (same fingerprint), near-duplicate forks (similarity ≥ threshold to another
 * folder), the source of each, and what to do with every other copy.
 */
export function findDuplicates(views: ProjectView[], threshold: number): Duplicates {
  const rows = new Map<string, KillRow>();
  const exact: ExactGroup[] = [];
  const copiesOf = new Set<string>();
  for (const group of exactGroups(views)) {
    const { source, why } = pickSource(group);
    exact.push({
      fingerprint: source.fingerprint,
      files: source.files,
      bytes: source.bytes,
      source: source.id,
      why,
      copies: group.filter((p) => p !== source).map((p) => p.id),
    });
    rows.set(source.id, row(source, 'KEEP', `source: ${why}`));
    for (const p of group) {
      if (p === source) continue;
      copiesOf.add(p.id);
      rows.set(p.id, row(p, ...verdict(p, ['DELETE', `exact copy of ${source.id}`])));
    }
  }

  // Forks among the rest: one folder per exact group stands for its copies.
  const candidates = views.filter((p) => !copiesOf.has(p.id) && p.files > 0);
  const pairs = candidatePairs(
    candidates.map((p) => p.entries),
    threshold,
  ).filter(([i, j]) => {
    const c = compareEntries(candidates[i]!.entries, candidates[j]!.entries);
    return c.similarity >= threshold && c.similarity < 1;
  });
  const uf = new UnionFind(candidates.length);
  for (const [i, j] of pairs) uf.union(i, j);
  const clusters = new Map<number, ProjectView[]>();
  for (const [i, j] of pairs)
    for (const k of [i, j]) {
      const list = clusters.get(uf.find(k)) ?? [];
      if (!list.includes(candidates[k]!)) list.push(candidates[k]!);
      clusters.set(uf.find(k), list);
    }
  const forks: Fork[] = [];
  for (const members of clusters.values()) {
    const { source, why } = pickSource(members);
    if (!rows.has(source.id)) rows.set(source.id, row(source, 'KEEP', `source of forks: ${why}`));
    for (const p of members.sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (p === source) continue;
      const c = compareEntries(source.entries, p.entries);
      const fork: Fork = { source: source.id, fork: p.id, ...c };
      forks.push(fork);
      rows.set(p.id, row(p, ...verdict(p, forkAction(p, source, fork))));
    }
  }

  const kill = [...rows.values()].sort(
    (a, b) => order(a.action) - order(b.action) || b.bytes - a.bytes || (a.id < b.id ? -1 : 1),
  );
  const sum = (action: Action) =>
    kill.filter((r) => r.action === action).reduce((s, r) => s + r.bytes, 0);
  return { exact, forks, kill, recovered: { delete: sum('DELETE'), archive: sum('ARCHIVE') } };
}

function order(a: Action): number {
  return a === 'DELETE' ? 0 : a === 'ARCHIVE' ? 1 : 2;
}
