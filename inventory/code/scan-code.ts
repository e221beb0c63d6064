import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import { openSqlite, pragma, type Sqlite } from '../../core/sqlite.js';
import type { FileEntry } from '../report.js';
import {
  dockerfileEntries,
  packageJsonEntries,
  procfileEntries,
  pyprojectScripts,
  setupPyScripts,
} from './entry-points.js';
import { codeFactsSchema, codeLanguageOf, type CodeFacts, type EntryPoint } from './facts.js';
import { CodeParsers, DEFAULT_CLONE_PARAMS, type CloneParams } from './parse.js';

/**
 * Bumped whenever what `CodeParsers.analyze` returns for the same text changes (grammar,
 * tokens, parameters), so cached facts of an older analyser are never mixed with new ones.
 */
const ANALYZER_VERSION = 1;

/** Files over this are listed as not parsed: generated bundles, not code anyone maintains. */
export const MAX_PARSE_BYTES = 1024 * 1024;

/** Analysis results by content hash, in the scan's cache file: a re-scan parses changed files only. */
export class FactsCache {
  private readonly fresh = new Map<string, string>();
  private constructor(private readonly db: Sqlite | undefined) {}

  static open(file: string | undefined): FactsCache {
    if (!file) return new FactsCache(undefined);
    mkdirSync(dirname(file), { recursive: true });
    const db = openSqlite(file);
    pragma(db, 'journal_mode = WAL').get();
    db.exec(`CREATE TABLE IF NOT EXISTS code_facts (key TEXT PRIMARY KEY, facts TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS binary_hashes (hash TEXT PRIMARY KEY)`);
    return new FactsCache(db);
  }

  /**
   * Content hashes known to be binary. Loaded whole in one query: a tree of binary files named
   * .py (the benchmark's) would otherwise cost one lookup per file on every re-scan.
   */
  binaryHashes(): Set<string> {
    const rows = this.db?.prepare('SELECT hash FROM binary_hashes').pluck().all() as
      string[] | undefined;
    return new Set(rows ?? []);
  }

  addBinary(hashes: Iterable<string>): void {
    if (!this.db) return;
    const put = this.db.prepare('INSERT OR IGNORE INTO binary_hashes (hash) VALUES (?)');
    this.db.transaction(() => {
      for (const h of hashes) put.run(h);
    })();
  }

  /** Keys are `<analyser version>:<lang>:<params>:<content hash>`. */
  getMany(keys: string[]): Map<string, CodeFacts> {
    const out = new Map<string, CodeFacts>();
    if (!this.db || keys.length === 0) return out;
    const get = this.db.prepare('SELECT facts FROM code_facts WHERE key = ?');
    for (const key of keys) {
      const row = get.get(key) as { facts: string } | undefined;
      if (!row) continue;
      const parsed = codeFactsSchema.safeParse(JSON.parse(row.facts));
      if (parsed.success) out.set(key, parsed.data);
    }
    return out;
  }

  set(key: string, facts: CodeFacts): void {
    this.fresh.set(key, JSON.stringify(facts));
  }

  save(): void {
    if (!this.db || this.fresh.size === 0) return;
    const put = this.db.prepare('INSERT OR REPLACE INTO code_facts (key, facts) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const [k, v] of this.fresh) put.run(k, v);
    })();
  }

  close(): void {
    this.db?.close();
  }
}

const EMPTY = { lines: 0, tokens: 0, imports: [], functions: [], fp: '' };

export interface CodeProjectInput {
  path: string;
  entries: FileEntry[];
  manifests: Map<string, string>;
}

export interface CodeScan {
  /** Facts by content hash, one per distinct code file content. */
  facts: Record<string, CodeFacts>;
  /** Entry points each project declares, by project path. */
  entryPoints: Map<string, EntryPoint[]>;
  stats: { codeFiles: number; analyzed: number; cached: number; unparsed: number };
}

