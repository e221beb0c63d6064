import { Readable } from 'node:stream';
import { openSqlite, pragma, type Sqlite, type SqliteStatement } from '../core/sqlite.js';
import type { Aedes } from 'aedes';
import { createMemoryStore } from './aedes-internals.js';

/** The parts of a PUBLISH packet the store keeps. */
export interface StoredPacket {
  cmd?: 'publish';
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1 | 2;
  retain: boolean;
  clientId?: string;
  brokerId?: string;
  brokerCounter?: number;
  [key: string]: unknown;
}

interface ClientRef {
  id: string;
}

export interface PersistenceStats {
  retained: number;
  /** Retained messages on new topics not stored because maxRetained was reached. */
  retainedDropped: number;
  wills: number;
}

/**
 * An aedes persistence that keeps retained messages and Wills in SQLite (better-sqlite3, which
 * the project already uses for its queues), so they survive a restart or a crash of the gateway.
 * Everything else aedes persists (subscriptions and queued QoS 1 messages of `clean: false`
 * sessions, QoS 2 state) stays in aedes-persistence's in-memory store: agents and gateways
 * connect with clean sessions and keep their own durable outbox and spool instead.
 *
 * Retained messages are also held in memory (aedes's matcher serves subscriptions from there);
 * SQLite is written through on every change (WAL, synchronous=NORMAL: survives kill -9; on power
 * loss the last changes may be lost). The number of retained topics is bounded by `maxRetained`.
 */
export class SqlitePersistence {
  private readonly memory = createMemoryStore();
  private readonly db: Sqlite;
  private readonly wills = new Map<string, StoredPacket>();
  private readonly retainedTopics = new Set<string>();
  private broker?: Aedes;
  private retainedDropped = 0;
  private readonly sql: {
    putRetained: SqliteStatement;
    delRetained: SqliteStatement;
    putWill: SqliteStatement;
    delWill: SqliteStatement;
  };

