import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanNode } from './scan.js';

const root = mkdtempSync(join(tmpdir(), 'factorylm-scan-tree-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
}

describe('project boundaries and skipped folders', () => {
  it.each([
    [
      'a project inside another is its own, and its files are not the outer one’s',
      {
        'mono/package.json': '{"name":"mono"}',
        'mono/index.js': '1',
        'mono/packages/ui/package.json': '{"name":"ui","version":"2.0.0"}',
        'mono/packages/ui/button.js': '2',
      },
      [
        ['mono', ['node'], 'mono', 2],
        ['mono/packages/ui', ['node'], 'ui', 2],
      ],
    ],
    [
      'a loose script folder owns its own files; a sub-folder with scripts is another',
      {
        'tools/a.py': '1',
        'tools/notes.txt': 'x',
        'tools/old/b.sh': '2',
        'tools/data/c.csv': '3',
      },
      [
        ['tools', ['scripts'], 'tools', 2],
        ['tools/old', ['scripts'], 'old', 1],
      ],
    ],
    [
      'a virtualenv under any name is skipped, found by its pyvenv.cfg',
      {
        'svc/requirements.txt': 'flask\n',
        'svc/app.py': '1',
        'svc/py311/pyvenv.cfg': 'home = /usr/bin\n',
        'svc/py311/lib/site.py': '2',
      },
      [['svc', ['python'], 'svc', 2]],
    ],
    [
      'ignore rules of a nested .factorylmignore apply below it only',
      {
        'app/package.json': '{"name":"app"}',
        'app/.factorylmignore': 'fixtures/\n',
        'app/test/fixtures/big.json': '{}',
        'app/test/a.test.js': '1',
        'other/package.json': '{"name":"other"}',
        'other/test/fixtures/kept.json': '{}',
      },
      [
        ['app', ['node'], 'app', 3],
        ['other', ['node'], 'other', 2],
      ],
    ],
  ])('%s', async (_name, files, expected) => {
    rmSync(root, { recursive: true, force: true });
    write(files);
    const report = await scanNode({ roots: [root], unitDirs: [] });
    expect(
      report.projects.map((p) => [p.path.slice(root.length + 1), p.kinds, p.name, p.files]),
    ).toEqual(expected);
  });

  it('applies --ignore patterns below every root', async () => {
    rmSync(root, { recursive: true, force: true });
    write({ 'a/x.py': '1', 'a/x.log': 'l', 'b/build/y.py': '2', 'b/z.py': '3' });
    const report = await scanNode({ roots: [root], unitDirs: [], ignore: ['*.log', 'build/'] });
    expect(report.projects.map((p) => [p.path.slice(root.length + 1), p.files])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(report.stats.ignored).toBe(2);
  });

  it('with no roots, reports services and the node only', async () => {
    const report = await scanNode({ roots: [], unitDirs: [] });
    expect([report.roots, report.projects, report.stats.files]).toEqual([[], [], 0]);
  });
});
