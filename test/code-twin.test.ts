import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditResult } from '../inventory/audit.js';
import type { InventoryReport } from '../inventory/report.js';
import { runCli } from './support/processes.js';

/**
 * The plant's "code copied, not imported" in miniature: project alpha (a package with a console
 * script, run by a systemd unit), beta with one of alpha's modules pasted in and another pasted
 * then renamed, gamma importing alpha properly, and a script folder nothing runs.
 */
const CORE = `"""Motor diagnostics."""
import math
from .util import clamp


def compute(speed, current, temperature):
    load = speed * current / 1000.0
    if temperature > 80:
        load = load * 1.25
    score = math.sqrt(load) + clamp(temperature, 0, 120) / 10
    for i in range(3):
        score = score + i * 0.5
    return {"load": load, "score": score, "alarm": score > 12}
`;

const UTIL = `def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def average(values):
    total = 0
    count = 0
    for v in values:
        total = total + v
        count = count + 1
    return total / count if count else 0
`;

/** UTIL pasted, then every name changed: a type-2 clone. */
const UTIL_RENAMED = `def bound(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def mean(samples):
    acc = 0
    n = 0
    for s in samples:
        acc = acc + s
        n = n + 1
    return acc / n if n else 0
`;

let tmp: string;
let units: string;
let bin: string;
const root = () => join(tmp, 'opt');
const at = (rel: string) => join(root(), rel);

