import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, type Dirent } from 'node:fs';
import { errorMessage } from '../core/errors.js';
import { codeLanguageOf } from './code/facts.js';
import { isScript, isSecretFile, languageOf, projectKindOf } from './file-kinds.js';
import {
  IGNORE_FILE,
  ignoredByDefault,
  ignoredByRules,
  parseIgnore,
  VIRTUALENV_MARKER,
  type IgnoreRule,
  type IgnoreRules,
} from './ignore.js';
import type { Cached, HashCache } from './hash-cache.js';
import { HASH_HEX, type HashBatch, type HashPool } from './hash-pool.js';
import { NODE_LOCKFILES } from './manifests.js';
import type { FileEntry, InventoryReport, Project } from './report.js';

export interface WalkOptions {
  /** Files larger than this are counted and listed with their size, never read, bytes. */
  maxFileBytes: number;
  /** Patterns (`.factorylmignore` syntax) applied below every root. */
  ignore: IgnoreRule[];
  cache: HashCache;
  pool: HashPool;
}

type Kind = Project['kinds'][number];

/** A project while its files are being walked. */
export interface ProjectDraft {
  path: string;
  kinds: Set<Kind>;
  /** A loose script folder owns its own files only; its sub-folders are looked at on their own. */
  scriptsOnly: boolean;
  entries: FileEntry[];
  languages: Record<string, { files: number; bytes: number }>;
  files: number;
  bytes: number;
  tooLarge: number;
  unreadable: string[];
  secrets: string[];
  modifiedAt: number;
  /** Manifest texts at the project's top (pyproject.toml, setup.py, requirements*.txt, package.json). */
  manifests: Map<string, string>;
  lockfile?: string;
}

export type WalkStats = InventoryReport['stats'];

/** A file waiting for the pool. */
interface Pending {
  project: ProjectDraft;
  path: string;
  cached: Cached | undefined;
}

/** Manifests above this size are not parsed (a generated requirements file can be huge). */
const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_IGNORE_FILE_BYTES = 64 * 1024;
/** Files per batch sent to a hashing worker; few enough to spread, many enough to amortise. */
const BATCH_FILES = 128;
/** Batches in flight: keeps every worker busy while bounding the paths held in memory. */
const MAX_INFLIGHT = 8;

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? errorMessage(err);

/**
 * Walks folders without following any symbolic link (so never out of a root, and never into a
 * loop), finds the projects in them, and hashes each project's files. Everything that fails is
 * counted where it happened; nothing stops the walk.
 */