/** Declared entry points of one project, from manifest texts and top-level Dockerfile/Procfile. */
export function declaredEntryPoints(project: CodeProjectInput): EntryPoint[] {
  const m = project.manifests;
  const out: EntryPoint[] = [];
  if (m.has('pyproject.toml')) out.push(...pyprojectScripts(m.get('pyproject.toml')!));
  if (m.has('setup.py')) out.push(...setupPyScripts(m.get('setup.py')!));
  if (m.has('package.json')) out.push(...packageJsonEntries(m.get('package.json')!));
  for (const [rel] of project.entries) {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    const docker = name === 'Dockerfile' || name.endsWith('.Dockerfile');
    if (!docker && !(name === 'Procfile' && rel === name)) continue;
    let text: string;
    try {
      text = readFileSync(`${project.path}/${rel}`, 'utf8');
    } catch {
      continue;
    }
    out.push(...(docker ? dockerfileEntries(text, rel) : procfileEntries(text)));
  }
  return out;
}

/**
 * Parses every code file the scan hashed (each distinct content once), taking what the cache
 * already knows. A file that does not parse is kept with the reason; nothing here throws for a
 * file. `binary` holds content hashes the hashing workers saw NUL bytes in: never read again.
 */
export async function scanCode(
  projects: CodeProjectInput[],
  options: { cacheFile?: string; binary: Set<string>; params?: CloneParams },
): Promise<CodeScan> {
  const params = options.params ?? DEFAULT_CLONE_PARAMS;
  const tag = `${ANALYZER_VERSION}:${params.k}.${params.w}.${params.minFunctionTokens}`;
  const wanted = new Map<string, { key: string; path: string; size: number }>();
  const stats = { codeFiles: 0, analyzed: 0, cached: 0, unparsed: 0 };
  const facts: Record<string, CodeFacts> = {};
  const cache = FactsCache.open(options.cacheFile);
  const knownBinary = cache.binaryHashes();
  const freshBinary = [...options.binary].filter((h) => !knownBinary.has(h));
  const binary = (h: string) => options.binary.has(h) || knownBinary.has(h);
  for (const p of projects)
    for (const [rel, hash, size] of p.entries) {
      const lang = codeLanguageOf(rel);
      if (!lang || hash === 'secret' || hash.startsWith('size:')) continue;
      stats.codeFiles += 1;
      if (wanted.has(hash) || facts[hash]) continue;
      if (binary(hash)) facts[hash] = { ...EMPTY, lang, error: 'binary' };
      else if (size > MAX_PARSE_BYTES)
        facts[hash] = { ...EMPTY, lang, error: `over ${MAX_PARSE_BYTES / 1024 / 1024} MiB` };
      else wanted.set(hash, { key: `${tag}:${lang}:${hash}`, path: `${p.path}/${rel}`, size });
    }
  try {
    cache.addBinary(freshBinary);
    const known = cache.getMany([...wanted.values()].map((w) => w.key));
    let parsers: CodeParsers | undefined;
    for (const [hash, w] of wanted) {
      const hit = known.get(w.key);
      if (hit) {
        facts[hash] = hit;
        stats.cached += 1;
        continue;
      }
      const lang = codeLanguageOf(w.path)!;
      let text: string;
      try {
        text = readFileSync(w.path, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
        facts[hash] = { ...EMPTY, lang, error: `unreadable: ${code}` };
        continue;
      }
      parsers ??= await CodeParsers.load(params);
      const f = parsers.analyze(text, lang);
      facts[hash] = f;
      stats.analyzed += 1;
      cache.set(w.key, f);
    }
    cache.save();
  } finally {
    cache.close();
  }
  for (const f of Object.values(facts)) if (f.error) stats.unparsed += 1;
  const entryPoints = new Map(projects.map((p) => [p.path, declaredEntryPoints(p)]));
  return { facts, entryPoints, stats };
}