function write(files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(at(rel)), { recursive: true });
    writeFileSync(at(rel), text);
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'factorylm-code-twin-'));
  write({
    'alpha/pyproject.toml':
      '[project]\nname = "alpha"\nversion = "1.0.0"\n\n[project.scripts]\nalpha = "alpha.cli:main"\n',
    'alpha/alpha/__init__.py': '',
    'alpha/alpha/cli.py':
      'import sys\nfrom alpha.core import compute\n\n\ndef main():\n    print(compute(1450, 52, 71))\n    return 0\n',
    'alpha/alpha/core.py': CORE,
    'alpha/alpha/util.py': UTIL,
    'alpha/alpha/old_report.py': 'import csv\n\n\ndef export(rows):\n    return len(rows)\n',
    'alpha/tests/test_core.py':
      'from alpha.core import compute\n\n\ndef test_compute():\n    assert compute(0, 0, 0)["load"] == 0\n',
    // An import-shaped docstring and string: a regex scanner would see imports here.
    'alpha/alpha/notes.py': '"""\nimport fake_module\n"""\nTEXT = "from nowhere import x"\n',
    'beta/requirements.txt': 'requests\n',
    'beta/main.py':
      'import requests\nfrom core_copy import compute\nfrom tools import bound\n\nif __name__ == "__main__":\n    print(compute(1, 2, 3), bound(5, 0, 3))\n',
    'beta/core_copy.py': CORE.replace(
      'from .util import clamp',
      'from tools import bound as clamp',
    ),
    'beta/tools.py': UTIL_RENAMED,
    'beta/legacy.py': 'print "python 2"\nexcept Exception, e:\n    pass\n',
    'gamma/requirements.txt': 'alpha\n',
    'gamma/run.py': 'from alpha.core import compute\n\nprint(compute(1, 2, 3))\n',
    'gamma/missing.py': 'import not_installed_anywhere\n',
    'scratch/oneoff.py': 'import os\n\nif __name__ == "__main__":\n    print(os.getcwd())\n',
  });
  units = join(tmp, 'units');
  mkdirSync(units);
  writeFileSync(
    join(units, 'alpha.service'),
    `[Service]\nWorkingDirectory=${at('alpha')}\nExecStart=/usr/bin/python3 -m alpha.cli\n`,
  );
  // No systemd in this container: a systemctl that answers `show` as systemd does, for our unit.
  bin = join(tmp, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'systemctl'),
    '#!/bin/sh\nprintf "Id=alpha.service\\nActiveState=active\\n"\n',
  );
  chmodSync(join(bin, 'systemctl'), 0o755);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('codebase twin: import graph, copies, production vs dead', () => {
  let report: InventoryReport;
  let twin: AuditResult;
  const env = () => ({ PATH: `${bin}:${process.env.PATH}` });
  const file = (rel: string) => `edge-01:${at(rel)}`;
  const project = (rel: string) => `edge-01:${at(rel)}`;

  it('scans the code: facts per file, entry points, parse errors listed, not fatal', async () => {
    const out = join(tmp, 'report.json');
    const r = await runCli(
      [
        'inventory',
        root(),
        '--node',
        'edge-01',
        '--no-cache',
        '--unit-dir',
        units,
        '--docker-socket',
        join(tmp, 'no.sock'),
        '--json',
        '--out',
        out,
      ],
      env(),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    report = JSON.parse(r.stdout) as InventoryReport;
    expect(report.services).toEqual([
      expect.objectContaining({ name: 'alpha.service', state: 'active', project: at('alpha') }),
    ]);
    const alpha = report.projects.find((p) => p.path === at('alpha'))!;
    expect(alpha.code?.entryPoints).toEqual([
      { kind: 'console_script', name: 'alpha', module: 'alpha.cli', command: 'alpha.cli:main' },
    ]);
    expect(report.code?.stats).toMatchObject({ codeFiles: 14, analyzed: 14, cached: 0 });
    const legacy = report.projects
      .find((p) => p.path === at('beta'))!
      .entries.find(([p]) => p === 'legacy.py')!;
    expect(report.code?.facts[legacy[1]]?.error).toMatch(/^syntax error at line 2:/);

    const a = await runCli(['audit', out, '--json'], env());
    expect(a.code).toBe(0);
    twin = JSON.parse(a.stdout) as AuditResult;
  });

  it('resolves every import to a file, the standard library, a dependency or "unresolved"', () => {
    const c = twin.code!;
    const edges = c.edges
      .map(([f, t, kind]) => `${c.files[f]!.id} -> ${c.files[t]!.id} (${kind})`)
      .sort();
    expect(edges).toEqual(
      [
        `${file('alpha/alpha/cli.py')} -> ${file('alpha/alpha/__init__.py')} (package)`,
        `${file('alpha/alpha/cli.py')} -> ${file('alpha/alpha/core.py')} (from)`,
        `${file('alpha/alpha/core.py')} -> ${file('alpha/alpha/__init__.py')} (package)`,
        `${file('alpha/alpha/core.py')} -> ${file('alpha/alpha/util.py')} (from)`,
        `${file('alpha/alpha/notes.py')} -> ${file('alpha/alpha/__init__.py')} (package)`,
        `${file('alpha/alpha/old_report.py')} -> ${file('alpha/alpha/__init__.py')} (package)`,
        `${file('alpha/alpha/util.py')} -> ${file('alpha/alpha/__init__.py')} (package)`,
        `${file('alpha/tests/test_core.py')} -> ${file('alpha/alpha/core.py')} (from)`,
        `${file('beta/core_copy.py')} -> ${file('beta/tools.py')} (from)`,
        `${file('beta/main.py')} -> ${file('beta/core_copy.py')} (from)`,
        `${file('beta/main.py')} -> ${file('beta/tools.py')} (from)`,
        `${file('gamma/run.py')} -> ${file('alpha/alpha/core.py')} (from)`,
      ].sort(),
    );
    expect(c.unresolved).toEqual([
      {
        file: file('gamma/missing.py'),
        line: 1,
        spec: 'not_installed_anywhere',
        reason: 'not_installed_anywhere: no scanned file, standard module or declared dependency',
      },
    ]);
    // beta's pasted core imports math.
    expect(c.external[project('beta')]).toEqual({
      stdlib: 1,
      builtin: 0,
      installed: { requests: 1 },
    });
    expect(c.external[project('alpha')]?.stdlib).toBe(3);
    expect(c.unparsed).toEqual([
      { file: file('beta/legacy.py'), error: expect.stringMatching(/^syntax error/) },
    ]);
  });

  it('classes every file: production, library, experimental, test, dead', () => {
    const cls = Object.fromEntries(twin.code!.files.map((f) => [f.id, f.class]));
    expect(cls).toEqual({
      [file('alpha/alpha/__init__.py')]: 'production',
      [file('alpha/alpha/cli.py')]: 'production',
      [file('alpha/alpha/core.py')]: 'production',
      [file('alpha/alpha/util.py')]: 'production',
      [file('alpha/alpha/old_report.py')]: 'dead',
      [file('alpha/alpha/notes.py')]: 'dead',
      [file('alpha/tests/test_core.py')]: 'test',
      [file('beta/main.py')]: 'experimental',
      [file('beta/core_copy.py')]: 'experimental',
      [file('beta/tools.py')]: 'experimental',
      [file('beta/legacy.py')]: 'dead',
      [file('gamma/run.py')]: 'dead',
      [file('gamma/missing.py')]: 'dead',
      [file('scratch/oneoff.py')]: 'experimental',
    });
    expect(twin.code!.files.find((f) => f.id === file('alpha/alpha/cli.py'))!.why).toBe(
      'alpha.service (active)',
    );
  });

  it("finds beta's pasted and renamed copies as copied, not imported; gamma imports alpha", () => {
    const c = twin.code!;
    const groups = c.clones
      .filter((g) => g.level === 'file')
      .map((g) => ({
        type: g.type,
        members: g.members.map((m) => m.file).sort(),
        source: g.source,
      }));
    expect(groups).toEqual(
      expect.arrayContaining([
        {
          type: 'near',
          members: [file('alpha/alpha/core.py'), file('beta/core_copy.py')],
          source: file('alpha/alpha/core.py'),
        },
        {
          type: '2',
          members: [file('alpha/alpha/util.py'), file('beta/tools.py')],
          source: file('alpha/alpha/util.py'),
        },
      ]),
    );
    expect(groups).toHaveLength(2);
    expect(c.copied.map((x) => [x.copy, x.source, x.type])).toEqual(
      expect.arrayContaining([
        [file('beta/core_copy.py'), file('alpha/alpha/core.py'), 'near'],
        [file('beta/tools.py'), file('alpha/alpha/util.py'), '2'],
      ]),
    );
    expect(c.copied.some((x) => x.copy.includes('/gamma/'))).toBe(false);
    expect(c.graph.edges).toEqual(
      expect.arrayContaining([
        { from: project('gamma'), to: project('alpha'), imports: 1, copies: 0 },
        { from: project('beta'), to: project('alpha'), imports: 0, copies: 2 },
      ]),
    );
  });

  it('prints "Copied, not imported" and "Dead code" in Markdown, and the graph as DOT and Mermaid', async () => {
    const out = join(tmp, 'report.json');
    const md = (await runCli(['audit', out, '--markdown'])).stdout;
    expect(md).toContain('## Copied, not imported');
    expect(md).toContain(
      `| \`${file('beta/tools.py')}\` | 1-15 | \`${file('alpha/alpha/util.py')}\` | type 2 |`,
    );
    expect(md).toContain('## Dead code');
    expect(md).toContain(
      `| \`${file('alpha/alpha/old_report.py')}\` | 5 | DELETE | nothing imports or runs it |`,
    );
    const dot = (await runCli(['audit', out, '--graph', 'dot'])).stdout;
    expect(dot).toMatch(/^digraph codebase \{/);
    expect(dot).toMatch(/p\d+ -> p\d+ \[label="2 copied", style=dashed/);
    const mermaid = (await runCli(['audit', out, '--graph', 'mermaid'])).stdout;
    expect(mermaid).toMatch(/^flowchart LR\n/);
    expect(mermaid).toContain('-->|1 imports|');
    const bad = await runCli(['audit', out, '--graph', 'svg']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--graph must be one of dot, mermaid, json');
  });
});
