import type { InventoryReport } from '../report.js';
import { commandTargets, isTestFile } from './entry-points.js';
import type { CodeFacts, ImportFact } from './facts.js';
import { ModuleResolver, type ResolverFile } from './resolve.js';

/**
 * production: reachable from an entry point a running unit or container uses; library: reachable
 * from another project; experimental: reachable only from entry points nothing runs; test: a
 * test file, or reachable only from tests; dead: none of these.
 */
export const FILE_CLASSES = ['production', 'library', 'experimental', 'test', 'dead'] as const;
export type FileClass = (typeof FILE_CLASSES)[number];

export interface CodeFile {
  /** `<node>:<absolute path>`. */
  id: string;
  node: string;
  /** Project id, `<node>:<project path>`. */
  project: string;
  /** Path relative to its project. */
  path: string;
  lang: CodeFacts['lang'];
  lines: number;
  class: FileClass;
  /** Why it has its class: the entry point or importer that reaches it first. */
  why: string;
  hash: string;
  error?: string;
}

/** A resolved import between two scanned files (indexes into `files`). */
export interface ImportEdge {
  from: number;
  to: number;
  kind: ImportFact['kind'] | 'package';
  line: number;
}

export interface Unresolved {
  file: string;
  line: number;
  spec: string;
  reason: string;
}

export interface CodeGraph {
  files: CodeFile[];
  edges: ImportEdge[];
  unresolved: Unresolved[];
  /** Imports per project of the standard library, Node built-ins and declared dependencies. */
  external: Record<string, { stdlib: number; builtin: number; installed: Record<string, number> }>;
}

const RUNNING = new Set(['active', 'running', 'reloading', 'activating']);

interface Root {
  file: number;
  why: string;
  cls: 'production' | 'experimental' | 'test';
}

