import type { CloneOptions } from './code/clones.js';
import { codeTwin, type CodeTwin } from './code/twin.js';
import { driftBetweenNodes, driftFromFleet, type Drift } from './drift.js';
import { DEFAULT_FORK_THRESHOLD, findDuplicates, type Duplicates } from './duplicates.js';
import { desiredState, type Fleet } from './fleet.js';
import { viewProjects, type ProjectView } from './fleet-view.js';
import type { InventoryReport } from './report.js';

export interface NodeSummary {
  name: string;
  site?: string;
  hostname: string;
  os: string;
  arch: string;
  version: string;
  scannedAt: number;
  projects: number;
  files: number;
  bytes: number;
  services: number;
  containers: number;
  docker: string;
  systemd: string;
}

export type ProjectSummary = Omit<ProjectView, 'entries'>;

/** The fleet twin: what `factorylm audit` prints and the gateway serves. */
export interface AuditResult {
  generatedAt: number;
  forkThreshold: number;
  nodes: NodeSummary[];
  projects: ProjectSummary[];
  duplicates: Duplicates;
  drift: Drift[];
  /** Import graph, file classes and clones; absent when no report carries code facts. */
  code?: CodeTwin;
  summary: {
    nodes: number;
    projects: number;
    files: number;
    bytes: number;
    exactGroups: number;
    forks: number;
    toDelete: number;
    toArchive: number;
    recoverableBytes: number;
    drift: number;
  };
}

export interface AuditOptions {
  /** Near-duplicate bar, 0–1; default 0.6. */
  forkThreshold?: number;
  fleet?: Fleet;
  now?: number;
  /** Clone-detection thresholds; defaults in DEFAULT_CLONE_OPTIONS. */
  clones?: Partial<CloneOptions>;
}

/** Latest report per node: a fleet twin holds one state per node. */
export function latestPerNode(reports: InventoryReport[]): InventoryReport[] {
  const by = new Map<string, InventoryReport>();
  for (const r of reports) {
    const seen = by.get(r.node.name);
    if (!seen || r.scannedAt > seen.scannedAt) by.set(r.node.name, r);
  }
  return [...by.values()].sort((a, b) => (a.node.name < b.node.name ? -1 : 1));
}

export function audit(reports: InventoryReport[], options: AuditOptions = {}): AuditResult {
  const latest = latestPerNode(reports);
  const views = viewProjects(latest);
  const forkThreshold = options.forkThreshold ?? DEFAULT_FORK_THRESHOLD;
  const duplicates = findDuplicates(views, forkThreshold);
  const drift = [
    ...(options.fleet
      ? driftFromFleet(views, desiredState(options.fleet), new Set(latest.map((r) => r.node.name)))
      : []),
    ...driftBetweenNodes(views),
  ];
  const nodes: NodeSummary[] = latest.map((r) => ({
    name: r.node.name,
    ...(r.site ? { site: r.site } : {}),
    hostname: r.node.hostname,
    os: r.node.os,
    arch: r.node.arch,
    version: r.node.version,
    scannedAt: r.scannedAt,
    projects: r.projects.length,
    files: r.projects.reduce((s, p) => s + p.files, 0),
    bytes: r.projects.reduce((s, p) => s + p.bytes, 0),
    services: r.services.length,
    containers: r.containers.length,
    docker: r.docker,
    systemd: r.systemd,
  }));
  const projects = views.map(({ entries: _entries, ...rest }) => rest);
  const count = (a: string) => duplicates.kill.filter((r) => r.action === a).length;
  const code = codeTwin(latest, views, options.clones);
  return {
    generatedAt: options.now ?? Date.now(),
    forkThreshold,
    nodes,
    projects,
    duplicates,
    drift,
    ...(code ? { code } : {}),
    summary: {
      nodes: nodes.length,
      projects: projects.length,
      files: nodes.reduce((s, n) => s + n.files, 0),
      bytes: nodes.reduce((s, n) => s + n.bytes, 0),
      exactGroups: duplicates.exact.length,
      forks: duplicates.forks.length,
      toDelete: count('DELETE'),
      toArchive: count('ARCHIVE'),
      recoverableBytes: duplicates.recovered.delete + duplicates.recovered.archive,
      drift: drift.length,
    },
  };
}

/**
 * Why `--check` fails: any drift, and any copy to delete or archive that the baseline (an
 * earlier `--json` output) did not already list, so a known mess does not block CI forever.
 */
export function checkFailures(result: AuditResult, baseline?: AuditResult): string[] {
  const known = new Set(
    (baseline?.duplicates.kill ?? []).filter((r) => r.action !== 'KEEP').map((r) => r.id),
  );
  const fresh = result.duplicates.kill.filter((r) => r.action !== 'KEEP' && !known.has(r.id));
  return [
    ...result.drift.map((d) => `drift: ${d.node} ${d.project}: ${d.detail}`),
    ...fresh.map((r) => `duplicate: ${r.id} (${r.action}: ${r.reason})`),
  ];
}
