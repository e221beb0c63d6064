import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';

/** A fake credential: no byte of it may reach any output of the scan, audit, broker or gateway. */
export const SECRET = 'sk-live-FIXTURE-SECRET-4f9a1c7e';
/** A token in a git remote URL: it must be stripped everywhere too. */
export const REMOTE_TOKEN = 'ghp_FIXTURETOKEN0123456789';

/** What a folder of the fixture holds, by relative path, as written. */
export type Files = Record<string, string>;

export interface Built {
  path: string;
  /** Files the scan counts: regular files outside ignored folders, unreadable ones included. */
  files: number;
  bytes: number;
}

function write(dir: string, files: Files): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = join(dir, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

/** Counted files and bytes of a file map, less what the scan is expected to ignore. */
function measure(path: string, files: Files, ignored: (rel: string) => boolean = () => false) {
  const kept = Object.entries(files).filter(([rel]) => !ignored(rel));
  return {
    path,
    files: kept.length,
    bytes: kept.reduce((s, [, c]) => s + Buffer.byteLength(c), 0),
  };
}

/** A Python project in the seed's image: a package, tests, a virtualenv and bytecode. */
export function rivetFiles(): Files {
  const files: Files = {
    'pyproject.toml': [
      '[project]',
      'name = "rivet-pro"',
      'version = "1.2.0"',
      'dependencies = [',
      '  "requests>=2.31",',
      '  "celery[redis]==5.3.6",',
      ']',
      '',
    ].join('\n'),
    'requirements-dev.txt': 'pytest>=8\n# lint\nruff\n',
    'README.md': '# Rivet PRO\nMaintenance copilot.\n',
    '.env': `OPENAI_API_KEY=${SECRET}\n`,
    '.env.example': 'OPENAI_API_KEY=\n',
    'rivet_pro/__init__.py': '',
    'rivet_pro/core.py': 'def diagnose(code):\n    return {"code": code}\n',
    'rivet_pro/cmms.py': 'import requests\n\ndef open_work_order(t):\n    return t\n',
    'rivet_pro/plc.py': 'REGISTERS = {100: "motor_speed", 101: "motor_current"}\n',
    'agents/monkey.py': 'def run():\n    return "monkey"\n',
    'agents/evolution.py': 'def run():\n    return "evolution"\n',
    'tests/test_core.py':
      'from rivet_pro.core import diagnose\n\ndef test():\n    assert diagnose(1)\n',
    'deploy/rivet.service': '[Service]\nExecStart=/usr/bin/python3 -m rivet_pro\n',
  };
  for (let i = 0; i < 3; i++)
    files[`harvest_blocks/block_${i}.py`] = `BLOCK = ${i}\n`.repeat(20 + i);
  // Ignored by the scan: a virtualenv (any folder with pyvenv.cfg) and bytecode caches.
  files['venv/pyvenv.cfg'] = 'home = /usr/bin\n';
  files['venv/lib/python3.11/site-packages/requests/__init__.py'] = '# vendored\n';
  files['rivet_pro/__pycache__/core.cpython-311.pyc'] = 'bytecode';
  return files;
}

const rivetIgnored = (rel: string) => rel.startsWith('venv/') || rel.includes('__pycache__/');

export interface Workspace {
  root: string;
  rivet: Built;
  copy: Built;
  search: Built;
  fork: Built & { changed: string[]; added: string[]; removed: string[]; shared: number };
  sandbox: Built & { unreadable: number; tooLarge: number; symlinks: number };
  web: Built;
  plc: Built & { head: string; dirty: number; committedAt: number; remote: string };
  outside: number;
  /** Folders and files the scan must skip. */
  ignored: number;
  /** Call after the scan: closes the socket file's server. */
  close: () => Promise<void>;
}

/**
 * The seed's mess in miniature, built fresh in `root`: a Python project and two exact copies of
 * it, a fork with a few changed files, a sandbox mixing loose scripts, a FIFO, a socket, a
 * symlink loop, a link out of the root and a file over the size cap, a Node project, and a git
 * repository with a credential in its remote URL and two uncommitted changes.
 */
export async function buildWorkspace(root: string, hugeBytes: number): Promise<Workspace> {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const rivetMap = rivetFiles();
  const rivet = join(root, 'rivet-pro');
  write(rivet, rivetMap);
  // Copies made like people make them, with new modification times: the original is oldest.
  const old = new Date('2025-06-01T00:00:00Z');
  for (const rel of Object.keys(rivetMap)) utimesSync(join(rivet, rel), old, old);
  cpSync(rivet, join(root, 'rivet-pro-copy'), { recursive: true });
  cpSync(rivet, join(root, 'rivet-pro-search'), { recursive: true });

  const forkMap: Files = { ...rivetMap };
  forkMap['rivet_pro/core.py'] = 'def diagnose(code):\n    return {"code": code, "llm": True}\n';
  forkMap['agents/monkey.py'] = 'def run():\n    return "monkey v2"\n';
  forkMap['agents/search.py'] = 'def search(q):\n    return []\n';
  delete forkMap['agents/evolution.py'];
  write(join(root, 'rivet-fork'), forkMap);

  const sandbox = join(root, 'sandbox');
  const sandboxMap: Files = {
    'tool.py': 'print("one-off fix")\n',
    'run.sh': '#!/bin/sh\npython3 tool.py\n',
    'notes.txt': 'try the new PLC map\n',
  };
  write(sandbox, sandboxMap);
  // Over the size cap: a sparse file, listed with its size and never read.
  writeFileSync(join(sandbox, 'capture.bin'), '');
  truncateSync(join(sandbox, 'capture.bin'), hugeBytes);
  // Unreadable: root reads any mode-000 file, so use what no scan may open: a FIFO (opening it
  // would block) and a Unix socket (cannot be read at all).
  execFileSync('mkfifo', [join(sandbox, 'pipe')]);
  const socketServer: Server = createServer();
  await new Promise<void>((resolve) => socketServer.listen(join(sandbox, 'app.sock'), resolve));
  symlinkSync('loop-b', join(sandbox, 'loop-a'));
  symlinkSync('loop-a', join(sandbox, 'loop-b'));
  symlinkSync('/', join(sandbox, 'escape'));
  mkdirSync(join(sandbox, 'nested'));
  symlinkSync('..', join(sandbox, 'nested', 'up'));

  const webMap: Files = {
    'package.json': JSON.stringify({
      name: 'web-ui',
      version: '0.3.1',
      dependencies: { fastify: '^5.0.0' },
      devDependencies: { vitest: '^4.1.0' },
    }),
    'package-lock.json': '{"lockfileVersion":3}',
    'src/index.js': 'export const start = () => 42;\n',
    'src/view.ts': 'export const view = (): string => "ok";\n',
    'node_modules/left-pad/index.js': 'module.exports = 1;\n',
    'node_modules/left-pad/package.json': '{"name":"left-pad"}',
  };
  const web = join(root, 'web-ui');
  write(web, webMap);

  const plc = join(root, 'plc-copilot');
  const plcMap: Files = {
    'bot.py': 'def main():\n    print("photo to cmms")\n',
    'user_db.py': 'USERS = {}\n',
    'requirements.txt': 'python-telegram-bot==21.0\nrequests\n',
    '.factorylmignore': '# runtime output\n*.log\n/tmp/\n',
    '.gitignore': 'logs/\ntmp/\n',
    'logs/app.log': 'started\n',
    'tmp/scratch.py': 'x = 1\n',
  };
  write(plc, plcMap);
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', plc, ...args], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'fixture',
        GIT_AUTHOR_EMAIL: 'fixture@example.com',
        GIT_COMMITTER_NAME: 'fixture',
        GIT_COMMITTER_EMAIL: 'fixture@example.com',
        GIT_AUTHOR_DATE: '2026-01-15T10:00:00Z',
        GIT_COMMITTER_DATE: '2026-01-15T10:00:00Z',
      },
    })
      .toString()
      .trim();
  git('init', '-q', '-b', 'main');
  git('add', 'bot.py', 'user_db.py', 'requirements.txt', '.factorylmignore', '.gitignore');
  git('commit', '-q', '-m', 'initial');
  git(
    'remote',
    'add',
    'origin',
    `https://deploy:${REMOTE_TOKEN}@git.example.com/acme/plc-copilot.git`,
  );
  const head = git('rev-parse', 'HEAD');
  // Two uncommitted changes: one edited file, one new file.
  plcMap['bot.py'] += '# hotfix on the box\n';
  plcMap['hotfix.py'] = 'PATCH = True\n';
  write(plc, { 'bot.py': plcMap['bot.py']!, 'hotfix.py': plcMap['hotfix.py']! });

  writeFileSync(join(root, 'README.md'), 'workspace\n');
  const sandboxCounted = measure(sandbox, sandboxMap);
  const forkCompare = {
    changed: ['agents/monkey.py', 'rivet_pro/core.py'],
    added: ['agents/search.py'],
    removed: ['agents/evolution.py'],
  };
  const rivetCounted = measure(rivet, rivetMap, rivetIgnored);
  return {
    root,
    rivet: rivetCounted,
    copy: { ...rivetCounted, path: join(root, 'rivet-pro-copy') },
    search: { ...rivetCounted, path: join(root, 'rivet-pro-search') },
    fork: {
      ...measure(join(root, 'rivet-fork'), forkMap, rivetIgnored),
      ...forkCompare,
      shared: rivetCounted.files - 3,
    },
    sandbox: {
      path: sandbox,
      // The FIFO and the socket count as files (unreadable), the links do not.
      files: sandboxCounted.files + 3,
      bytes: sandboxCounted.bytes + hugeBytes,
      unreadable: 2,
      tooLarge: 1,
      symlinks: 4,
    },
    web: measure(web, webMap, (rel) => rel.startsWith('node_modules/')),
    plc: {
      ...measure(plc, plcMap, (rel) => rel.endsWith('.log') || rel.startsWith('tmp/')),
      head,
      dirty: 2,
      committedAt: Date.parse('2026-01-15T10:00:00Z'),
      remote: 'https://git.example.com/acme/plc-copilot.git',
    },
    outside: 1,
    // 4 Python folders × (venv, __pycache__), node_modules, .git, logs/app.log, tmp/.
    ignored: 4 * 2 + 1 + 1 + 2,
    close: () => new Promise((resolve) => socketServer.close(() => resolve())),
  };
}

