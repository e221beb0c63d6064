import type { EntryPoint } from './facts.js';

/**
 * Entry points a project declares in its own files: console scripts, package.json bin/main/
 * exports, Dockerfile CMD/ENTRYPOINT, Procfile lines. Pure parsers of the text; what does not
 * parse yields nothing. Running units and containers are matched later, in the audit.
 */

/** `pkg.cli:main` → `pkg.cli`. */
function moduleOf(target: string): string | undefined {
  const m = /^\s*([A-Za-z_][\w.]*)\s*(:|$)/.exec(target);
  return m?.[1];
}

/** `[project.scripts]`, `[project.gui-scripts]` and `[tool.poetry.scripts]` of pyproject.toml. */
export function pyprojectScripts(text: string): EntryPoint[] {
  const out: EntryPoint[] = [];
  let table = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      table = header[1]!.trim();
      continue;
    }
    if (!['project.scripts', 'project.gui-scripts', 'tool.poetry.scripts'].includes(table))
      continue;
    const kv = /^["']?([\w.-]+)["']?\s*=\s*["']([^"']+)["']/.exec(line);
    const module = kv && moduleOf(kv[2]!);
    if (kv && module) out.push({ kind: 'console_script', name: kv[1]!, module, command: kv[2]! });
  }
  return out;
}

/** `console_scripts` strings of setup.py (`"name = pkg.mod:func"`). */
export function setupPyScripts(text: string): EntryPoint[] {
  const block = /console_scripts['"]?\s*[:=]\s*\[([^\]]*)\]/.exec(text)?.[1] ?? '';
  const out: EntryPoint[] = [];
  for (const m of block.matchAll(/["']\s*([\w.-]+)\s*=\s*([^"']+)["']/g)) {
    const module = moduleOf(m[2]!);
    if (module) out.push({ kind: 'console_script', name: m[1]!, module, command: m[2]!.trim() });
  }
  return out;
}

const stripDot = (p: string) => p.replace(/^\.\//, '');

/** Every file path in an `exports` value (strings, condition objects, arrays). */
function exportTargets(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) exportTargets(v, out);
  else if (value && typeof value === 'object')
    for (const v of Object.values(value)) exportTargets(v, out);
  return out;
}

/** package.json `bin`, `main`, `module` and `exports`. */
export function packageJsonEntries(text: string): EntryPoint[] {
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object') return [];
    doc = parsed as Record<string, unknown>;
  } catch {
    return [];
  }
  const out: EntryPoint[] = [];
  const name = typeof doc.name === 'string' ? doc.name : 'bin';
  if (typeof doc.bin === 'string') out.push({ kind: 'package_bin', name, file: stripDot(doc.bin) });
  else if (doc.bin && typeof doc.bin === 'object')
    for (const [k, v] of Object.entries(doc.bin))
      if (typeof v === 'string') out.push({ kind: 'package_bin', name: k, file: stripDot(v) });
  for (const key of ['main', 'module'] as const) {
    const v = doc[key];
    if (typeof v === 'string') out.push({ kind: 'package_main', name: key, file: stripDot(v) });
  }
  for (const target of new Set(exportTargets(doc.exports)))
    if (!target.includes('*'))
      out.push({ kind: 'package_main', name: 'exports', file: stripDot(target) });
  return out;
}

/** Words of a command: a JSON array (exec form) or a shell line split on blanks. */
function commandWords(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const arr: unknown = JSON.parse(trimmed);
      if (Array.isArray(arr)) return arr.map(String);
    } catch {
      // Not valid JSON: Docker runs it as a shell line too.
    }
  }
  return trimmed.split(/\s+/).filter(Boolean);
}

/**
 * What a command line runs, as project-relative candidates: script files (`python app/main.py`,
 * `node dist/cli.js`), modules (`python -m pkg.mod`, `celery -A pkg.app worker`, `gunicorn
 * pkg.wsgi:app`, `uvicorn pkg.api:app`).
 */
export function commandTargets(words: string[]): { files: string[]; modules: string[] } {
  const files: string[] = [];
  const modules: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!.replace(/^["']|["']$/g, '');
    const next = words[i + 1]?.replace(/^["']|["']$/g, '');
    if ((w === '-m' || w === '-A' || w === '--app') && next) {
      const mod = moduleOf(next);
      if (mod) modules.push(mod);
      i += 1;
    } else if (w.startsWith('--app=')) {
      const mod = moduleOf(w.slice(6));
      if (mod) modules.push(mod);
    } else if (/\.(py|js|mjs|cjs|ts)$/.test(w)) files.push(w);
    else if (/^[A-Za-z_][\w.]*:[A-Za-z_]\w*$/.test(w)) modules.push(moduleOf(w)!);
  }
  return { files, modules };
}

/** `CMD` and `ENTRYPOINT` of a Dockerfile, with `WORKDIR` applied to relative script paths. */
export function dockerfileEntries(text: string, name = 'Dockerfile'): EntryPoint[] {
  const out: EntryPoint[] = [];
  let workdir = '';
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = pending + raw.trim();
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1) + ' ';
      continue;
    }
    pending = '';
    const m = /^(WORKDIR|CMD|ENTRYPOINT)\s+(.*)$/i.exec(line);
    if (!m) continue;
    if (m[1]!.toUpperCase() === 'WORKDIR') {
      workdir = m[2]!.trim();
      continue;
    }
    const { files, modules } = commandTargets(commandWords(m[2]!));
    // `COPY . /app` + `WORKDIR /app` is the common layout: /app/main.py is the project's main.py.
    const inProject = (f: string) =>
      workdir && f.startsWith(workdir.replace(/\/$/, '') + '/')
        ? f.slice(workdir.replace(/\/$/, '').length + 1)
        : stripDot(f);
    const command = m[2]!.trim();
    for (const f of files) out.push({ kind: 'docker', name, file: inProject(f), command });
    for (const mod of modules) out.push({ kind: 'docker', name, module: mod, command });
  }
  return out;
}

/** `web: gunicorn app:server` lines of a Procfile. */
export function procfileEntries(text: string): EntryPoint[] {
  const out: EntryPoint[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^([\w-]+):\s*(.+)$/.exec(line.trim());
    if (!m) continue;
    const { files, modules } = commandTargets(commandWords(m[2]!));
    for (const f of files)
      out.push({ kind: 'procfile', name: m[1]!, file: stripDot(f), command: m[2]! });
    for (const mod of modules)
      out.push({ kind: 'procfile', name: m[1]!, module: mod, command: m[2]! });
  }
  return out;
}

/** Test files by the conventions of pytest, unittest, jest, vitest and mocha. */
export function isTestFile(rel: string): boolean {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  return (
    /^test_.*\.py$|_test\.py$|^conftest\.py$/.test(name) ||
    /\.(test|spec)\.[cm]?[jt]sx?$/.test(name) ||
    /(^|\/)(tests?|__tests__|testing)\//.test(rel)
  );
}
