import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditResult } from '../inventory/audit.js';
import type { InventoryReport } from '../inventory/report.js';
import { writeCodeTwinFixture, type CodeTwinFixture } from './support/code-twin-fixture.js';
import { runCli } from './support/processes.js';

let tmp: string;
let fx: CodeTwinFixture;
const at = (rel: string) => fx.at(rel);
const root = () => fx.root;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'factorylm-code-twin-'));
  fx = writeCodeTwinFixture(tmp);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// Each test runs the CLI several times; on a shared 2-core machine one run can take 20 s.
describe('codebase twin: import graph, copies, production vs dead', { timeout: 300_000 }, () => {
  let report: InventoryReport;
  let twin: AuditResult;
  const env = () => fx.env;
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
        fx.units,
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
    // A project has the best class of its files: alpha runs in production though two are dead.
    expect(Object.fromEntries(c.graph.projects.map((p) => [p.id, [p.class, p.classes]]))).toEqual({
      [project('alpha')]: [
        'production',
        { production: 4, library: 0, experimental: 0, test: 1, dead: 2 },
      ],
      [project('beta')]: [
        'experimental',
        { production: 0, library: 0, experimental: 3, test: 0, dead: 1 },
      ],
      [project('gamma')]: [
        'dead',
        { production: 0, library: 0, experimental: 0, test: 0, dead: 2 },
      ],
      [project('scratch')]: [
        'experimental',
        { production: 0, library: 0, experimental: 1, test: 0, dead: 0 },
      ],
    });
  });

  it('prints "Copied, not imported" and "Dead code" in Markdown, and the graph as DOT and Mermaid', async () => {
    const out = join(tmp, 'report.json');
    // Independent runs, started together.
    const [mdRun, dotRun, mermaidRun, bad, similarity] = await Promise.all([
      runCli(['audit', out, '--markdown']),
      runCli(['audit', out, '--graph', 'dot']),
      runCli(['audit', out, '--graph', 'mermaid']),
      runCli(['audit', out, '--graph', 'svg']),
      runCli(['audit', out, '--clone-similarity', '150']),
    ]);
    const md = mdRun.stdout;
    expect(md).toContain('## Copied, not imported');
    expect(md).toContain(
      `| \`${file('beta/tools.py')}\` | 1-15 | \`${file('alpha/alpha/util.py')}\` | type 2 |`,
    );
    expect(md).toContain('## Dead code');
    expect(md).toContain(
      `| \`${file('alpha/alpha/old_report.py')}\` | 5 | DELETE | nothing imports or runs it |`,
    );
    const dot = dotRun.stdout;
    expect(dot).toMatch(/^digraph codebase \{/);
    expect(dot).toMatch(/p\d+ -> p\d+ \[label="2 copied", style=dashed/);
    const mermaid = mermaidRun.stdout;
    expect(mermaid).toMatch(/^flowchart LR\n/);
    expect(mermaid).toContain('-->|1 imports|');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--graph must be one of dot, mermaid, json');
    // A usage error, not a crash with a stack trace.
    expect(bad.stderr).not.toContain('    at ');
    expect(similarity.code).not.toBe(0);
    expect(similarity.stderr).toContain('--clone-similarity must be a percentage in (0, 100]');
  });

  it('skips the code analysis with --no-code: files, hashes and duplicates only', async () => {
    const out = join(tmp, 'no-code.json');
    const r = await runCli(
      ['inventory', root(), '--node', 'edge-01', '--no-cache', '--no-code', '--out', out],
      fx.env,
    );
    expect(r.code).toBe(0);
    const plain = JSON.parse(readFileSync(out, 'utf8')) as InventoryReport;
    expect(plain.code).toBeUndefined();
    expect(plain.projects.every((p) => p.code === undefined)).toBe(true);
    expect(plain.stats.files).toBe(report.stats.files);
    const [a, graph] = await Promise.all([
      runCli(['audit', out, '--json']),
      runCli(['audit', out, '--graph', 'dot']),
    ]);
    expect((JSON.parse(a.stdout) as AuditResult).code).toBeUndefined();
    expect(graph.code).toBe(1);
    expect(graph.stderr).toContain('no report carries code facts');
  });
});
