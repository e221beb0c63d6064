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

/** States of a loaded row. */
const UNSEEN = 0;
const SEEN = 1;
const REPLACED = 2;

/**
 * Content hashes of files by path, trusted while size, mtime and inode are unchanged (the rule
 * rsync and git's index use): an unchanged re-scan stats every file but reads none. Each root's
 * files are one row of three columns, read whole at open and written whole when anything under
 * the root changed: the paths (relative to the root) joined by NUL, which no path holds; their
 * size, mtime and inode as one float64 array; their hashes joined by newlines. A SQLite row per
 * file, and then a JSON array per root, made loading and saving 100,000 files cost more than the
 * stats a re-scan cannot avoid; splitting three strings and copying one array does not.
 */
export class HashCache {
  /** Row of each path this cache was loaded with. */
  private readonly index = new Map<string, number>();
  /** Per loaded row: size, mtime (ms), inode. */
  private readonly stats: Float64Array;
  private readonly hashes: string[] = [];
  /** Per loaded row, the path relative to its root, as stored. */
  private readonly relPaths: string[] = [];
  /** Per loaded row: looked up by this scan (what was not, under its roots, is gone), or replaced. */
  private readonly state: Uint8Array;
  /** Loaded rows of each root: `roots[r]`'s are `[starts[r], starts[r + 1])`. */
  private readonly starts: number[] = [0];
  private seenCount = 0;
  /** What this scan hashed: path, size, mtime, inode, hash. */
  private readonly fresh: [string, number, number, number, string][] = [];

  private constructor(
    private readonly db: Database.Database | undefined,
    private readonly roots: string[],
  ) {
    const loaded: Float64Array[] = [];
    const read = db?.prepare('SELECT paths, stats, hashes FROM root_files WHERE root = ?');
    for (const root of roots) {
      const row = read?.get(root) as { paths: string; stats: Buffer; hashes: string } | undefined;
      const rows = row ? row.stats.byteLength / 24 : 0;
      if (rows > 0) {
        const prefix = root === '/' ? '/' : `${root}/`;
        const paths = row!.paths.split('\0');
        for (let i = 0; i < rows; i++) {
          this.index.set(prefix + paths[i], this.hashes.length + i);
          this.relPaths.push(paths[i]!);
        }
        for (const hash of row!.hashes.split('\n')) this.hashes.push(hash);
        // A copy: the blob's buffer need not be aligned for a Float64Array view.
        const stats = new Float64Array(rows * 3);
        new Uint8Array(stats.buffer).set(row!.stats);
        loaded.push(stats);
      }
      this.starts.push(this.hashes.length);
    }
    this.stats = new Float64Array(this.hashes.length * 3);
    let offset = 0;
    for (const stats of loaded) {
      this.stats.set(stats, offset);
      offset += stats.length;
    }
    this.state = new Uint8Array(this.hashes.length);
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
    // The JSON rows of earlier versions: this format replaces them; a first scan refills it.
    db.exec(`DROP TABLE IF EXISTS roots;
      CREATE TABLE IF NOT EXISTS root_files
        (root TEXT PRIMARY KEY, paths TEXT NOT NULL, stats BLOB NOT NULL, hashes TEXT NOT NULL)`);
    return new HashCache(db, roots);
  }

  /**
   * What the cache knows of this path, marked as seen by this scan; its hash holds while a stat
   * shows the same size, mtime and inode (see `holds`).
   */
  lookup(path: string): Cached | undefined {
    const i = this.index.get(path);
    if (i === undefined) return undefined;
    if (this.state[i] === UNSEEN) {
      this.state[i] = SEEN;
      this.seenCount += 1;
    }
    const s = this.stats;
    return { size: s[i * 3]!, mtimeMs: s[i * 3 + 1]!, ino: s[i * 3 + 2]!, hash: this.hashes[i]! };
  }

  set(path: string, size: number, mtimeMs: number, ino: number, hash: string): void {
    const i = this.index.get(path);
    if (i !== undefined) this.state[i] = REPLACED;
    this.fresh.push([path, size, mtimeMs, ino, hash]);
  }

  /**
   * Writes the roots whose files changed: what this scan hashed, and what it found unchanged.
   * Files it did not see (deleted, now ignored) are left out, so the cache does not grow with
   * every file that ever existed.
   */
  save(): void {
    const db = this.db;
    // An unchanged re-scan: every file seen, none hashed, nothing to write.
    if (!db || (this.fresh.length === 0 && this.seenCount === this.hashes.length)) return;
    const write = db.prepare(
      'INSERT OR REPLACE INTO root_files (root, paths, stats, hashes) VALUES (?, ?, ?, ?)',
    );
    this.roots.forEach((root, r) => {
      const prefix = root === '/' ? '/' : `${root}/`;
      const paths: string[] = [];
      const stats: number[] = [];
      const hashes: string[] = [];
      let dirty = false;
      for (let i = this.starts[r]!; i < this.starts[r + 1]!; i++) {
        if (this.state[i] !== SEEN) {
          dirty = true;
          continue;
        }
        paths.push(this.relPaths[i]!);
        stats.push(this.stats[i * 3]!, this.stats[i * 3 + 1]!, this.stats[i * 3 + 2]!);
        hashes.push(this.hashes[i]!);
      }
      for (const [path, size, mtimeMs, ino, hash] of this.fresh) {
        if (!path.startsWith(prefix)) continue;
        paths.push(path.slice(prefix.length));
        stats.push(size, mtimeMs, ino);
        hashes.push(hash);
        dirty = true;
      }
      if (dirty) {
        const blob = Buffer.from(new Float64Array(stats).buffer);
        write.run(root, paths.join('\0'), blob, hashes.join('\n'));
      }
    });
  }

  close(): void {
    this.db?.close();
  }
}
