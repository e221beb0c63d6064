import Database from 'better-sqlite3';

export type Sqlite = Database.Database;
export type SqliteStatement = Database.Statement;

/**
 * better-sqlite3 12.x aborts a Node 24 process (`Assertion failed: (env) != nullptr` in
 * node::RemoveEnvironmentCleanupHook) when V8 garbage-collects one of its Statement or Database
 * objects (WiseLibs/better-sqlite3#1515; 13.x needs Node 22, and this project runs on Node 20).
 * So none is ever collected: a database opened here, and every statement prepared on it, is held
 * until the process exits. Prepare statements once per open, never per call, or this grows.
 */
const held: object[] = [];

/** Opens a database whose statements are never garbage-collected (see above). */
export function openSqlite(path: string, options?: Database.Options): Sqlite {
  const db = new Database(path, options);
  held.push(db);
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const statement = prepare(source);
    held.push(statement);
    return statement;
  }) as Sqlite['prepare'];
  return db;
}

/** `PRAGMA <source>` as a held statement: `db.pragma` prepares a new one per call and drops it. */
export function pragma(db: Sqlite, source: string): SqliteStatement {
  return db.prepare(`PRAGMA ${source}`);
}
