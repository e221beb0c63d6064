import { builtinModules } from 'node:module';
import type { ImportFact } from './facts.js';
import { PYTHON_STDLIB } from './python-stdlib.js';

/** A code file of one node, as the resolver sees it. */
export interface ResolverFile {
  /** Absolute path on its node. */
  path: string;
  /** Index of its project in the node's project list. */
  project: number;
  python: boolean;
}

export interface ResolverProject {
  path: string;
  /** Package name (package.json) for bare JS specifiers. */
  packageName?: string;
  /** Declared dependencies (requirements, pyproject, setup.py, package.json), lower case. */
  dependencies: string[];
  /** package.json main/exports/bin files, relative to the project. */
  mains: string[];
}

export type Resolution =
  | { to: number }
  | { stdlib: true }
  | { builtin: true }
  | { installed: string }
  | { unresolved: string };

const dirOf = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf('/'))) || '/';
const IDENT = /^[A-Za-z_]\w*$/;

/**
 * Distributions whose import name is not their name: the ones plant Python code uses most
 * (`pip install python-telegram-bot` → `import telegram`). Others: lower case, `-` → `_`.
 */
const IMPORT_NAMES: Record<string, string[]> = {
  'python-telegram-bot': ['telegram'],
  pyyaml: ['yaml'],
  beautifulsoup4: ['bs4'],
  pillow: ['PIL'],
  'scikit-learn': ['sklearn'],
  'opencv-python': ['cv2'],
  'opencv-python-headless': ['cv2'],
  'python-dotenv': ['dotenv'],
  'paho-mqtt': ['paho'],
  pyserial: ['serial'],
  'python-dateutil': ['dateutil'],
  pycryptodome: ['Crypto'],
  'google-cloud-storage': ['google'],
  protobuf: ['google'],
  opcua: ['opcua'],
  asyncua: ['asyncua'],
  'psycopg2-binary': ['psycopg2'],
  'influxdb-client': ['influxdb_client'],
};

function importNames(dist: string): string[] {
  return IMPORT_NAMES[dist] ?? [dist.replace(/-/g, '_')];
}

const JS_EXTENSIONS = ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.jsx', '.mts', '.cts', '.json'];
const NODE_BUILTINS = new Set(builtinModules);

/** Joins a POSIX base folder and a relative path, resolving `.` and `..`. */
export function joinPath(base: string, rel: string): string {
  const parts = base.split('/');
  for (const seg of rel.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 1) parts.pop();
    } else parts.push(seg);
  }
  return parts.join('/') || '/';
}

/**
 * Resolves imports the way Python and Node would on the node the files live on, against the
 * files the scan found there: Python modules through package chains (`__init__.py`), the
 * project root and a `src/` folder; JS/TS relative paths with the extensions and index files
 * bundlers and TypeScript try, and bare names through other projects' package names. What no
 * file provides is the standard library, a Node built-in, a declared dependency, or unresolved.
 */
export class ModuleResolver {
  private readonly byPath = new Map<string, number>();
  private readonly modules = new Map<string, number[]>();
  private readonly packages = new Map<string, number>();

  constructor(
    private readonly files: ResolverFile[],
    private readonly projects: ResolverProject[],
  ) {
    files.forEach((f, i) => this.byPath.set(f.path, i));
    const packageDirs = new Set(
      files.filter((f) => f.path.endsWith('/__init__.py')).map((f) => dirOf(f.path)),
    );
    files.forEach((f, i) => {
      if (!f.python) return;
      const names = new Set<string | undefined>();
      // The folder above the topmost package is on sys.path when the package is importable.
      let root = dirOf(f.path);
      while (packageDirs.has(root) && root !== '/') root = dirOf(root);
      names.add(moduleName(f.path, root));
      const project = projects[f.project]!.path;
      names.add(moduleName(f.path, project));
      if (f.path.startsWith(`${project}/src/`)) names.add(moduleName(f.path, `${project}/src`));
      for (const n of names) {
        if (n === undefined || n === '') continue;
        const list = this.modules.get(n);
        if (list) list.push(i);
        else this.modules.set(n, [i]);
      }
    });
    projects.forEach((p, i) => p.packageName && this.packages.set(p.packageName, i));
  }

  /** Where the import `imp` of file `from` leads. */
  resolve(from: number, imp: ImportFact): Resolution {
    const file = this.files[from]!;
    return file.python ? this.python(file, imp) : this.script(file, imp);
  }