  /** `:memory:` keeps nothing across restarts. Throws when the file cannot be opened. */
  constructor(
    readonly path: string,
    private readonly maxRetained: number,
  ) {
    this.db = openSqlite(path);
    pragma(this.db, 'journal_mode = WAL').get();
    pragma(this.db, 'synchronous = NORMAL').run();
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS retained (
        topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, stored_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS wills (
        client_id TEXT PRIMARY KEY, broker_id TEXT NOT NULL, topic TEXT NOT NULL,
        payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, stored_at INTEGER NOT NULL);
    `);
    this.sql = {
      putRetained: this.db.prepare(
        'INSERT OR REPLACE INTO retained (topic, payload, qos, stored_at) VALUES (?, ?, ?, ?)',
      ),
      delRetained: this.db.prepare('DELETE FROM retained WHERE topic = ?'),
      putWill: this.db.prepare(
        'INSERT OR REPLACE INTO wills (client_id, broker_id, topic, payload, qos, retain, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      delWill: this.db.prepare('DELETE FROM wills WHERE client_id = ?'),
    };
  }

  get stats(): PersistenceStats {
    return {
      retained: this.retainedTopics.size,
      retainedDropped: this.retainedDropped,
      wills: this.wills.size,
    };
  }

  async setup(broker: Aedes): Promise<void> {
    this.broker = broker;
    await this.memory.setup(broker);
    const retained = this.db.prepare('SELECT topic, payload, qos FROM retained').all() as {
      topic: string;
      payload: Buffer;
      qos: 0 | 1 | 2;
    }[];
    for (const r of retained) {
      this.retainedTopics.add(r.topic);
      await this.memory.storeRetained({
        cmd: 'publish',
        topic: r.topic,
        payload: r.payload,
        qos: r.qos,
        retain: true,
      });
    }
    const wills = this.db
      .prepare('SELECT client_id, broker_id, topic, payload, qos, retain FROM wills')
      .all() as {
      client_id: string;
      broker_id: string;
      topic: string;
      payload: Buffer;
      qos: 0 | 1 | 2;
      retain: number;
    }[];
    for (const w of wills) {
      this.wills.set(w.client_id, {
        cmd: 'publish',
        topic: w.topic,
        payload: w.payload,
        qos: w.qos,
        retain: w.retain === 1,
        clientId: w.client_id,
        brokerId: w.broker_id,
        brokerCounter: 0,
      });
    }
  }

  async storeRetained(packet: StoredPacket): Promise<void> {
    const payload = toBuffer(packet.payload);
    if (payload.length === 0) {
      this.retainedTopics.delete(packet.topic);
      this.sql.delRetained.run(packet.topic);
    } else {
      if (!this.retainedTopics.has(packet.topic)) {
        if (this.retainedTopics.size >= this.maxRetained) {
          this.retainedDropped += 1;
          return;
        }
        this.retainedTopics.add(packet.topic);
      }
      this.sql.putRetained.run(packet.topic, payload, packet.qos, Date.now());
    }
    await this.memory.storeRetained(packet);
  }

  createRetainedStream(pattern: string): Readable {
    return this.memory.createRetainedStream(pattern);
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    return this.memory.createRetainedStreamCombi(patterns);
  }

  async putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    packet.brokerId = this.broker?.id;
    packet.clientId = client.id;
    this.wills.set(client.id, packet);
    this.sql.putWill.run(
      client.id,
      packet.brokerId ?? '',
      packet.topic,
      toBuffer(packet.payload),
      packet.qos,
      packet.retain ? 1 : 0,
      Date.now(),
    );
  }

  async getWill(client: ClientRef): Promise<StoredPacket | undefined> {
    return this.wills.get(client.id);
  }

  async delWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const will = this.wills.get(client.id);
    this.wills.delete(client.id);
    this.sql.delWill.run(client.id);
    return will;
  }

  /** Wills whose broker is not among `brokers`: after a restart, those of the previous run. */
  streamWill(brokers: Record<string, unknown> = {}): Readable {
    return Readable.from([...this.wills.values()].filter((w) => !brokers[w.brokerId ?? '']));
  }

  addSubscriptions(client: ClientRef, subs: unknown[]) {
    return this.memory.addSubscriptions(client, subs);
  }
  removeSubscriptions(client: ClientRef, subs: string[]) {
    return this.memory.removeSubscriptions(client, subs);
  }
  subscriptionsByClient(client: ClientRef) {
    return this.memory.subscriptionsByClient(client);
  }
  countOffline() {
    return this.memory.countOffline();
  }
  subscriptionsByTopic(pattern: string) {
    return this.memory.subscriptionsByTopic(pattern);
  }
  cleanSubscriptions(client: ClientRef) {
    return this.memory.cleanSubscriptions(client);
  }
  outgoingEnqueue(sub: unknown, packet: unknown) {
    return this.memory.outgoingEnqueue(sub, packet);
  }
  outgoingEnqueueCombi(subs: unknown[], packet: unknown) {
    return this.memory.outgoingEnqueueCombi(subs, packet);
  }
  outgoingUpdate(client: ClientRef, packet: unknown) {
    return this.memory.outgoingUpdate(client, packet);
  }
  outgoingClearMessageId(client: ClientRef, packet: unknown) {
    return this.memory.outgoingClearMessageId(client, packet);
  }
  outgoingStream(client: ClientRef) {
    return this.memory.outgoingStream(client);
  }
  incomingStorePacket(client: ClientRef, packet: unknown) {
    return this.memory.incomingStorePacket(client, packet);
  }
  incomingGetPacket(client: ClientRef, packet: unknown) {
    return this.memory.incomingGetPacket(client, packet);
  }
  incomingDelPacket(client: ClientRef, packet: unknown) {
    return this.memory.incomingDelPacket(client, packet);
  }
  cleanIncoming(client: ClientRef) {
    return this.memory.cleanIncoming(client);
  }
  getClientList(topic: string) {
    return this.memory.getClientList(topic);
  }

  async destroy(): Promise<void> {
    await this.memory.destroy();
    if (this.db.open) this.db.close();
  }
}

function toBuffer(payload: Buffer | string): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}
