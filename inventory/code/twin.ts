import { pickSource, type ProjectView } from '../fleet-view.js';
import type { InventoryReport } from '../report.js';
import { DEFAULT_CLONE_OPTIONS, findClones, type CloneOptions, type CloneType } from './clones.js';
import {
  buildCodeGraph,
  FILE_CLASSES,
  type CodeFile,
  type FileClass,
  type Unresolved,
} from './graph.js';

export interface CloneMemberView {
  file: string;
  project: string;
  path: string;
  /** `12-40` for a function, `1-120` (the whole file) for a file. */
  lines: string;
  function?: string;
  class: FileClass;
}

export interface CloneGroupView {
  level: 'file' | 'function';
  type: CloneType;
  similarity: number;
  tokens: number;
  members: CloneMemberView[];
  /** The member the others were most likely copied from, and why. */
  source: string;
  why: string;
  /** Members in more than one project. */
  crossProject: boolean;
  /** Some member's project imports another member's file. */
  imported: boolean;
}

/** One line of "Copied, not imported". */
export interface CopiedRow {
  copy: string;
  lines: string;
  function?: string;
  source: string;
  type: CloneType;
  similarity: number;
  action: string;
}

/** One line of "Dead code". */
export interface DeadRow {
  file: string;
  project: string;
  path: string;
  lines: number;
  action: 'DELETE' | 'REVIEW';
  reason: string;
}

export interface ProjectNode {
  id: string;
  name: string;
  node: string;
  files: number;
  lines: number;
  /**
   * The best class any of its code files has (production before library, experimental, test,
   * dead): a project is only dead when all of it is. `empty` without code files.
   */
  class: FileClass | 'empty';
  classes: Record<FileClass, number>;
  usage: ProjectView['usage'];
}

export interface ProjectEdge {
  from: string;
  to: string;
  /** Resolved imports from files of `from` to files of `to`. */
  imports: number;
  /** Clone groups with members in both, copied without an import between them. */
  copies: number;
}

/** The code part of the twin: graph, classes, clones and what to do about them. */
export interface CodeTwin {
  options: CloneOptions;
  summary: {
    files: number;
    lines: number;
    edges: number;
    unresolved: number;
    unparsed: number;
    cloneGroups: number;
    copiedNotImported: number;
    deadFiles: number;
    deadLines: number;
    classes: Record<FileClass, number>;
  };
  files: CodeFile[];
  /** `[from, to, kind, line]`, file indexes into `files`. */
  edges: [number, number, string, number][];
  unresolved: Unresolved[];
  unparsed: { file: string; error: string }[];
  external: Record<string, { stdlib: number; builtin: number; installed: Record<string, number> }>;
  clones: CloneGroupView[];
  copied: CopiedRow[];
  dead: DeadRow[];
  graph: { projects: ProjectNode[]; edges: ProjectEdge[] };
}

const CLASS_RANK: Record<FileClass, number> = {
  production: 0,
  library: 1,
  experimental: 2,
  test: 3,
  dead: 4,
};

const zeroClasses = () =>
  Object.fromEntries(FILE_CLASSES.map((c) => [c, 0])) as Record<FileClass, number>;

