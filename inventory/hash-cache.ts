import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, pragma, type Sqlite } from '../core/sqlite.js';

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

/**
 * The loaded rows of one folder: `[start, end)`, stored together, and `more` when the folder's
 * files were stored in several runs; `next` is the row the next lookup tries first; `names` maps
 * names to rows once a lookup missed it.
 */
interface Folder {
  start: number;
  end: number;
  next: number;
  more?: number[];
  names?: Map<string, number>;
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
  /** The rows this cache was loaded with, by folder. */
  private readonly folders = new Map<string, Folder>();
  /** The folder of the last lookup, which is most often the next one's. */
  private last: { dir?: string; folder?: Folder } = {};
  /** Per loaded row: size, mtime (ms), inode. */
  private readonly stats: Float64Array;
  private readonly hashes: string[] = [];
  /** Per loaded row, the path relative to its root, as stored, and where its name starts. */
  private readonly relPaths: string[] = [];
  private readonly nameStarts: number[] = [];
  /** Per loaded row: looked up by this scan (what was not, under its roots, is gone), or replaced. */
  private readonly state: Uint8Array;
  /** Loaded rows of each root: `roots[r]`'s are `[starts[r], starts[r + 1])`. */
  private readonly starts: number[] = [0];
  private seenCount = 0;
  /** What this scan hashed, by column: path; size, mtime, inode; hash. */
  private readonly fresh = { paths: [] as string[], stats: [] as number[], hashes: [] as string[] };

  private constructor(
    private readonly db: Sqlite | undefined,
    private readonly roots: string[],
  ) {
    const loaded: Float64Array[] = [];
    const read = db?.prepare('SELECT paths, stats, hashes FROM root_files_xxh3 WHERE root = ?');
    for (const root of roots) {
      const row = read?.get(root) as { paths: string; stats: Buffer; hashes: string } | undefined;
      const rows = row ? row.stats.byteLength / 24 : 0;
      if (rows > 0) {
        const prefix = root === '/' ? '/' : `${root}/`;
        const paths = row!.paths.split('\0');
        let folder: Folder | undefined;
        let folderRel = '';
        let folderSlash = 0;
        for (let i = 0; i < rows; i++) {
          const rel = paths[i]!;
          const slash = rel.lastIndexOf('/');
          const g = this.hashes.length + i;
          // A new folder unless this file's is the previous file's, compared without a copy.
          if (!folder || slash !== folderSlash || !rel.startsWith(folderRel)) {
            folderRel = slash < 0 ? '' : rel.slice(0, slash);
            folderSlash = slash;
            const dir = slash < 0 ? root : prefix + folderRel;
            const seen = this.folders.get(dir);
            if (seen) (seen.more ??= []).push(g);
            folder = seen ?? { start: g, end: g + 1, next: g };
            if (!seen) this.folders.set(dir, folder);
          } else if (folder.more) folder.more.push(g);
          else folder.end = g + 1;
          this.relPaths.push(rel);
          this.nameStarts.push(slash + 1);
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
    const db = openSqlite(file);
    pragma(db, 'journal_mode = WAL').get();
    // Earlier versions: JSON rows (roots) and SHA-256 hashes (root_files), which must not be
    // compared with XXH3 ones; a first scan refills the cache.
    db.exec(`DROP TABLE IF EXISTS roots;
      DROP TABLE IF EXISTS root_files;
      CREATE TABLE IF NOT EXISTS root_files_xxh3
        (root TEXT PRIMARY KEY, paths TEXT NOT NULL, stats BLOB NOT NULL, hashes TEXT NOT NULL)`);
    return new HashCache(db, roots);
  }

  /**
   * Row of file `name` in folder `dir`. A walk of an unchanged folder lists its files in the
   * order they were stored, so the next row is tried first; a Map of the folder's names is built
   * only when that fails.
   */
  private row(dir: string, name: string): number | undefined {
    if (dir !== this.last.dir) this.last = { dir, folder: this.folders.get(dir) };
    const f = this.last.folder;
    if (!f) return undefined;
    if (f.next < f.end) {
      const rel = this.relPaths[f.next]!;
      if (rel.length - this.nameStarts[f.next]! === name.length && rel.endsWith(name))
        return f.next++;
    }
    if (!f.names) {
      f.names = new Map();
      for (let i = f.start; i < f.end; i++)
        f.names.set(this.relPaths[i]!.slice(this.nameStarts[i]), i);
      for (const i of f.more ?? []) f.names.set(this.relPaths[i]!.slice(this.nameStarts[i]), i);
    }
    return f.names.get(name);
  }

  /**
   * What the cache knows of file `name` in folder `dir`, marked as seen by this scan; its hash
   * holds while a stat shows the same size, mtime and inode (see `holds`).
   */
  lookup(dir: string, name: string): Cached | undefined {
    const i = this.row(dir, name);
    if (i === undefined) return undefined;
    if (this.state[i] === UNSEEN) {
      this.state[i] = SEEN;
      this.seenCount += 1;
    }
    const s = this.stats;
    return { size: s[i * 3]!, mtimeMs: s[i * 3 + 1]!, ino: s[i * 3 + 2]!, hash: this.hashes[i]! };
  }

  set(path: string, size: number, mtimeMs: number, ino: number, hash: string): void {
    if (this.folders.size > 0) {
      const slash = path.lastIndexOf('/');
      const i = this.row(path.slice(0, slash) || '/', path.slice(slash + 1));
      if (i !== undefined) this.state[i] = REPLACED;
    }
    this.fresh.paths.push(path);
    this.fresh.stats.push(size, mtimeMs, ino);
    this.fresh.hashes.push(hash);
  }

  /**
   * Writes the roots whose files changed: what this scan hashed, and what it found unchanged.
   * Files it did not see (deleted, now ignored) are left out, so the cache does not grow with
   * every file that ever existed.
   */
  save(): void {
    const db = this.db;
    // An unchanged re-scan: every file seen, none hashed, nothing to write.
    const fresh = this.fresh;
    if (!db || (fresh.paths.length === 0 && this.seenCount === this.hashes.length)) return;
    const write = db.prepare(
      'INSERT OR REPLACE INTO root_files_xxh3 (root, paths, stats, hashes) VALUES (?, ?, ?, ?)',
    );
    this.roots.forEach((root, r) => {
      const prefix = root === '/' ? '/' : `${root}/`;
      const paths: string[] = [];
      const stats: number[] = [];
      const hashes: string[] = [];
      let dirty = false;
      // Index loops and columns: this runs once per scan, before the JIT has optimised anything,
      // where destructuring a tuple per file cost more than the rest of the save.
      for (let i = this.starts[r]!; i < this.starts[r + 1]!; i++) {
        if (this.state[i] !== SEEN) {
          dirty = true;
          continue;
        }
        paths.push(this.relPaths[i]!);
        stats.push(this.stats[i * 3]!, this.stats[i * 3 + 1]!, this.stats[i * 3 + 2]!);
        hashes.push(this.hashes[i]!);
      }
      for (let i = 0; i < fresh.paths.length; i++) {
        const path = fresh.paths[i]!;
        if (!path.startsWith(prefix)) continue;
        paths.push(path.slice(prefix.length));
        stats.push(fresh.stats[i * 3]!, fresh.stats[i * 3 + 1]!, fresh.stats[i * 3 + 2]!);
        hashes.push(fresh.hashes[i]!);
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
