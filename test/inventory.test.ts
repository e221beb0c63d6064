import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageVersion } from '../core/package-info.js';
import type { AuditResult } from '../inventory/audit.js';
import { formatBytes, formatCount } from '../inventory/render.js';
import type { InventoryReport, Project } from '../inventory/report.js';
import {
  buildWorkspace,
  REMOTE_TOKEN,
  SECRET,
  startFakeDocker,
  writeUnit,
  type FakeDocker,
  type Workspace,
} from './support/inventory-fixture.js';
import { runCli } from './support/processes.js';

const HUGE = 3 * 1024 * 1024;

let tmp: string;
let ws: Workspace;
let docker: FakeDocker;
let units: string;
let cache: string;
let reportFile: string;
/** Everything any command printed or wrote, searched for the secret at the end. */
const outputs: string[] = [];

async function cli(args: string[]) {
  const r = await runCli(args);
  outputs.push(r.stdout, r.stderr);
  return r;
}

function scanArgs(...extra: string[]): string[] {
  return [
    'inventory',
    ws.root,
    '--node',
    'edge-01',
    '--max-file-mb',
    '1',
    '--cache',
    cache,
    '--unit-dir',
    units,
    '--docker-socket',
    docker.socket,
    ...extra,
  ];
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'factorylm-inventory-'));
  ws = await buildWorkspace(join(tmp, 'ws'), HUGE);
  units = join(tmp, 'units');
  // A unit passing a credential on its command line, as units often do.
  writeUnit(
    units,
    'plc-copilot.service',
    ws.plc.path,
    `${ws.plc.path}/bot.py --serve --token ${SECRET}`,
  );
  docker = await startFakeDocker(join(tmp, 'docker.sock'), [
    { name: 'cmms-backend', image: 'acme/cmms:1.4', state: 'running', mount: ws.search.path },
  ]);
  cache = join(tmp, 'state', 'inventory-cache.db');
  reportFile = join(tmp, 'edge-01.json');
});

