import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, pragma, type Sqlite, type SqliteStatement } from '../../core/sqlite.js';
import type { SampleValue, ShelveInfo } from './types.js';

/** What survives a restart of one alarm instance (asset × rule). */
export interface StoredAlarm {
  key: string;
  site: string;
  area: string;
  line: string;
  asset: string;
  rule: string;
  /** Condition as last evaluated, and since when (engine clock, epoch ms): timers resume from it. */
  cond: boolean;
  condSince: number;
  /** Debounced: the condition held through the on-delay and has not cleared through the off-delay. */
  active: boolean;
  /** A raised event was emitted for the current activation (not shelved or suppressed). */
  announced: boolean;
  acked: boolean;
  occurrences: number;
  /** Source time of the newest sample evaluated: older ones (history) are not evaluated again. */
  lastTs: number;
  lastValue: SampleValue;
  raisedAt: number | null;
  shelved: ShelveInfo | null;
  /** Times of recent activations, for chatter. */
  activations: number[];
  /** A suppressed event was sent and its unsuppressed is still owed. */
  suppressNotified: boolean;
  text: string;
  /** Epoch ms of the latest change. */
  ts: number;
}

/** Which node (and device) an asset's tags come from, learned from samples. */
export interface StoredAsset {
  site: string;
  asset: string;
  node?: string;
  device?: string;
}

/**
 * Alarm states in SQLite, so an active alarm stays active across a gateway restart (no second
 * raised event) and its timers resume. One row per alarm, written on transitions, never per
 * sample. Opened through openSqlite (core/sqlite.ts): its statements must never be collected.
 */
export class AlarmStateStore {
  private readonly db: Sqlite;
  private readonly upsert: SqliteStatement;
  private readonly remove: SqliteStatement;
  private readonly all: SqliteStatement;
  private readonly upsertAsset: SqliteStatement;
  private readonly allAssets: SqliteStatement;
  private readonly saveBatch: (alarms: StoredAlarm[], assets: StoredAsset[]) => void;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = openSqlite(path);
    pragma(this.db, 'journal_mode = WAL').get();
    // NORMAL in WAL mode survives a killed process; a power cut may lose the last transitions.
    pragma(this.db, 'synchronous = NORMAL').run();
    this.db.exec(`CREATE TABLE IF NOT EXISTS alarms (
        key TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS alarm_assets (
        site TEXT NOT NULL, asset TEXT NOT NULL, node TEXT, device TEXT,
        PRIMARY KEY (site, asset))`);
    this.upsert = this.db.prepare(
      `INSERT INTO alarms (key, body, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
    );
    this.remove = this.db.prepare('DELETE FROM alarms WHERE key = ?');
    this.all = this.db.prepare('SELECT body FROM alarms ORDER BY key');
    this.upsertAsset = this.db.prepare(
      `INSERT INTO alarm_assets (site, asset, node, device) VALUES (?, ?, ?, ?)
       ON CONFLICT (site, asset) DO UPDATE SET node = excluded.node, device = excluded.device`,
    );
    this.allAssets = this.db.prepare('SELECT site, asset, node, device FROM alarm_assets');
    this.saveBatch = this.db.transaction((alarms: StoredAlarm[], assets: StoredAsset[]) => {
      for (const a of alarms) this.upsert.run(a.key, JSON.stringify(a), a.ts);
      for (const a of assets)
        this.upsertAsset.run(a.site, a.asset, a.node ?? null, a.device ?? null);
    });
  }

  /** Every stored alarm; a row that does not parse is skipped and returned in `bad`. */
  load(): { alarms: StoredAlarm[]; bad: string[] } {
    const alarms: StoredAlarm[] = [];
    const bad: string[] = [];
    for (const row of this.all.all() as { body: string }[]) {
      try {
        const a = JSON.parse(row.body) as StoredAlarm;
        if (typeof a.key !== 'string' || typeof a.rule !== 'string') throw new Error('no key');
        alarms.push(a);
      } catch {
        bad.push(row.body.slice(0, 80));
      }
    }
    return { alarms, bad };
  }

  loadAssets(): StoredAsset[] {
    return (
      this.allAssets.all() as {
        site: string;
        asset: string;
        node: string | null;
        device: string | null;
      }[]
    ).map((r) => ({
      site: r.site,
      asset: r.asset,
      ...(r.node !== null ? { node: r.node } : {}),
      ...(r.device !== null ? { device: r.device } : {}),
    }));
  }

  /** Writes alarms and asset mappings in one transaction. */
  save(alarms: StoredAlarm[], assets: StoredAsset[] = []): void {
    if (alarms.length > 0 || assets.length > 0) this.saveBatch(alarms, assets);
  }

  delete(key: string): void {
    this.remove.run(key);
  }

  close(): void {
    this.db.close();
  }
}