  /** A Python module by dotted name: files of the importing project first, then the node's. */
  module(name: string, preferProject?: number): number | undefined {
    const list = this.modules.get(name);
    if (!list) return undefined;
    return list.find((i) => this.files[i]!.project === preferProject) ?? list[0];
  }

  private python(file: ResolverFile, imp: ImportFact): Resolution {
    const names = (imp.names ?? []).filter((n) => n !== '*');
    if (imp.level) {
      let base = dirOf(file.path);
      for (let l = 1; l < imp.level; l++) base = dirOf(base);
      const dir = imp.spec ? `${base}/${imp.spec.replace(/\./g, '/')}` : base;
      const candidates = [
        ...names.flatMap((n) => [`${dir}/${n}.py`, `${dir}/${n}/__init__.py`]),
        `${dir}.py`,
        `${dir}/__init__.py`,
      ];
      for (const c of candidates) {
        const hit = this.byPath.get(c);
        if (hit !== undefined) return { to: hit };
      }
      return { unresolved: `${'.'.repeat(imp.level)}${imp.spec}: no such module next to the file` };
    }
    // `from a.b import c` may import module a.b.c or name c of a.b; `import a.b.c` module a.b.c.
    const tried = [...names.map((n) => `${imp.spec}.${n}`), imp.spec];
    const parts = imp.spec.split('.');
    for (let n = parts.length - 1; n >= 1; n--) tried.push(parts.slice(0, n).join('.'));
    for (const name of tried) {
      const hit = this.module(name, file.project);
      if (hit !== undefined) return { to: hit };
    }
    const top = parts[0]!;
    if (PYTHON_STDLIB.has(top)) return { stdlib: true };
    const dist = this.projects[file.project]!.dependencies.find((d) =>
      importNames(d).some((n) => n.toLowerCase() === top.toLowerCase()),
    );
    if (dist) return { installed: dist };
    return { unresolved: `${imp.spec}: no scanned file, standard module or declared dependency` };
  }

  private script(file: ResolverFile, imp: ImportFact): Resolution {
    const spec = imp.spec;
    if (spec.startsWith('.') || spec.startsWith('/')) {
      const base = spec.startsWith('/') ? spec : joinPath(dirOf(file.path), spec);
      const swapped = base.replace(/\.(m|c)?js$/, (_, m: string | undefined) => `.${m ?? ''}ts`);
      const candidates = [
        base,
        swapped,
        swapped.replace(/\.ts$/, '.tsx'),
        ...JS_EXTENSIONS.map((e) => base + e),
        ...JS_EXTENSIONS.map((e) => `${base}/index${e}`),
      ];
      for (const c of candidates) {
        const hit = this.byPath.get(c);
        if (hit !== undefined) return { to: hit };
      }
      return { unresolved: `${spec}: no such file` };
    }
    const bare = spec.replace(/^node:/, '');
    if (spec.startsWith('node:') || NODE_BUILTINS.has(bare.split('/')[0]!))
      return { builtin: true };
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    const project = this.packages.get(name);
    if (project !== undefined && project !== file.project) {
      const p = this.projects[project]!;
      const sub = spec.slice(name.length).replace(/^\//, '');
      const candidates = sub
        ? [sub, ...JS_EXTENSIONS.map((e) => sub + e)]
        : [...p.mains, 'index.js', 'index.ts', 'src/index.ts', 'src/index.js'];
      for (const c of candidates) {
        const hit = this.byPath.get(`${p.path}/${c.replace(/^\.\//, '')}`);
        if (hit !== undefined) return { to: hit };
      }
    }
    if (this.projects[file.project]!.dependencies.includes(name.toLowerCase()))
      return { installed: name };
    return { unresolved: `${spec}: not a file, built-in, scanned package or declared dependency` };
  }
}

/** `/a/b/pkg/mod.py` under `/a/b` → `pkg.mod`; a package's `__init__.py` is the package. */
export function moduleName(path: string, root: string): string | undefined {
  if (!path.startsWith(root + '/')) return undefined;
  const parts = path
    .slice(root.length + 1)
    .replace(/\.py$/, '')
    .split('/');
  if (parts[parts.length - 1] === '__init__') parts.pop();
  if (parts.length === 0 || !parts.every((p) => IDENT.test(p))) return undefined;
  return parts.join('.');
}
