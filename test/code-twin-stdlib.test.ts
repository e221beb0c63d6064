import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditResult } from '../inventory/audit.js';
import { runCli } from './support/processes.js';

/** Debian's python3.11 standard library: ~670 real modules, a large corpus nobody wrote for us. */
const STDLIB = '/usr/lib/python3.11';
/** Debian's interpreter of that library (a `python3` on PATH may be another build); -S: no site hooks. */
const PYTHON = '/usr/bin/python3.11';
const tmp = mkdtempSync(join(tmpdir(), 'factorylm-stdlib-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Where CPython itself finds each module: its source file, or null for built-ins and C modules. */
function pythonFinds(modules: string[]): Record<string, string | null> {
  const script = [
    'import importlib.util, json, sys',
    'out = {}',
    'for m in json.load(sys.stdin):',
    '    try:',
    '        s = importlib.util.find_spec(m)',
    '        out[m] = s.origin if s and s.origin and s.origin.endswith(".py") else None',
    '    except Exception:',
    '        out[m] = None',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(
    execFileSync(PYTHON, ['-I', '-S', '-c', script], { input: JSON.stringify(modules) }).toString(),
  ) as Record<string, string | null>;
}

// Debian's python3.11, part of this machine's image: without it the test fails and says so.
describe(
  'codebase twin on the Python standard library',
  // A scan of ~670 files and several audits on a shared 2-core machine: minutes at worst.
  { timeout: 300_000 },
  () => {
    let twin: AuditResult;
    const report = join(tmp, 'stdlib.json');

    it('scans and audits it without a crash, every file parsed', async () => {
      expect(
        existsSync(STDLIB) && existsSync(PYTHON),
        `${STDLIB} and ${PYTHON} (apt-get install python3.11)`,
      ).toBe(true);
      const scan = await runCli([
        'inventory',
        STDLIB,
        '--node',
        'py',
        '--no-cache',
        '--unit-dir',
        join(tmp, 'none'),
        '--docker-socket',
        join(tmp, 'none.sock'),
        '--out',
        report,
      ]);
      expect(scan.stderr).toBe('');
      expect(scan.code).toBe(0);
      const a = await runCli(['audit', report, '--json']);
      expect(a.code).toBe(0);
      twin = JSON.parse(a.stdout) as AuditResult;
      const c = twin.code!;
      expect(c.summary.files).toBeGreaterThan(600);
      expect(c.summary.edges).toBeGreaterThan(2000);
      expect(c.unparsed).toEqual([]);
    });

    it('leaves no import unresolved that CPython resolves to a file of the library', () => {
      const specs = [...new Set(twin.code!.unresolved.map((u) => u.spec))];
      const found = pythonFinds(specs);
      // The scan never follows symbolic links (Debian links sitecustomize.py from /etc).
      const wrong = specs.filter(
        (s) => found[s]?.startsWith(`${STDLIB}/`) && !lstatSync(found[s]).isSymbolicLink(),
      );
      expect(wrong).toEqual([]);
    });

    it('resolves a sample of plain imports to the file CPython loads', () => {
      const c = twin.code!;
      const facts = JSON.parse(readFileSync(report, 'utf8')) as {
        code: {
          facts: Record<string, { imports: { spec: string; kind: string; line: number }[] }>;
        };
      };
      // `import a, b` puts two imports on one line: the edge must be one of them.
      const sample: { specs: string[]; target: string }[] = [];
      for (const [from, to, kind, line] of c.edges) {
        if (kind !== 'import' || sample.length >= 80) continue;
        const f = c.files[from]!;
        const specs = facts.code.facts[f.hash]!.imports.filter(
          (i) => i.line === line && i.kind === 'import',
        ).map((i) => i.spec);
        sample.push({ specs, target: c.files[to]!.id.slice('py:'.length) });
      }
      expect(sample.length).toBeGreaterThan(40);
      const found = pythonFinds([...new Set(sample.flatMap((s) => s.specs))]);
      // Frozen modules (os, codecs… in 3.11) have no file origin: only found files are compared.
      const compared = sample.filter((s) => s.specs.some((spec) => found[spec]));
      expect(compared.length).toBeGreaterThan(20);
      const mismatched = compared.filter((s) => !s.specs.some((spec) => found[spec] === s.target));
      expect(mismatched).toEqual([]);
    });

    it('gives the same graph and clones on a second audit (stable output)', async () => {
      const again = JSON.parse((await runCli(['audit', report, '--json'])).stdout) as AuditResult;
      expect(again.code).toEqual(twin.code);
    });
  },
);