afterAll(async () => {
  await docker?.close();
  await ws?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const byPath = (r: InventoryReport, path: string): Project => {
  const p = r.projects.find((x) => x.path === path);
  if (!p) throw new Error(`no project ${path} in ${r.projects.map((x) => x.path).join(', ')}`);
  return p;
};

describe('factorylm inventory on the seed workspace', () => {
  let report: InventoryReport;

  it('finds every project with the files, bytes, kinds and metadata it was built with', async () => {
    const r = await cli(scanArgs('--json', '--out', reportFile));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    report = JSON.parse(r.stdout) as InventoryReport;
    expect(JSON.parse(readFileSync(reportFile, 'utf8'))).toEqual(report);

    expect(report.node).toMatchObject({ name: 'edge-01', version: packageVersion() });
    expect(report.projects.map((p) => p.path)).toEqual(
      [ws.plc, ws.fork, ws.rivet, ws.copy, ws.search, ws.sandbox, ws.web].map((b) => b.path),
    );
    for (const built of [ws.plc, ws.fork, ws.rivet, ws.copy, ws.search, ws.sandbox, ws.web]) {
      const p = byPath(report, built.path);
      expect({ path: p.path, files: p.files, bytes: p.bytes }).toEqual({
        path: built.path,
        files: built.files,
        bytes: built.bytes,
      });
    }

    const rivet = byPath(report, ws.rivet.path);
    expect(rivet).toMatchObject({
      name: 'rivet-pro',
      kinds: ['python'],
      version: '1.2.0',
      python: {
        manifests: ['pyproject.toml', 'requirements-dev.txt'],
        dependencies: ['requests', 'celery', 'pytest', 'ruff'],
      },
      secrets: ['.env'],
      tooLarge: 0,
      unreadable: [],
    });
    expect(rivet.languages.python).toEqual({
      files: 10,
      bytes: rivet.entries
        .filter(([p]) => p.endsWith('.py'))
        .reduce((s, [, , size]) => s + size, 0),
    });
    expect(rivet.entries.find(([p]) => p === '.env')).toEqual([
      '.env',
      'secret',
      SECRET.length + 16,
    ]);
    // Exact copies have one fingerprint; the fork does not.
    expect(byPath(report, ws.copy.path).fingerprint).toBe(rivet.fingerprint);
    expect(byPath(report, ws.search.path).fingerprint).toBe(rivet.fingerprint);
    expect(byPath(report, ws.fork.path).fingerprint).not.toBe(rivet.fingerprint);

    expect(byPath(report, ws.web.path)).toMatchObject({
      name: 'web-ui',
      kinds: ['node'],
      version: '0.3.1',
      node: { lockfile: 'package-lock.json', dependencies: ['fastify', 'vitest'] },
      languages: { javascript: { files: 1 }, typescript: { files: 1 }, json: { files: 2 } },
    });

    const plc = byPath(report, ws.plc.path);
    expect(plc).toMatchObject({
      name: 'plc-copilot',
      kinds: ['git', 'python'],
      git: {
        head: ws.plc.head,
        branch: 'main',
        remote: ws.plc.remote,
        dirty: ws.plc.dirty,
        lastCommitAt: ws.plc.committedAt,
      },
      python: { dependencies: ['python-telegram-bot', 'requests'] },
    });
    // No upstream branch: ahead/behind are unknown, not zero.
    expect(plc.git?.ahead).toBeUndefined();

    const sandbox = byPath(report, ws.sandbox.path);
    expect(sandbox).toMatchObject({ kinds: ['scripts'], name: 'sandbox', tooLarge: 1 });
    expect(sandbox.entries).toContainEqual(['capture.bin', `size:${HUGE}`, HUGE]);
    expect(sandbox.unreadable.sort()).toEqual([
      'app.sock: not a regular file',
      'pipe: not a regular file',
    ]);

    const counted = [ws.plc, ws.fork, ws.rivet, ws.copy, ws.search, ws.sandbox, ws.web];
    const files = counted.reduce((s, b) => s + b.files, 0);
    // Secret files (4 .env), files over the cap and unreadable ones are not hashed.
    expect(report.stats).toEqual({
      files,
      bytes: counted.reduce((s, b) => s + b.bytes, 0),
      hashed: files - 4 - ws.sandbox.tooLarge - ws.sandbox.unreadable,
      cached: 0,
      tooLarge: ws.sandbox.tooLarge,
      unreadable: ws.sandbox.unreadable,
      ignored: ws.ignored,
      symlinks: ws.sandbox.symlinks,
      outsideProjects: ws.outside,
    });

    expect(report.services).toEqual([
      expect.objectContaining({
        name: 'plc-copilot.service',
        workingDirectory: ws.plc.path,
        execStart: `/usr/bin/python3 ${ws.plc.path}/bot.py --serve --token [redacted]`,
        project: ws.plc.path,
      }),
    ]);
    expect(report.docker).toBe('ok');
    expect(report.containers).toEqual([
      expect.objectContaining({
        name: 'cmms-backend',
        state: 'running',
        mounts: [ws.search.path],
        project: ws.search.path,
      }),
    ]);
    expect(report.images.map((i) => i.tags)).toEqual([['acme/cmms:1.4'], []]);
  });

  it('prints a summary table with the same numbers', async () => {
    const r = await cli(scanArgs());
    expect(r.code).toBe(0);
    const line = (path: string) => r.stdout.split('\n').find((l) => l.startsWith(path + ' '))!;
    expect(line(ws.rivet.path)).toMatch(
      new RegExp(
        `python\\s+rivet-pro\\s+1\\.2\\.0\\s+${ws.rivet.files}\\s+${formatBytes(ws.rivet.bytes)}`,
      ),
    );
    expect(line(ws.plc.path)).toContain(`main@${ws.plc.head.slice(0, 8)} +2 dirty`);
    expect(r.stdout).toContain(
      `${formatCount(report.stats.files)} files (${formatBytes(report.stats.bytes)}) in 7 projects`,
    );
    expect(r.stdout).toContain(
      `1 over 1.0 MiB, 2 unreadable, ${ws.ignored} ignored, 4 symlinks not followed, 1 files outside projects`,
    );
  });

  it('gives up publishing when no broker acknowledges, with the reason', async () => {
    const r = await cli([
      ...scanArgs('--publish', '--mqtt-url', 'mqtt://127.0.0.1:9', '--site', 'plant1'),
      '--publish-timeout',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: no acknowledgement from mqtt://127.0.0.1:9 in 1 s: check the broker URL, credentials and ACL',
    );
  });

  it('re-scans an unchanged tree from the cache, and re-reads only a changed file', async () => {
    const again = JSON.parse((await cli(scanArgs('--json'))).stdout) as InventoryReport;
    expect(again.stats.cached).toBe(report.stats.hashed);
    expect(again.stats.hashed).toBe(0);
    expect(again.projects.map((p) => p.fingerprint)).toEqual(
      report.projects.map((p) => p.fingerprint),
    );
    const scratch = join(tmp, 'changed');
    // A copy of the tree, so the audit tests below still see the original.
    await buildWorkspace(scratch, HUGE).then((w) => w.close());
    const first = JSON.parse(
      (await cli(['inventory', scratch, '--json', '--cache', cache, '--no-cache'])).stdout,
    ) as InventoryReport;
    expect(first.stats.cached).toBe(0);
    await cli(['inventory', scratch, '--json', '--cache', cache]);
    appendFileSync(join(scratch, 'rivet-pro-copy', 'rivet_pro', 'core.py'), '# edited\n');
    const next = JSON.parse(
      (await cli(['inventory', scratch, '--json', '--cache', cache])).stdout,
    ) as InventoryReport;
    expect(next.stats.hashed).toBe(1);
    expect(next.stats.cached).toBe(first.stats.hashed - 1);
  });
});

describe('factorylm audit over the report', () => {
  let result: AuditResult;
  const id = (path: string) => `edge-01:${path}`;

  it('finds the exact copies, the fork and their source, with the bytes to recover', async () => {
    const r = await cli(['audit', reportFile, '--json']);
    expect(r.code).toBe(0);
    result = JSON.parse(r.stdout) as AuditResult;
    const d = result.duplicates;
    expect(d.exact).toEqual([
      {
        fingerprint: expect.any(String),
        files: ws.rivet.files,
        bytes: ws.rivet.bytes,
        // The copy a running container uses is the source, whatever its name.
        source: id(ws.search.path),
        why: 'runs container cmms-backend (running)',
        copies: [id(ws.rivet.path), id(ws.copy.path)],
      },
    ]);
    expect(d.forks).toEqual([
      {
        source: id(ws.search.path),
        fork: id(ws.fork.path),
        similarity: ws.fork.shared / ws.rivet.files,
        shared: ws.fork.shared,
        changed: ws.fork.changed,
        added: ws.fork.added,
        removed: ws.fork.removed,
      },
    ]);
    expect(d.kill.map((k) => [k.path, k.files, k.bytes, k.action])).toEqual([
      [ws.rivet.path, ws.rivet.files, ws.rivet.bytes, 'DELETE'],
      [ws.copy.path, ws.copy.files, ws.copy.bytes, 'DELETE'],
      [ws.fork.path, ws.fork.files, ws.fork.bytes, 'ARCHIVE'],
      [ws.search.path, ws.search.files, ws.search.bytes, 'KEEP'],
    ]);
    expect(d.recovered).toEqual({ delete: 2 * ws.rivet.bytes, archive: ws.fork.bytes });
    expect(result.summary).toEqual({
      nodes: 1,
      projects: 7,
      files: [ws.plc, ws.fork, ws.rivet, ws.copy, ws.search, ws.sandbox, ws.web].reduce(
        (s, b) => s + b.files,
        0,
      ),
      bytes: [ws.plc, ws.fork, ws.rivet, ws.copy, ws.search, ws.sandbox, ws.web].reduce(
        (s, b) => s + b.bytes,
        0,
      ),
      exactGroups: 1,
      forks: 1,
      toDelete: 2,
      toArchive: 1,
      recoverableBytes: 2 * ws.rivet.bytes + ws.fork.bytes,
      drift: 0,
    });
    const usage = Object.fromEntries(result.projects.map((p) => [p.path, p.usage]));
    expect(usage[ws.search.path]).toBe('production');
    // No systemd here: the unit is installed, its state unknown, so not "production".
    expect(usage[ws.plc.path]).toBe('installed');
    expect(usage[ws.web.path]).toBe('experimental');
  });

  it('prints the same numbers as a terminal table and as Markdown', async () => {
    const text = (await cli(['audit', reportFile])).stdout;
    // The row in "Duplicates to kill", not the one in "Projects".
    const row = (path: string) =>
      text.split('\n').find((l) => l.startsWith(`edge-01:${path} `) && l.includes('DELETE'))!;
    expect(row(ws.copy.path)).toMatch(
      new RegExp(
        `\\s${ws.copy.files}\\s+${formatCount(ws.copy.bytes)}\\s+DELETE\\s+exact copy of edge-01:${ws.search.path}$`,
      ),
    );
    expect(text).toContain(
      `ARCHIVE  fork of edge-01:${ws.search.path}: 2 changed, 1 added, 1 removed`,
    );
    expect(text).toContain(
      `Disk recovered: ${formatCount(2 * ws.rivet.bytes)} bytes (${formatBytes(2 * ws.rivet.bytes)}) by deleting 2 copies, ` +
        `${formatCount(2 * ws.rivet.bytes + ws.fork.bytes)} bytes (${formatBytes(2 * ws.rivet.bytes + ws.fork.bytes)}) once 1 archived.`,
    );
    expect(text).toContain(`${Math.floor((ws.fork.shared / ws.rivet.files) * 100)}%`);

    const md = (await cli(['audit', reportFile, '--markdown'])).stdout;
    expect(md).toMatch(/^# Codebase twin\n/);
    expect(md).toContain(
      `| \`edge-01:${ws.rivet.path}\` | ${ws.rivet.files} | ${formatCount(ws.rivet.bytes)} | DELETE | exact copy of edge-01:${ws.search.path} |`,
    );
    expect(md).toContain('## Duplicates to kill');
  });

  it('reports drift from fleet.yaml, and --check fails on it and on new duplicates only', async () => {
    const fleet = join(tmp, 'fleet.yaml');
    writeFileSync(
      fleet,
      [
        'projects:',
        '  web-ui: { version: 0.4.0 }',
        'nodes:',
        '  edge-01:',
        '    - web-ui',
        `    - { project: plc-copilot, commit: ${ws.plc.head.slice(0, 7)}, service: plc-copilot.service }`,
        '    - { project: historian, path: /opt/historian }',
        '  edge-02: [web-ui]',
        '',
      ].join('\n'),
    );
    const r = await cli(['audit', reportFile, '--fleet', fleet, '--json', '--check']);
    expect(r.code).toBe(1);
    const drift = (JSON.parse(r.stdout) as AuditResult).drift;
    expect(drift.map((d) => [d.node, d.project, d.kind, d.expected, d.actual])).toEqual([
      ['edge-01', 'web-ui', 'version', '0.4.0', '0.3.1'],
      ['edge-01', 'plc-copilot', 'dirty', 'clean', '2 changed files'],
      [
        'edge-01',
        'plc-copilot',
        'service',
        'plc-copilot.service active',
        expect.stringMatching(/^plc-copilot\.service \((unknown|inactive)\)$/),
      ],
      ['edge-01', 'historian', 'project-missing', '/opt/historian', undefined],
      ['edge-02', 'web-ui', 'node-missing', undefined, undefined],
    ]);
    expect(r.stderr).toContain('check: drift: edge-01 web-ui: ');
    expect(r.stderr).toContain(`check: duplicate: edge-01:${ws.copy.path} (DELETE`);

    // What a fleet that matches says, with today's duplicates accepted as a baseline: pass.
    writeFileSync(fleet, 'nodes:\n  edge-01:\n    - { project: web-ui, version: 0.3.1 }\n');
    const baseline = join(tmp, 'baseline.json');
    writeFileSync(baseline, JSON.stringify(result));
    const ok = await cli([
      'audit',
      reportFile,
      '--fleet',
      fleet,
      '--check',
      '--baseline',
      baseline,
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const noBaseline = await cli(['audit', reportFile, '--fleet', fleet, '--check']);
    expect(noBaseline.code).toBe(1);
  });

  it('never puts the .env secret or the remote token in any output or file', () => {
    const cacheBytes = readFileSync(cache).toString('latin1');
    for (const text of [...outputs, readFileSync(reportFile, 'utf8'), cacheBytes]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(REMOTE_TOKEN);
    }
    expect(outputs.join('')).toContain(ws.plc.remote);
  });
});
