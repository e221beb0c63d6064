import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export interface Cached {
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
  /** Looked up by this scan; what was not, under its roots, is gone. */
  seen?: boolean;
}

/** Whether a cached hash still describes the file with this stat. */
export function holds(c: Cached, size: number, mtimeMs: number, ino: number): boolean {
  return c.size === size && c.mtimeMs === mtimeMs && c.ino === ino;
}

/** One file of a root's cache: path relative to the root, size, mtime (ms), inode, hash. */
type Row = [string, number, number, number, string];

/**
 * Content hashes of files by path, trusted while size, mtime and inode are unchanged (the rule
 * rsync and git's index use): an unchanged re-scan stats every file but reads none. Each root's
 * files are one JSON row, read whole at open and written whole when anything under the root
 * changed: a SQLite row per file made loading and saving 100,000 files cost more than the
 * stats a re-scan cannot avoid.
 */
export class HashCache {
  private readonly entries = new Map<string, Cached>();
  private readonly changed = new Map<string, Cached>();
  private seenCount = 0;

  private constructor(
    private readonly db: Database.Database | undefined,
    private readonly roots: string[],
  ) {
    if (!db) return;
    const read = db.prepare('SELECT files FROM roots WHERE root = ?').pluck();
    for (const root of roots) {
      const text = read.get(root) as string | undefined;
      if (!text) continue;
      const prefix = root === '/' ? '/' : `${root}/`;
      for (const [rel, size, mtimeMs, ino, hash] of JSON.parse(text) as Row[])
        this.entries.set(prefix + rel, { size, mtimeMs, ino, hash });
    }
  }

  /**
   * The cache of `roots` (absolute real paths) in a SQLite file, created with its folder;
   * `file` undefined = no cache at all.
   */
  static open(file: string | undefined, roots: string[]): HashCache {
    if (!file) return new HashCache(undefined, roots);
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS roots (root TEXT PRIMARY KEY, files TEXT NOT NULL)');
    return new HashCache(db, roots);
  }

  /**
   * What the cache knows of this path, marked as seen by this scan; its hash holds while a stat
   * shows the same size, mtime and inode (see `holds`).
   */
  lookup(path: string): Cached | undefined {
    const c = this.entries.get(path);
    if (c && !c.seen) {
      c.seen = true;
      this.seenCount += 1;
    }
    return c;
  }

  set(path: string, size: number, mtimeMs: number, ino: number, hash: string): void {
    this.changed.set(path, { size, mtimeMs, ino, hash });
  }

  /**
   * Writes the roots whose files changed: what this scan hashed, and what it found unchanged.
   * Files it did not see (deleted, now ignored) are left out, so the cache does not grow with
   * every file that ever existed.
   */
  save(): void {
    const db = this.db;
    // An unchanged re-scan: every file seen, none hashed, nothing to write.
    if (!db || (this.changed.size === 0 && this.seenCount === this.entries.size)) return;
    const write = db.prepare('INSERT OR REPLACE INTO roots (root, files) VALUES (?, ?)');
    for (const root of this.roots) {
      const prefix = root === '/' ? '/' : `${root}/`;
      const rows: Row[] = [];
      let dirty = false;
      for (const [path, c] of this.entries) {
        if (!path.startsWith(prefix) || this.changed.has(path)) continue;
        if (c.seen) rows.push([path.slice(prefix.length), c.size, c.mtimeMs, c.ino, c.hash]);
        else dirty = true;
      }
      for (const [path, c] of this.changed) {
        if (!path.startsWith(prefix)) continue;
        rows.push([path.slice(prefix.length), c.size, c.mtimeMs, c.ino, c.hash]);
        dirty = true;
      }
      if (dirty) write.run(root, JSON.stringify(rows));
    }
  }

  close(): void {
    this.db?.close();
  }
}