/** Builds one node's part of the graph; files are appended to `out`. */
function nodeGraph(r: InventoryReport, facts: Record<string, CodeFacts>, out: CodeGraph): void {
  const node = r.node.name;
  const offset = out.files.length;
  const rfiles: ResolverFile[] = [];
  const factsOf: CodeFacts[] = [];
  r.projects.forEach((p, pi) => {
    for (const [rel, hash] of p.entries) {
      const f = facts[hash];
      if (!f) continue;
      rfiles.push({ path: `${p.path}/${rel}`, project: pi, python: f.lang === 'python' });
      factsOf.push(f);
      out.files.push({
        id: `${node}:${p.path}/${rel}`,
        node,
        project: `${node}:${p.path}`,
        path: rel,
        lang: f.lang,
        lines: f.lines,
        class: 'dead',
        why: 'nothing imports or runs it',
        hash,
        ...(f.error ? { error: f.error } : {}),
      });
    }
  });
  const projects = r.projects.map((p) => ({
    path: p.path,
    ...(p.kinds.includes('node') ? { packageName: p.name } : {}),
    dependencies: [...(p.python?.dependencies ?? []), ...(p.node?.dependencies ?? [])].map((d) =>
      d.toLowerCase(),
    ),
    mains: (p.code?.entryPoints ?? []).filter((e) => e.file).map((e) => e.file!),
  }));
  const resolver = new ModuleResolver(rfiles, projects);
  const byPath = new Map(rfiles.map((f, i) => [f.path, i]));
  const edges: ImportEdge[] = [];
  rfiles.forEach((f, i) => {
    const projectId = `${node}:${projects[f.project]!.path}`;
    const ext = (out.external[projectId] ??= { stdlib: 0, builtin: 0, installed: {} });
    for (const imp of factsOf[i]!.imports) {
      const res = resolver.resolve(i, imp);
      if ('to' in res) {
        if (res.to !== i) edges.push({ from: i, to: res.to, kind: imp.kind, line: imp.line });
      } else if ('stdlib' in res) ext.stdlib += 1;
      else if ('builtin' in res) ext.builtin += 1;
      else if ('installed' in res)
        ext.installed[res.installed] = (ext.installed[res.installed] ?? 0) + 1;
      else
        out.unresolved.push({
          file: out.files[offset + i]!.id,
          line: imp.line,
          spec: imp.spec,
          reason: res.unresolved,
        });
    }
    // Importing pkg.mod runs pkg/__init__.py first.
    if (f.python) {
      const init = `${f.path.slice(0, f.path.lastIndexOf('/'))}/__init__.py`;
      const j = byPath.get(init);
      if (j !== undefined && j !== i) edges.push({ from: i, to: j, kind: 'package', line: 1 });
    }
  });

  // Entry points: units and containers that run something here, declared ones, tests, scripts.
  const roots: Root[] = [];
  const fileAt = (abs: string) => byPath.get(abs);
  for (const s of r.services) {
    const words = (s.execStart ?? '').split(/\s+/).filter(Boolean);
    const { files, modules } = commandTargets(words);
    const cls = RUNNING.has(s.state) ? 'production' : 'experimental';
    const why = `${s.name} (${s.state})`;
    const base = s.workingDirectory ?? (s.project ? s.project : '/');
    for (const f of files) {
      const hit = fileAt(f.startsWith('/') ? f : `${base}/${f.replace(/^\.\//, '')}`);
      if (hit !== undefined) roots.push({ file: hit, why, cls });
    }
    const prefer = r.projects.findIndex((p) => p.path === s.project);
    for (const m of modules) {
      const hit = resolver.module(m, prefer >= 0 ? prefer : undefined);
      if (hit !== undefined) roots.push({ file: hit, why, cls });
    }
  }
  r.projects.forEach((p, pi) => {
    const running = r.containers.filter((c) => c.project === p.path);
    for (const e of p.code?.entryPoints ?? []) {
      const live = e.kind === 'docker' && running.find((c) => RUNNING.has(c.state));
      const cls = live ? 'production' : 'experimental';
      const why = live ? `container ${live.name} (${live.state})` : `${e.kind} ${e.name}`;
      const hit = e.file
        ? fileAt(`${p.path}/${e.file}`)
        : e.module
          ? resolver.module(e.module, pi)
          : undefined;
      if (hit !== undefined) roots.push({ file: hit, why, cls });
    }
  });
  rfiles.forEach((f, i) => {
    const file = out.files[offset + i]!;
    if (isTestFile(file.path)) roots.push({ file: i, why: 'test file', cls: 'test' });
    else if (factsOf[i]!.main)
      roots.push({ file: i, why: 'script (__main__)', cls: 'experimental' });
  });

  const adj: number[][] = rfiles.map(() => []);
  for (const e of edges) adj[e.from]!.push(e.to);
  const cls: (FileClass | undefined)[] = new Array(rfiles.length);
  const why: string[] = new Array(rfiles.length);
  const spread = (starts: { file: number; why: string }[], c: FileClass) => {
    const queue: number[] = [];
    for (const s of starts)
      if (cls[s.file] === undefined) {
        cls[s.file] = c;
        why[s.file] = s.why;
        queue.push(s.file);
      }
    for (let q = 0; q < queue.length; q++) {
      const from = queue[q]!;
      for (const to of adj[from]!)
        if (cls[to] === undefined) {
          cls[to] = c;
          why[to] = `imported by ${out.files[offset + from]!.path}`;
          queue.push(to);
        }
    }
  };
  spread(
    roots.filter((x) => x.cls === 'production'),
    'production',
  );
  spread(
    edges
      .filter((e) => rfiles[e.from]!.project !== rfiles[e.to]!.project)
      .map((e) => ({
        file: e.to,
        why: `imported by ${projects[rfiles[e.from]!.project]!.path}/${out.files[offset + e.from]!.path}`,
      })),
    'library',
  );
  spread(
    roots.filter((x) => x.cls === 'experimental'),
    'experimental',
  );
  spread(
    roots.filter((x) => x.cls === 'test'),
    'test',
  );
  cls.forEach((c, i) => {
    if (c === undefined) return;
    out.files[offset + i]!.class = c;
    out.files[offset + i]!.why = why[i]!;
  });
  for (const e of edges) out.edges.push({ ...e, from: e.from + offset, to: e.to + offset });
}

/** The import graph of every node's code files (imports never cross nodes). */
export function buildCodeGraph(reports: InventoryReport[]): CodeGraph {
  const out: CodeGraph = { files: [], edges: [], unresolved: [], external: {} };
  for (const r of reports) if (r.code) nodeGraph(r, r.code.facts, out);
  return out;
}
