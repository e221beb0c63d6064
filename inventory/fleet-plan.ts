import { desiredState, type Fleet } from './fleet.js';
import type { InventoryReport } from './report.js';

/** The project name FactoryLM Edge itself has in fleet.yaml and in inventory reports. */
export const EDGE_PROJECT = 'factorylm-edge';

/** A config file the rollout would push to a node, by its content hash. */
export interface PushedConfig {
  file: string;
  sha256: string;
}

export type UnitChange = { unit: string; now: string; action: 'keep' | 'enable' | 'restart' };

/** What a rollout would do to one node. */
export interface NodePlan {
  node: string;
  /** `install`: not reporting yet; `upgrade`/`downgrade`/`reinstall`: version or config differs. */
  action: 'install' | 'upgrade' | 'downgrade' | 'reinstall' | 'none' | 'not-in-fleet';
  version: { now?: string; want?: string };
  units: UnitChange[];
  configs: PushedConfig[];
  /** When the node last reported, ms since epoch. */
  reportedAt?: number;
}

/** -1, 0 or 1: dotted parts compared as numbers (1.10 > 1.9, 1.0 = 1.0.0), then a pre-release
 * (`1.0.0-rc1`) before its release. */
export function compareVersions(a: string, b: string): number {
  const [coreA = '', preA] = a.split(/-(.*)/s);
  const [coreB = '', preB] = b.split(/-(.*)/s);
  const pa = coreA.split('.');
  const pb = coreB.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = Number(x);
    const ny = Number(y);
    const diff = Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : x.localeCompare(y);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA < preB ? -1 : 1;
}

/**
 * The rollout plan: for every node in fleet.yaml that lists `factorylm-edge`, its reported
 * version against the wanted one, the state of the wanted units (`service:`), and the configs
 * that would be pushed (`configs`, by node). Nodes that report but are not in fleet.yaml are
 * listed as left alone. Pure: the caller fetches the reports and hashes the configs.
 */
export function planRollout(
  fleet: Fleet,
  reports: InventoryReport[],
  configs: Record<string, PushedConfig[]> = {},
): NodePlan[] {
  const latest = new Map<string, InventoryReport>();
  for (const r of reports) {
    const seen = latest.get(r.node.name);
    if (!seen || seen.scannedAt < r.scannedAt) latest.set(r.node.name, r);
  }
  const wanted = new Map<string, { version?: string; units: string[] }>();
  for (const d of desiredState(fleet)) {
    if (d.project !== EDGE_PROJECT) continue;
    const w = wanted.get(d.node) ?? { units: [] };
    w.version ??= d.version;
    if (d.service && !w.units.includes(d.service)) w.units.push(d.service);
    wanted.set(d.node, w);
  }
  const plans: NodePlan[] = [];
  for (const [node, want] of wanted) {
    const report = latest.get(node);
    const now = report?.node.version;
    const pushed = configs[node] ?? [];
    let action: NodePlan['action'];
    if (!report) action = 'install';
    else if (want.version && now && compareVersions(now, want.version) < 0) action = 'upgrade';
    else if (want.version && now && compareVersions(now, want.version) > 0) action = 'downgrade';
    else action = 'none';
    const units = want.units.map((unit): UnitChange => {
      const state = report?.services.find((s) => s.name === unit)?.state ?? 'absent';
      const restart = action !== 'none' && action !== 'install';
      return {
        unit,
        now: state,
        action: state !== 'active' ? 'enable' : restart ? 'restart' : 'keep',
      };
    });
    // A unit that is not running is started by install.sh: a reinstall, same version.
    if (action === 'none' && units.some((u) => u.action === 'enable')) action = 'reinstall';
    plans.push({
      node,
      action,
      version: { now, want: want.version },
      units,
      configs: pushed,
      ...(report ? { reportedAt: report.scannedAt } : {}),
    });
  }
  for (const [node, report] of latest) {
    if (wanted.has(node)) continue;
    plans.push({
      node,
      action: 'not-in-fleet',
      version: { now: report.node.version },
      units: [],
      configs: [],
      reportedAt: report.scannedAt,
    });
  }
  return plans.sort((a, b) => a.node.localeCompare(b.node));
}

/** One line per node, then the config hashes to compare with `sha256sum` on the node. */
export function renderPlan(plans: NodePlan[]): string {
  const lines: string[] = [];
  const width = Math.max(4, ...plans.map((p) => p.node.length));
  for (const p of plans) {
    const v = p.version;
    const what: Record<NodePlan['action'], string> = {
      install: `install ${v.want ?? '(any version)'}: not reporting to the gateway yet`,
      upgrade: `upgrade ${v.now} -> ${v.want}`,
      downgrade: `downgrade ${v.now} -> ${v.want}`,
      reinstall: `reinstall ${v.now ?? ''}: a wanted unit is not running`.replace(' :', ':'),
      none: `up to date (${v.now ?? '?'})`,
      'not-in-fleet': `not in fleet.yaml, left alone (${v.now ?? '?'})`,
    };
    const units = p.units.map(
      (u) => `${u.unit} ${u.now}${u.action === 'keep' ? '' : ` -> ${u.action}`}`,
    );
    lines.push(
      [
        p.node.padEnd(width),
        what[p.action],
        ...(units.length ? [`units: ${units.join(', ')}`] : []),
      ].join('  '),
    );
    for (const c of p.configs)
      lines.push(`${' '.repeat(width)}  config ${c.file} sha256 ${c.sha256.slice(0, 16)}`);
  }
  const changing = plans.filter((p) => !['none', 'not-in-fleet'].includes(p.action)).length;
  lines.push('', `${changing} of ${plans.length} node(s) would change.`);
  return lines.join('\n') + '\n';
}
