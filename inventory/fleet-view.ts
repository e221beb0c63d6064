import type { FileEntry, InventoryReport } from './report.js';

/**
 * production: a running service or container uses it; installed: a service or container points
 * at it but is not running; experimental: nothing runs it.
 */
export type Usage = 'production' | 'installed' | 'experimental';

/** One project of one node, flattened for the fleet-wide audit. */
export interface ProjectView {
  /** `<node>:<path>`, unique in the fleet. */
  id: string;
  node: string;
  path: string;
  name: string;
  kinds: string[];
  version?: string;
  commit?: string;
  branch?: string;
  remote?: string;
  dirty: number;
  ahead: number;
  lastCommitAt?: number;
  files: number;
  bytes: number;
  fingerprint: string;
  modifiedAt: number;
  usage: Usage;
  /** Services and containers that point at it, with their state: `plc.service (active)`. */
  usedBy: string[];
  entries: FileEntry[];
}

const RUNNING = new Set(['active', 'running', 'reloading', 'activating']);

export function viewProjects(reports: InventoryReport[]): ProjectView[] {
  const out: ProjectView[] = [];
  for (const r of reports) {
    const users = new Map<string, { name: string; running: boolean }[]>();
    const use = (project: string | undefined, name: string, state: string) => {
      if (!project) return;
      const list = users.get(project) ?? [];
      list.push({ name: `${name} (${state})`, running: RUNNING.has(state) });
      users.set(project, list);
    };
    for (const s of r.services) use(s.project, s.name, s.state);
    for (const c of r.containers) use(c.project, `container ${c.name}`, c.state);
    for (const p of r.projects) {
      const u = users.get(p.path) ?? [];
      out.push({
        id: `${r.node.name}:${p.path}`,
        node: r.node.name,
        path: p.path,
        name: p.name,
        kinds: p.kinds,
        ...(p.version ? { version: p.version } : {}),
        ...(p.git?.head ? { commit: p.git.head } : {}),
        ...(p.git?.branch ? { branch: p.git.branch } : {}),
        ...(p.git?.remote ? { remote: p.git.remote } : {}),
        dirty: p.git?.dirty ?? 0,
        ahead: p.git?.ahead ?? 0,
        ...(p.git?.lastCommitAt ? { lastCommitAt: p.git.lastCommitAt } : {}),
        files: p.files,
        bytes: p.bytes,
        fingerprint: p.fingerprint,
        modifiedAt: p.modifiedAt,
        usage: u.some((x) => x.running) ? 'production' : u.length ? 'installed' : 'experimental',
        usedBy: u.map((x) => x.name),
        entries: p.entries,
      });
    }
  }
  return out;
}

/**
 * Picks the copy that is the source among copies of one project, and says why. In order: the
 * one production runs; one with a git remote (it can be pulled again); a git repository; the
 * newest commit; the oldest files (`cp -r` gives copies new modification times); the path.
 */
export function pickSource(copies: ProjectView[]): { source: ProjectView; why: string } {
  const ranked = [...copies].sort(
    (a, b) =>
      rank(b.usage) - rank(a.usage) ||
      Number(!!b.remote) - Number(!!a.remote) ||
      Number(b.kinds.includes('git')) - Number(a.kinds.includes('git')) ||
      (b.lastCommitAt ?? 0) - (a.lastCommitAt ?? 0) ||
      a.modifiedAt - b.modifiedAt ||
      (a.id < b.id ? -1 : 1),
  );
  const source = ranked[0]!;
  const other = ranked[1];
  let why: string;
  if (source.usage !== (other?.usage ?? source.usage) && source.usage !== 'experimental')
    why = `${source.usage === 'production' ? 'runs' : 'installed as'} ${source.usedBy.join(', ')}`;
  else if (source.remote && !other?.remote) why = `git remote ${source.remote}`;
  else if (source.kinds.includes('git') && !other?.kinds.includes('git')) why = 'git repository';
  else if ((source.lastCommitAt ?? 0) > (other?.lastCommitAt ?? 0)) why = 'newest commit';
  else if (other && source.modifiedAt < other.modifiedAt) why = 'oldest files (copies are newer)';
  else why = 'first by location';
  return { source, why };
}

function rank(u: Usage): number {
  return u === 'production' ? 2 : u === 'installed' ? 1 : 0;
}
