import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

interface Cached {
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
  /** Looked up by this scan; the rest under its roots is gone. */
  seen?: boolean;
}

/**
 * Content hashes of files by path, trusted while size, mtime and inode are unchanged (the rule
 * rsync and git's index use): an unchanged re-scan stats every file but reads none. The whole
 * table is loaded at open and written back in one transaction, since one SQLite lookup per
 * file would cost more than the stat it saves.
 */
export class HashCache {
  private readonly entries = new Map<string, Cached>();
  private readonly changed = new Map<string, Cached>();

  private constructor(private readonly db: Database.Database | undefined) {
    if (!db) return;
    // all() rather than iterate(): one call into SQLite instead of one per row.
    const rows = db.prepare('SELECT path, size, mtime_ms, ino, hash FROM files').raw().all() as [
      string,
      number,
      number,
      number,
      string,
    ][];
    for (const [path, size, mtimeMs, ino, hash] of rows)
      this.entries.set(path, { size, mtimeMs, ino, hash });
  }

  /** A cache in a SQLite file (created with its folder); `undefined` = no cache at all. */
  static open(file: string | undefined): HashCache {
    if (!file) return new HashCache(undefined);
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec(
      `CREATE TABLE IF NOT EXISTS files (
         path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL,
         ino INTEGER NOT NULL, hash TEXT NOT NULL) WITHOUT ROWID`,
    );
    return new HashCache(db);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached hash when the file looks unchanged. */
  get(path: string, size: number, mtimeMs: number, ino: number): string | undefined {
    const c = this.entries.get(path);
    if (c) c.seen = true;
    return c && c.size === size && c.mtimeMs === mtimeMs && c.ino === ino ? c.hash : undefined;
  }

  set(path: string, size: number, mtimeMs: number, ino: number, hash: string): void {
    this.changed.set(path, { size, mtimeMs, ino, hash });
  }

  /**
   * Writes new hashes and forgets files under `roots` that this scan did not see (deleted or now
   * ignored), so the cache does not grow with every file that ever existed.
   */
  save(roots: string[]): void {
    const db = this.db;
    if (!db) return;
    const under = (p: string) =>
      roots.some((r) => p === r || p.startsWith(r.endsWith('/') ? r : r + '/'));
    const gone: string[] = [];
    for (const [p, c] of this.entries)
      if (!c.seen && !this.changed.has(p) && under(p)) gone.push(p);
    if (this.changed.size === 0 && gone.length === 0) return;
    const upsert = db.prepare(
      'INSERT OR REPLACE INTO files (path, size, mtime_ms, ino, hash) VALUES (?, ?, ?, ?, ?)',
    );
    const remove = db.prepare('DELETE FROM files WHERE path = ?');
    db.transaction(() => {
      for (const [p, c] of this.changed) upsert.run(p, c.size, c.mtimeMs, c.ino, c.hash);
      for (const p of gone) remove.run(p);
    })();
    for (const [p, c] of this.changed) this.entries.set(p, { ...c, seen: true });
    for (const p of gone) this.entries.delete(p);
    this.changed.clear();
  }

  close(): void {
    this.db?.close();
  }
}
