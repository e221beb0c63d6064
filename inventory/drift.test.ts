import { describe, expect, it } from 'vitest';
import { view } from '../test/support/project-view.js';
import { driftBetweenNodes, driftFromFleet } from './drift.js';
import { desiredState, loadFleet, parseFleet } from './fleet.js';

const nodes = new Set(['edge-01', 'edge-02']);
const fleetViews = [
  view('edge-01:/opt/plc', {
    name: 'plc',
    version: '1.4.0',
    commit: 'abc123def',
    usedBy: ['plc.service (active)'],
    usage: 'production',
  }),
  view('edge-02:/opt/plc', { name: 'plc', version: '1.3.0', commit: 'abc123def', dirty: 3 }),
];

describe('drift from fleet.yaml', () => {
  it.each([
    [
      'in step',
      'edge-01: [{ project: plc, version: 1.4.0, commit: abc1, service: plc.service }]',
      [],
    ],
    ['version', 'edge-02: [{ project: plc, version: 1.4.0 }]', [['version', '1.4.0', '1.3.0']]],
    ['commit', 'edge-01: [{ project: plc, commit: fff0 }]', [['commit', 'fff0', 'abc123def']]],
    [
      'dirty at the right commit',
      'edge-02: [{ project: plc, commit: abc1 }]',
      [['dirty', 'clean', '3 changed files']],
    ],
    [
      'service not running',
      'edge-02: [{ project: plc, service: plc.service }]',
      [['service', 'plc.service active', '(nothing runs it)']],
    ],
    ['missing project', 'edge-01: [historian]', [['project-missing', undefined, undefined]]],
    [
      'missing path',
      'edge-01: [{ project: plc, path: /srv/plc }]',
      [['project-missing', '/srv/plc', undefined]],
    ],
    [
      'node without a report',
      'edge-09: [plc, historian]',
      [['node-missing', undefined, undefined]],
    ],
  ])('%s', (_name, nodeYaml, expected) => {
    const fleet = parseFleet(`nodes:\n  ${nodeYaml}\n`);
    expect(
      driftFromFleet(fleetViews, desiredState(fleet), nodes).map((d) => [
        d.kind,
        d.expected,
        d.actual,
      ]),
    ).toEqual(expected);
  });

  it('applies projects: defaults, overridden per node', () => {
    const fleet = parseFleet(
      'projects:\n  plc: { version: 1.4.0 }\nnodes:\n  edge-01: [plc]\n  edge-02: [{ project: plc, version: 1.3.0 }]\n',
    );
    expect(desiredState(fleet)).toEqual([
      { node: 'edge-01', project: 'plc', version: '1.4.0' },
      { node: 'edge-02', project: 'plc', version: '1.3.0' },
    ]);
    expect(driftFromFleet(fleetViews, desiredState(fleet), nodes)).toEqual([]);
  });

  it('says which setting named a fleet file that is not there', async () => {
    await expect(loadFleet('/nonexistent/fleet.yaml', 'twin.fleet')).rejects.toThrow(
      'fleet file not found (twin.fleet)',
    );
  });

  it('names the YAML path of a bad commit id', () => {
    expect(() => parseFleet('nodes:\n  edge-01: [{ project: plc, commit: "v1.2" }]\n')).toThrow(
      /nodes\.edge-01\[0\]/,
    );
  });
});

describe('drift between nodes', () => {
  it.each([
    [
      'commits differ',
      [{ commit: 'aaaaaaaa' }, { commit: 'bbbbbbbb' }],
      'commits differ: a=aaaaaaaa, b=bbbbbbbb',
    ],
    ['versions differ', [{ version: '1' }, { version: '2' }], 'versions differ: a=1, b=2'],
    [
      'contents differ',
      [{ fingerprint: '11111111x' }, { fingerprint: '22222222x' }],
      'contents differ: a=10 files 11111111, b=10 files 22222222',
    ],
    ['the same everywhere', [{ fingerprint: 'same' }, { fingerprint: 'same' }], undefined],
  ])('%s', (_name, [a, b], detail) => {
    const found = driftBetweenNodes([view('a:/opt/plc', a), view('b:/srv/plc', b)]);
    expect(found.map((d) => d.detail)).toEqual(detail ? [detail] : []);
  });

  it('ignores loose script folders, whose names repeat without meaning', () => {
    expect(
      driftBetweenNodes([
        view('a:/x/tools', { kinds: ['scripts'] }),
        view('b:/y/tools', { kinds: ['scripts'] }),
      ]),
    ).toEqual([]);
  });
});