export class TreeWalker {
  readonly drafts: ProjectDraft[] = [];
  readonly stats: WalkStats = {
    files: 0,
    bytes: 0,
    hashed: 0,
    cached: 0,
    tooLarge: 0,
    unreadable: 0,
    ignored: 0,
    symlinks: 0,
    outsideProjects: 0,
  };
  /** Content hashes of code files (by extension) that hold NUL bytes: not worth parsing. */
  readonly binary = new Set<string>();
  private batch: Pending[] = [];
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly options: WalkOptions) {}

  async walk(root: string): Promise<void> {
    const sets: IgnoreRules[] = this.options.ignore.length
      ? [{ base: root, rules: this.options.ignore }]
      : [];
    await this.visit(root, undefined, sets);
  }

  /** Waits for the last hashes; call once after every root was walked. */
  async finish(): Promise<void> {
    this.dispatch();
    await Promise.all(this.inflight);
  }

  private async visit(
    dir: string,
    owner: ProjectDraft | undefined,
    inherited: IgnoreRules[],
  ): Promise<void> {
    let dirents: Dirent[];
    try {
      dirents = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      this.unreadable(owner, dir, errorCode(err));
      return;
    }
    if (dirents.some((d) => d.name === VIRTUALENV_MARKER && d.isFile())) {
      this.stats.ignored += 1;
      return;
    }
    const project = this.projectOf(dir, dirents, owner);
    const sets = this.ignoreRules(dir, dirents, inherited);
    // A loose script folder's sub-folders are not part of it.
    const childOwner = project?.scriptsOnly ? undefined : project;
    const prefix = dir === '/' ? '' : dir;
    for (const d of dirents) {
      const path = `${prefix}/${d.name}`;
      if (d.isDirectory()) {
        if (ignoredByDefault(d.name, true) || ignoredByRules(sets, path, true))
          this.stats.ignored += 1;
        else await this.visit(path, childOwner, sets);
      } else if (d.isSymbolicLink()) {
        this.stats.symlinks += 1;
      } else if (ignoredByDefault(d.name, false) || ignoredByRules(sets, path, false)) {
        this.stats.ignored += 1;
      } else if (!project) {
        this.stats.outsideProjects += 1;
      } else if (d.isFile()) {
        await this.file(project, dir, path, d.name);
      } else {
        // FIFOs, sockets and devices: opening one could block or have side effects.
        this.count(project, path, 0, 0);
        this.unreadable(project, path, 'not a regular file');
      }
    }
  }

  private projectOf(
    dir: string,
    dirents: Dirent[],
    owner: ProjectDraft | undefined,
  ): ProjectDraft | undefined {
    const kinds = new Set<Kind>();
    for (const d of dirents) {
      const kind = projectKindOf(d.name, d.isDirectory());
      if (kind) kinds.add(kind);
    }
    const scripts =
      kinds.size === 0 && !owner && dirents.some((d) => d.isFile() && isScript(d.name));
    if (kinds.size === 0 && !scripts) return owner;
    if (scripts) kinds.add('scripts');
    const draft: ProjectDraft = {
      path: dir,
      kinds,
      scriptsOnly: scripts,
      entries: [],
      languages: {},
      files: 0,
      bytes: 0,
      tooLarge: 0,
      unreadable: [],
      secrets: [],
      modifiedAt: 0,
      manifests: new Map(),
      lockfile: NODE_LOCKFILES.find((l) => dirents.some((d) => d.name === l && d.isFile())),
    };
    this.drafts.push(draft);
    return draft;
  }

  private ignoreRules(dir: string, dirents: Dirent[], inherited: IgnoreRules[]): IgnoreRules[] {
    if (!dirents.some((d) => d.name === IGNORE_FILE && d.isFile())) return inherited;
    const file = `${dir}/${IGNORE_FILE}`;
    try {
      if (lstatSync(file).size > MAX_IGNORE_FILE_BYTES) return inherited;
      return [...inherited, { base: dir, rules: parseIgnore(readFileSync(file, 'utf8')) }];
    } catch {
      return inherited;
    }
  }

  private count(project: ProjectDraft, path: string, size: number, mtimeMs: number): string {
    if (mtimeMs > project.modifiedAt) project.modifiedAt = mtimeMs;
    const rel = path.slice(project.path.length + 1);
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    const lang = languageOf(name);
    const l = (project.languages[lang] ??= { files: 0, bytes: 0 });
    l.files += 1;
    l.bytes += size;
    project.files += 1;
    project.bytes += size;
    this.stats.files += 1;
    this.stats.bytes += size;
    return rel;
  }

  private unreadable(project: ProjectDraft | undefined, path: string, reason: string): void {
    this.stats.unreadable += 1;
    if (project) project.unreadable.push(`${path.slice(project.path.length + 1)}: ${reason}`);
  }

  /**
   * A regular file, for the hashing workers, which stat it (and when the cache knows it and it
   * is unchanged, only that), so this thread's time goes to the walk alone.
   */
  private async file(project: ProjectDraft, dir: string, path: string, name: string) {
    if (isSecretFile(name)) return this.secret(project, path);
    if (dir === project.path && projectKindOf(name, false)) {
      const size = lstatSync(path, { throwIfNoEntry: false })?.size ?? Infinity;
      if (size <= MAX_MANIFEST_BYTES) project.manifests.set(name, readFileSync(path, 'utf8'));
    }
    this.batch.push({ project, path, cached: this.options.cache.lookup(dir, name) });
    if (this.batch.length >= BATCH_FILES) {
      this.dispatch();
      if (this.inflight.size >= MAX_INFLIGHT) await Promise.race(this.inflight);
    }
  }

  /** Listed by name and size, never opened: not even a hash of it leaves the node. */
  private secret(project: ProjectDraft, path: string): void {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return this.unreadable(project, path, 'vanished during the scan');
    const rel = this.count(project, path, st.size, st.mtimeMs);
    project.secrets.push(rel);
    project.entries.push([rel, 'secret', st.size]);
  }

  /** Sends the batch to the pool; the answers land in their projects and the cache. */
  private dispatch(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const known = new Float64Array(batch.length * 3).fill(NaN);
    batch.forEach(({ cached: c }, i) => c && known.set([c.size, c.mtimeMs, c.ino], i * 3));
    const done = this.options.pool
      .hash(
        batch.map((b) => b.path),
        known,
        this.options.maxFileBytes,
      )
      .then((answer) => batch.forEach((b, i) => this.settle(b, answer, i)));
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done)).catch(() => undefined);
  }

  private settle({ project, path, cached }: Pending, batch: HashBatch, i: number) {
    const { stats, hashes, errors } = batch;
    const size = stats[i * 3]!;
    if (Number.isNaN(size))
      return this.unreadable(project, path, errors[i] ?? 'vanished during the scan');
    const mtimeMs = stats[i * 3 + 1]!;
    const rel = this.count(project, path, size, mtimeMs);
    if (batch.held[i]) {
      project.entries.push([rel, cached!.hash, size]);
      this.stats.cached += 1;
      return;
    }
    if (errors[i] !== undefined) return this.unreadable(project, path, errors[i]);
    if (size > this.options.maxFileBytes) {
      this.stats.tooLarge += 1;
      project.tooLarge += 1;
      project.entries.push([rel, `size:${size}`, size]);
      return;
    }
    const hash = hashes.slice(i * HASH_HEX, (i + 1) * HASH_HEX);
    if (batch.binary[i] && codeLanguageOf(rel)) this.binary.add(hash);
    project.entries.push([rel, hash, size]);
    this.stats.hashed += 1;
    this.options.cache.set(path, size, mtimeMs, stats[i * 3 + 2]!, hash);
  }
}

/** `sha256("<hash> <path>\n"…)` over the entries sorted by path: equal for equal folders. */
export function fingerprint(entries: FileEntry[]): string {
  const h = createHash('sha256');
  const sorted = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [path, hash] of sorted) h.update(`${hash} ${path}\n`);
  return h.digest('hex').slice(0, HASH_HEX);
}
