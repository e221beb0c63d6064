import { openSqlite, pragma, type Sqlite, type SqliteStatement } from '../../core/sqlite.js';

/** What this gateway knows of an alarm key's work order. */
export interface OrderRecord {
  key: string;
  /** Atlas id; undefined while no order is known (never created, or a create in doubt). */
  id?: number;
  customId?: string;
  assetId?: number;
  /** False once this gateway completed it. */
  open: boolean;
  /** Times the alarm came back while the order was open, plus the first. */
  occurrences: number;
  /**
   * When a create for this key was sent and no answer has been handled yet, ms since the epoch.
   * Survives a kill -9, so the next attempt reconciles by search instead of posting again.
   */
  createSentAt?: number;
}

interface Row {
  key: string;
  id: number | null;
  custom_id: string | null;
  asset_id: number | null;
  open: number;
  occurrences: number;
  create_sent_at: number | null;
}

/**
 * Alarm key → work order, in a table beside the outbox (same SQLite file, own connection).
 * Opened with core/sqlite.ts's `openSqlite`, so neither the database nor its statements are
 * ever garbage-collected (better-sqlite3 12 aborts Node 24 when they are).
 */
export class OrderStore {
  private readonly db: Sqlite;
  private readonly select: SqliteStatement;
  private readonly upsert: SqliteStatement;
  private readonly selectAll: SqliteStatement;

  constructor(path: string) {
    this.db = openSqlite(path);
    pragma(this.db, 'journal_mode = WAL').get();
    pragma(this.db, 'synchronous = FULL').run();
    // Another connection (the outbox) may hold the write lock for a moment.
    pragma(this.db, 'busy_timeout = 5000').get();
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS work_orders (key TEXT PRIMARY KEY, id INTEGER, custom_id TEXT,
        asset_id INTEGER, open INTEGER NOT NULL, occurrences INTEGER NOT NULL, create_sent_at INTEGER)`,
    );
    this.select = this.db.prepare('SELECT * FROM work_orders WHERE key = ?');
    this.selectAll = this.db.prepare('SELECT * FROM work_orders ORDER BY key');
    this.upsert = this.db.prepare(
      `INSERT OR REPLACE INTO work_orders (key, id, custom_id, asset_id, open, occurrences, create_sent_at)
       VALUES (@key, @id, @custom_id, @asset_id, @open, @occurrences, @create_sent_at)`,
    );
  }

  get(key: string): OrderRecord | undefined {
    const row = this.select.get(key) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  all(): OrderRecord[] {
    return (this.selectAll.all() as Row[]).map(fromRow);
  }

  /** Writes the whole record (committed, fsynced, when this returns). */
  put(record: OrderRecord): void {
    this.upsert.run({
      key: record.key,
      id: record.id ?? null,
      custom_id: record.customId ?? null,
      asset_id: record.assetId ?? null,
      open: record.open ? 1 : 0,
      occurrences: record.occurrences,
      create_sent_at: record.createSentAt ?? null,
    });
  }

  close(): void {
    this.db.close();
  }
}

function fromRow(row: Row): OrderRecord {
  return {
    key: row.key,
    ...(row.id !== null ? { id: row.id } : {}),
    ...(row.custom_id !== null ? { customId: row.custom_id } : {}),
    ...(row.asset_id !== null ? { assetId: row.asset_id } : {}),
    open: row.open === 1,
    occurrences: row.occurrences,
    ...(row.create_sent_at !== null ? { createSentAt: row.create_sent_at } : {}),
  };
}