/** Graph, clone groups, "Copied, not imported" and "Dead code" for the audit. */
export function codeTwin(
  reports: InventoryReport[],
  views: ProjectView[],
  options: Partial<CloneOptions> = {},
): CodeTwin | undefined {
  if (!reports.some((r) => r.code)) return undefined;
  const opts = { ...DEFAULT_CLONE_OPTIONS, ...options };
  const graph = buildCodeGraph(reports);
  const files = graph.files;
  const viewOf = new Map(views.map((v) => [v.id, v]));
  const factsOf = new Map<string, InventoryReport['code']>();
  for (const r of reports) if (r.code) factsOf.set(r.node.name, r.code);
  const inputs = files.flatMap((f, i) => {
    const facts = factsOf.get(f.node)?.facts[f.hash];
    return facts && !facts.error?.startsWith('binary') ? [{ file: i, facts }] : [];
  });

  // Imports between projects, for "is any member imported" and the project graph.
  const importPairs = new Map<string, number>();
  for (const e of graph.edges) {
    const a = files[e.from]!.project;
    const b = files[e.to]!.project;
    if (a !== b) importPairs.set(`${a}\n${b}`, (importPairs.get(`${a}\n${b}`) ?? 0) + 1);
  }
  const importedFiles = new Map<number, Set<string>>();
  for (const e of graph.edges) {
    const set = importedFiles.get(e.to) ?? new Set();
    set.add(files[e.from]!.project);
    importedFiles.set(e.to, set);
  }

  const clones: CloneGroupView[] = [];
  const copied: CopiedRow[] = [];
  const copyPairs = new Map<string, number>();
  const groups = findClones(inputs, opts);
  // A file copied whole is listed once, as a file, not again for each of its functions.
  const wholeCopies = new Set(
    groups.filter((g) => g.level === 'file').flatMap((g) => g.members.map((m) => m.file)),
  );
  for (const g of groups) {
    const members = g.members.map((m) => {
      const f = files[m.file]!;
      return {
        file: f.id,
        project: f.project,
        path: f.path,
        lines: m.line !== undefined ? `${m.line}-${m.endLine}` : `1-${f.lines}`,
        ...(m.function !== undefined ? { function: m.function } : {}),
        class: f.class,
        index: m.file,
      };
    });
    const projects = [...new Set(members.map((m) => m.project))];
    // Source: the best class first (what production runs), then the project rules of pickSource.
    const best = Math.min(...members.map((m) => CLASS_RANK[m.class]));
    const finalists = members.filter((m) => CLASS_RANK[m.class] === best);
    const candidates = [...new Set(finalists.map((m) => m.project))]
      .map((p) => viewOf.get(p))
      .filter((v): v is ProjectView => v !== undefined);
    const pick = candidates.length ? pickSource(candidates) : undefined;
    const source =
      finalists.find((m) => m.project === pick?.source.id) ?? finalists[0] ?? members[0]!;
    const why =
      best <= 1 && finalists.length < members.length
        ? `${source.class}: ${files[source.index]!.why}`
        : (pick?.why ?? 'first by location');
    const imported = members.some((m) =>
      [...(importedFiles.get(m.index) ?? [])].some((p) => p !== m.project && projects.includes(p)),
    );
    const crossProject = projects.length > 1;
    clones.push({
      level: g.level,
      type: g.type,
      similarity: g.similarity,
      tokens: g.tokens,
      members: members.map(({ index: _index, ...m }) => m),
      source: source.file,
      why,
      crossProject,
      imported,
    });
    if (!crossProject || imported) continue;
    for (const m of members) {
      if (m.project === source.project) continue;
      if (g.level === 'function' && wholeCopies.has(m.index)) continue;
      const key = `${m.project}\n${source.project}`;
      copyPairs.set(key, (copyPairs.get(key) ?? 0) + 1);
      copied.push({
        copy: m.file,
        lines: m.lines,
        ...(m.function !== undefined ? { function: m.function } : {}),
        source: source.file,
        type: g.type,
        similarity: g.similarity,
        action:
          m.class === 'production'
            ? `import it from ${source.project} instead (runs in production: change, test, then delete the copy)`
            : `delete the copy; import it from ${source.project} where it is needed`,
      });
    }
  }

  const dead: DeadRow[] = files
    .filter((f) => f.class === 'dead')
    .map((f) => {
      const view = viewOf.get(f.project);
      const busy = view && (view.dirty > 0 || view.ahead > 0);
      return {
        file: f.id,
        project: f.project,
        path: f.path,
        lines: f.lines,
        action: busy ? ('REVIEW' as const) : ('DELETE' as const),
        reason: busy
          ? `nothing imports or runs it, but ${view.id} has uncommitted or unpushed work`
          : f.error
            ? `nothing imports or runs it (${f.error})`
            : 'nothing imports or runs it',
      };
    })
    .sort((a, b) => b.lines - a.lines || (a.file < b.file ? -1 : 1));

  const projectNodes = new Map<string, ProjectNode>();
  for (const v of views)
    projectNodes.set(v.id, {
      id: v.id,
      name: v.name,
      node: v.node,
      files: 0,
      lines: 0,
      class: 'empty',
      classes: zeroClasses(),
      usage: v.usage,
    });
  const classes = zeroClasses();
  let lines = 0;
  for (const f of files) {
    const p = projectNodes.get(f.project);
    classes[f.class] += 1;
    lines += f.lines;
    if (!p) continue;
    p.files += 1;
    p.lines += f.lines;
    p.classes[f.class] += 1;
    if (p.class === 'empty' || CLASS_RANK[f.class] < CLASS_RANK[p.class]) p.class = f.class;
  }
  const projectEdges = new Map<string, ProjectEdge>();
  const edgeOf = (key: string) => {
    const [from, to] = key.split('\n') as [string, string];
    return (
      projectEdges.get(key) ?? projectEdges.set(key, { from, to, imports: 0, copies: 0 }).get(key)!
    );
  };
  for (const [key, n] of importPairs) edgeOf(key).imports += n;
  for (const [key, n] of copyPairs) edgeOf(key).copies += n;

  return {
    options: opts,
    summary: {
      files: files.length,
      lines,
      edges: graph.edges.length,
      unresolved: graph.unresolved.length,
      unparsed: files.filter((f) => f.error).length,
      cloneGroups: clones.length,
      copiedNotImported: copied.length,
      deadFiles: dead.length,
      deadLines: dead.reduce((s, d) => s + d.lines, 0),
      classes,
    },
    files,
    edges: graph.edges.map((e) => [e.from, e.to, e.kind, e.line]),
    unresolved: graph.unresolved,
    unparsed: files.filter((f) => f.error).map((f) => ({ file: f.id, error: f.error! })),
    external: graph.external,
    clones,
    copied,
    dead,
    graph: { projects: [...projectNodes.values()], edges: [...projectEdges.values()] },
  };
}
