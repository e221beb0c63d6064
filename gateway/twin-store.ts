import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openSqlite, pragma, type Sqlite, type SqliteStatement } from '../core/sqlite.js';
import { audit, type AuditResult } from '../inventory/audit.js';
import type { Fleet } from '../inventory/fleet.js';
import type { InventoryReport } from '../inventory/report.js';
import { decodeReport, isGzip } from '../inventory/transport.js';

export interface TwinStoreOptions {
  /** SQLite file; `:memory:` is lost on restart. */
  path: string;
  /** Reports kept per node, newest first; older ones are deleted. */
  historyPerNode: number;
  /** Desired state the drift is measured against. */
  fleet?: Fleet;
  /** Near-duplicate bar, 0–1. */
  forkThreshold: number;
}

/** One stored report, without its body. */
export interface HistoryRow {
  id: number;
  node: string;
  site: string;
  receivedAt: number;
  scannedAt: number;
  projects: number;
  files: number;
  bytes: number;
}

export type ReceiveResult =
  { ok: true; stored: boolean } | { ok: false; reason: string; detail: string };

/**
 * The fleet twin's memory: every node's inventory reports, latest and history, in SQLite
 * (gzip-compressed bodies), and the audit of the latest ones, recomputed only when a report
 * arrives. The same report delivered twice (a retained message read again after a reconnect)
 * is stored once.
 */
export class TwinStore {
  private readonly db: Sqlite;
  private readonly latest = new Map<string, { id: number; report: InventoryReport }>();
  private view?: AuditResult;
  private readonly insert: SqliteStatement;
  private readonly prune: SqliteStatement;
  private readonly lastDigest: SqliteStatement;
  private readonly historyAll: SqliteStatement;
  private readonly historyOfNode: SqliteStatement;
  private readonly reportById: SqliteStatement;

  constructor(private readonly options: TwinStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = openSqlite(options.path);
    pragma(this.db, 'journal_mode = WAL').get();
    this.db.exec(`CREATE TABLE IF NOT EXISTS reports (
      id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, site TEXT NOT NULL,
      received_at INTEGER NOT NULL, scanned_at INTEGER NOT NULL, digest TEXT NOT NULL,
      projects INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
      body BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS reports_by_node ON reports (node, id)`);
    this.insert = this.db.prepare(
      `INSERT INTO reports (node, site, received_at, scanned_at, digest, projects, files, bytes, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.prune = this.db.prepare(
      `DELETE FROM reports WHERE node = ? AND id NOT IN
         (SELECT id FROM reports WHERE node = ? ORDER BY id DESC LIMIT ?)`,
    );
    this.lastDigest = this.db.prepare(
      'SELECT digest FROM reports WHERE node = ? ORDER BY id DESC LIMIT 1',
    );
    const history = (where: string) =>
      this.db.prepare(`SELECT id, node, site, received_at AS receivedAt, scanned_at AS scannedAt,
        projects, files, bytes FROM reports ${where} ORDER BY id DESC`);
    this.historyAll = history('');
    this.historyOfNode = history('WHERE node = ?');
    this.reportById = this.db.prepare('SELECT body FROM reports WHERE id = ?');
    const rows = this.db
      .prepare(
        `SELECT id, body FROM reports WHERE id IN (SELECT MAX(id) FROM reports GROUP BY node)`,
      )
      .all() as { id: number; body: Buffer }[];
    for (const row of rows) {
      const decoded = decodeReport(row.body);
      // Written by us after validation; a report that no longer validates (a schema change) is
      // left out of the twin until the node publishes again.
      if (decoded.ok)
        this.latest.set(decoded.value.node.name, { id: row.id, report: decoded.value });
    }
  }

  /**
   * A payload from `factorylm/<site>/_nodes/<node>/inventory`. The topic's node must be the
   * report's: the broker's ACL vouches for the topic, not for what a payload claims.
   */
  receive(site: string, node: string, payload: Buffer, now = Date.now()): ReceiveResult {
    const decoded = decodeReport(payload);
    if (!decoded.ok) return decoded;
    const report = decoded.value;
    if (report.node.name !== node)
      return {
        ok: false,
        reason: 'node-mismatch',
        detail: `report of node "${report.node.name}" on the topic of node "${node}"`,
      };
    const digest = createHash('sha256').update(payload).digest('hex');
    const last = this.lastDigest.get(node) as { digest: string } | undefined;
    if (last?.digest === digest) return { ok: true, stored: false };
    const files = report.projects.reduce((s, p) => s + p.files, 0);
    const bytes = report.projects.reduce((s, p) => s + p.bytes, 0);
    const body = isGzip(payload) ? payload : gzipSync(payload);
    const id = this.db.transaction(() => {
      const info = this.insert.run(
        node,
        site,
        now,
        report.scannedAt,
        digest,
        report.projects.length,
        files,
        bytes,
        body,
      );
      this.prune.run(node, node, this.options.historyPerNode);
      return Number(info.lastInsertRowid);
    })();
    this.latest.set(node, { id, report });
    this.view = undefined;
    return { ok: true, stored: true };
  }

  /** The latest report of every node. */
  reports(): InventoryReport[] {
    return [...this.latest.values()].map((l) => l.report);
  }

  /** The audit of the latest reports (cached until the next report). */
  twin(): AuditResult {
    this.view ??= audit(this.reports(), {
      forkThreshold: this.options.forkThreshold,
      ...(this.options.fleet ? { fleet: this.options.fleet } : {}),
    });
    return this.view;
  }

  /** Stored reports, newest first; of one node when given. */
  history(node?: string): HistoryRow[] {
    return (node ? this.historyOfNode.all(node) : this.historyAll.all()) as HistoryRow[];
  }

  /** A stored report by id (history), decoded. */
  report(id: number): InventoryReport | undefined {
    const row = this.reportById.get(id) as { body: Buffer } | undefined;
    if (!row) return undefined;
    const decoded = decodeReport(row.body);
    return decoded.ok ? decoded.value : undefined;
  }

  close(): void {
    this.db.close();
  }
}