/** A systemd unit file that runs the git project. */
export function writeUnit(dir: string, name: string, workingDirectory: string, exec: string) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, name),
    `[Unit]\nDescription=${name}\n\n[Service]\nWorkingDirectory=${workingDirectory}\nExecStart=-/usr/bin/python3 \\\n  ${exec}\nRestart=always\n`,
  );
}

export interface FakeDocker {
  socket: string;
  close: () => Promise<void>;
}

/**
 * The Docker Engine API on a Unix socket, answering the two calls the scan makes with
 * documented response shapes (no Docker engine can run on this machine).
 */
export async function startFakeDocker(
  socket: string,
  containers: { name: string; image: string; state: string; mount: string }[],
): Promise<FakeDocker> {
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/containers/json?all=1')
      return res.end(
        JSON.stringify(
          containers.map((c, i) => ({
            Id: `${String(i).padStart(2, '0')}${'ab'.repeat(31)}`,
            Names: [`/${c.name}`],
            Image: c.image,
            State: c.state,
            Status: 'Up 3 days',
            Mounts: [
              { Type: 'bind', Source: c.mount, Destination: '/app', RW: true },
              { Type: 'volume', Name: 'data', Source: '/var/lib/docker/volumes/data/_data' },
            ],
            Labels: {},
          })),
        ),
      );
    if (req.url === '/images/json')
      return res.end(
        JSON.stringify([
          { Id: `sha256:${'cd'.repeat(32)}`, RepoTags: ['acme/cmms:1.4'], Size: 123_456_789 },
          { Id: `sha256:${'ef'.repeat(32)}`, RepoTags: ['<none>:<none>'], Size: 1000 },
        ]),
      );
    res.statusCode = 404;
    res.end(JSON.stringify({ message: `page not found: ${req.url}` }));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
