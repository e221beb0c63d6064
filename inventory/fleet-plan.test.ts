import { describe, expect, it } from 'vitest';
import { sampleReport } from '../test/support/sample-report.js';
import { parseFleet } from './fleet.js';
import { compareVersions, planRollout, renderPlan } from './fleet-plan.js';
import type { InventoryReport } from './report.js';

describe('compareVersions', () => {
  it.each([
    ['0.1.0', '0.2.0', -1],
    ['0.10.0', '0.9.0', 1],
    ['1.0.0', '1.0.0', 0],
    ['1.0.0-rc1', '1.0.0', -1],
    ['1.0.0', '1.0.0-rc1', 1],
    ['1.0', '1.0.1', -1],
  ])('%s vs %s = %i', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
  });
});

function report(
  node: string,
  version: string,
  units: Record<string, string> = {},
  scannedAt = 1,
): InventoryReport {
  const r = sampleReport(node, { scannedAt });
  r.node.version = version;
  r.services = Object.entries(units).map(([name, state]) => ({ name, state }));
  return r;
}

const fleet = parseFleet(`
projects:
  factorylm-edge:
    version: 0.2.0
    service: factorylm-agent.service
nodes:
  edge-01: [factorylm-edge]
  edge-02: [factorylm-edge]
  edge-03: [factorylm-edge]
  edge-04:
    - project: factorylm-edge
      version: 0.1.0   # held back on purpose
  gw-1:
    - project: factorylm-edge
      service: factorylm-gateway.service
  edge-09: [plc-copilot]
`);

describe('planRollout', () => {
  const reports = [
    report('edge-01', '0.1.0', { 'factorylm-agent.service': 'active' }),
    report('edge-02', '0.2.0', { 'factorylm-agent.service': 'active' }),
    report('edge-03', '0.2.0', { 'factorylm-agent.service': 'failed' }),
    report('edge-04', '0.2.0', { 'factorylm-agent.service': 'active' }),
    // An older report of gw-1 must not hide the newer one.
    report('gw-1', '0.1.0', {}, 1),
    report('gw-1', '0.2.0', { 'factorylm-gateway.service': 'active' }, 5),
    report('edge-77', '0.1.0'),
  ];
  const plans = planRollout(fleet, reports, {
    'edge-01': [{ file: 'agent.yaml', sha256: 'ab'.repeat(32) }],
  });
  const byNode = Object.fromEntries(plans.map((p) => [p.node, p]));

  it.each([
    ['edge-01', 'upgrade', '0.1.0', '0.2.0', 'restart'],
    ['edge-02', 'none', '0.2.0', '0.2.0', 'keep'],
    ['edge-03', 'reinstall', '0.2.0', '0.2.0', 'enable'],
    ['edge-04', 'downgrade', '0.2.0', '0.1.0', 'restart'],
    ['gw-1', 'none', '0.2.0', '0.2.0', 'keep'],
  ])('%s: %s %s -> %s, unit %s', (node, action, now, want, unit) => {
    const p = byNode[node]!;
    expect(p.action).toBe(action);
    expect(p.version).toEqual({ now, want });
    expect(p.units.map((u) => u.action)).toEqual([unit]);
  });

  it('a node in fleet.yaml that never reported is to be installed; its units are absent', () => {
    const p = planRollout(fleet, [])[0]!;
    expect(p).toMatchObject({ node: 'edge-01', action: 'install', version: { want: '0.2.0' } });
    expect(p.units).toEqual([{ unit: 'factorylm-agent.service', now: 'absent', action: 'enable' }]);
  });

  it('lists reporting nodes that fleet.yaml does not name, and ignores other projects', () => {
    expect(byNode['edge-77']).toMatchObject({ action: 'not-in-fleet', version: { now: '0.1.0' } });
    expect(byNode['edge-09']).toBeUndefined();
    expect(plans.map((p) => p.node)).toEqual([
      'edge-01',
      'edge-02',
      'edge-03',
      'edge-04',
      'edge-77',
      'gw-1',
    ]);
  });

  it('renders one line per node, the config hash and a count', () => {
    const text = renderPlan(plans);
    expect(text).toMatch(
      /^edge-01 +upgrade 0\.1\.0 -> 0\.2\.0 +units: factorylm-agent\.service active -> restart$/m,
    );
    expect(text).toMatch(/^ +config agent\.yaml sha256 abababababababab$/m);
    expect(text).toMatch(
      /^edge-02 +up to date \(0\.2\.0\) +units: factorylm-agent\.service active$/m,
    );
    expect(text).toMatch(/^edge-03 +reinstall 0\.2\.0: a wanted unit is not running/m);
    expect(text).toMatch(/^edge-77 +not in fleet\.yaml, left alone \(0\.1\.0\)$/m);
    expect(text).toMatch(/^3 of 6 node\(s\) would change\.$/m);
  });
});
