import type { Desired } from './fleet.js';
import { pickSource, type ProjectView } from './fleet-view.js';

export type DriftKind =
  'node-missing' | 'project-missing' | 'version' | 'commit' | 'dirty' | 'service' | 'between-nodes';

export interface Drift {
  kind: DriftKind;
  /** The node it concerns; `*` for a difference between nodes. */
  node: string;
  project: string;
  expected?: string;
  actual?: string;
  detail: string;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The copy on `node` that stands for project `name`: at the wanted path, else the source. */
function deployed(views: ProjectView[], d: Desired): ProjectView | undefined {
  const onNode = views.filter((p) => p.node === d.node);
  if (d.path) return onNode.find((p) => p.path === d.path);
  const named = onNode.filter((p) => sameName(p.name, d.project));
  return named.length ? pickSource(named).source : undefined;
}

/** Every difference between the desired state and what the nodes reported. */
export function driftFromFleet(
  views: ProjectView[],
  desired: Desired[],
  reportedNodes: Set<string>,
): Drift[] {
  const out: Drift[] = [];
  for (const d of desired) {
    const base = { node: d.node, project: d.project };
    if (!reportedNodes.has(d.node)) {
      // One line per node is enough.
      if (!out.some((x) => x.kind === 'node-missing' && x.node === d.node))
        out.push({ ...base, kind: 'node-missing', detail: 'no inventory from this node' });
      continue;
    }
    const p = deployed(views, d);
    if (!p) {
      out.push({
        ...base,
        kind: 'project-missing',
        ...(d.path ? { expected: d.path } : {}),
        detail: d.path ? `nothing at ${d.path}` : `no project named ${d.project}`,
      });
      continue;
    }
    if (d.version !== undefined && p.version !== d.version)
      out.push({
        ...base,
        kind: 'version',
        expected: d.version,
        actual: p.version ?? '(none)',
        detail: `${p.path} is at version ${p.version ?? '(none)'}`,
      });
    if (d.commit !== undefined) {
      if (!p.commit?.startsWith(d.commit))
        out.push({
          ...base,
          kind: 'commit',
          expected: d.commit,
          actual: p.commit?.slice(0, 12) ?? '(not a git checkout)',
          detail: `${p.path} is at ${p.commit?.slice(0, 12) ?? 'no commit'}`,
        });
      else if (p.dirty > 0)
        out.push({
          ...base,
          kind: 'dirty',
          expected: 'clean',
          actual: `${p.dirty} changed files`,
          detail: `${p.path} has ${p.dirty} uncommitted changes on top of ${d.commit}`,
        });
    }
    if (d.service !== undefined && !p.usedBy.some((u) => u.startsWith(`${d.service} (active)`)))
      out.push({
        ...base,
        kind: 'service',
        expected: `${d.service} active`,
        actual: p.usedBy.join(', ') || '(nothing runs it)',
        detail: `${d.service} is not running ${p.path}`,
      });
  }
  return out;
}

/**
 * The same project (by name) deployed differently on different nodes: another commit, version
 * or content. Only real projects count (git, Python, Node), not loose script folders, whose
 * folder names repeat without meaning the same thing.
 */
export function driftBetweenNodes(views: ProjectView[]): Drift[] {
  const byName = new Map<string, Map<string, ProjectView[]>>();
  for (const p of views) {
    if (p.kinds.length === 1 && p.kinds[0] === 'scripts') continue;
    const key = p.name.toLowerCase();
    const nodes = byName.get(key) ?? new Map<string, ProjectView[]>();
    nodes.set(p.node, [...(nodes.get(p.node) ?? []), p]);
    byName.set(key, nodes);
  }
  const out: Drift[] = [];
  for (const nodes of byName.values()) {
    if (nodes.size < 2) continue;
    const picks = [...nodes.values()].map((copies) => pickSource(copies).source);
    const describe = (f: (p: ProjectView) => string | undefined) =>
      picks.map((p) => `${p.node}=${f(p) ?? '(none)'}`).join(', ');
    const differs = (f: (p: ProjectView) => string | undefined) => new Set(picks.map(f)).size > 1;
    const name = picks[0]!.name;
    if (differs((p) => p.commit))
      out.push({
        kind: 'between-nodes',
        node: '*',
        project: name,
        detail: `commits differ: ${describe((p) => p.commit?.slice(0, 12))}`,
      });
    else if (differs((p) => p.version))
      out.push({
        kind: 'between-nodes',
        node: '*',
        project: name,
        detail: `versions differ: ${describe((p) => p.version)}`,
      });
    else if (differs((p) => p.fingerprint))
      out.push({
        kind: 'between-nodes',
        node: '*',
        project: name,
        detail: `contents differ: ${describe((p) => `${p.files} files ${p.fingerprint.slice(0, 8)}`)}`,
      });
  }
  return out.sort((a, b) => (a.project < b.project ? -1 : 1));
}
