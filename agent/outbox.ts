import type { IClientPublishOptions, MqttClient } from 'mqtt';
import {
  DurableQueue,
  idRanges,
  type QueueRecord,
  type QueueTotals,
} from '../core/durable-queue.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface OutboxOptions {
  /** SQLite file; the outbox falls back to memory (and says so in health) when it cannot be opened. */
  path: string;
  maxBytes: number;
  maxAgeMs: number;
  /** Unacknowledged messages are committed (and fsynced) this often: the loss window on a crash. */
  flushIntervalMs: number;
  replayRatePerSec: number;
  /** Messages kept in memory while the disk refuses them; oldest dropped beyond. */
  maxMemoryMessages: number;
  qos: 0 | 1;
  /** Messages awaiting PUBACK at once; bounds mqtt.js's otherwise unbounded store. */
  maxInflight: number;
}

/**
 * Makes the bytes that go on the wire from a stored record. `historical` is true for records
 * replayed after an outage; JSON marks them `"hist": true`, Sparkplug `is_historical`.
 */
export type Finalize = (record: QueueRecord, historical: boolean) => string | Buffer;

export interface OutboxStats {
  /** False when the file could not be opened and the backlog lives in memory only. */
  durable: boolean;
  path: string;
  accepted: { messages: number; samples: number };
  published: { messages: number; samples: number };
  dropped: { messages: number; samples: number };
  /** Accepted but not yet acknowledged by the broker. */
  depth: { messages: number; samples: number; bytes: number };
  inflight: number;
  replaying: boolean;
  replayed: number;
  failedPublishes: number;
  lastError?: string;
}

interface Entry extends QueueRecord {
  acked: boolean;
  /** Committed to the queue file, so its delivery must delete it there. */
  persisted: boolean;
}

const READ_CHUNK = 256;

/**
 * Reads entries with ids in (pos, end] in order: recent ones from the memory tail, older ones
 * from disk in chunks, so a backlog of any size costs a bounded amount of memory.
 */
class Cursor {
  private buf: QueueRecord[] = [];
  private at = 0;

  constructor(
    private readonly outbox: { mem: Entry[]; queue: DurableQueue },
    public pos: number,
    public end: number,
  ) {}

  next(): Entry | undefined {
    const { mem, queue } = this.outbox;
    while (this.pos < this.end) {
      const id = this.pos + 1;
      const memStart = mem.length > 0 ? mem[0]!.id : Infinity;
      if (id >= memStart) {
        const e = mem[id - memStart];
        this.pos = id;
        if (e && !e.acked) return e;
        continue;
      }
      if (this.at >= this.buf.length) {
        const upTo = Math.min(this.end, memStart - 1);
        this.buf = queue.read(this.pos, upTo, READ_CHUNK);
        this.at = 0;
        if (this.buf.length === 0) {
          // Dropped by the size or age limit meanwhile.
          this.pos = upTo;
          continue;
        }
      }
      const r = this.buf[this.at++]!;
      if (r.id <= this.pos) continue;
      this.pos = r.id;
      return { ...r, acked: false, persisted: true };
    }
    return undefined;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }
}

/**
 * Store-and-forward between the poll loops and the broker. Every message is accepted into a
 * memory tail and sent at once while the broker is up; whatever is not acknowledged when the
 * flush timer fires is committed to SQLite. So a healthy link costs almost no disk I/O, and a
 * crash loses at most one flush interval. A message leaves the queue only on PUBACK.
 *
 * After an outage the backlog replays in order at a bounded rate, marked historical, while live
 * messages keep going out as they come.
 */
export class Outbox {
  readonly queue: DurableQueue;
  readonly durable: boolean;
  /** Memory tail: accepted since the last flush, contiguous ids. */
  mem: Entry[] = [];
  private lastId: number;
  private delivered: number[] = [];
  private online = false;
  /** Bumped when the connection drops: acknowledgements from an old connection are ignored. */
  private connection = 0;
  private inflight = 0;
  private live: Cursor;
  private replay?: Cursor;
  private replayStarted = 0;
  private replayed = 0;
  private tokens = 0;
  private refilledAt = 0;
  private replayTimer?: NodeJS.Timeout;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly publishOptions: IClientPublishOptions;
  private accepted = { messages: 0, samples: 0 };
  private published = { messages: 0, samples: 0 };
  private memDropped = { messages: 0, samples: 0 };
  private failedPublishes = 0;
  private lastError?: string;
  private lastErrorLoggedAt = 0;

  constructor(
    private readonly client: MqttClient,
    private readonly options: OutboxOptions,
    private readonly finalize: Finalize,
    private readonly log: Logger,
  ) {
    const limits = { maxBytes: options.maxBytes, maxAgeMs: options.maxAgeMs };
    let queue: DurableQueue;
    try {
      queue = new DurableQueue(options.path, limits);
      this.durable = options.path !== ':memory:';
    } catch (err) {
      this.lastError = `outbox file ${options.path} cannot be opened (${errorMessage(err)}); samples are kept in memory only and lost on restart: fix the folder's permissions or free space, or set outbox.path`;
      log.error({ path: options.path }, this.lastError);
      // Same code path in memory, capped lower since it competes with the agent's heap.
      queue = new DurableQueue(':memory:', {
        ...limits,
        maxBytes: Math.min(options.maxBytes, 64 * 1024 * 1024),
      });
      this.durable = false;
    }
    this.queue = queue;
    this.lastId = queue.maxId();
    this.live = new Cursor(this, this.lastId, this.lastId);
    this.publishOptions = { qos: options.qos };
    if (queue.totals.messages > 0) {
      log.info(
        { messages: queue.totals.messages, samples: queue.totals.samples, path: options.path },
        'outbox holds a backlog from before the restart; it replays once the broker is reachable',
      );
    }
    this.flushTimer = setInterval(() => this.flush(), options.flushIntervalMs);
    client.on('close', () => this.offline());
  }

  /** True from resume() until the connection drops. */
  get sending(): boolean {
    return this.online;
  }

  /** Accepts a message. It is sent now if the broker is up, else kept until it is. */
  append(topic: string, payload: string | Buffer, samples: number, ts = Date.now()): void {
    const id = ++this.lastId;
    const e: Entry = { id, ts, topic, payload, samples, acked: false, persisted: false };
    if (this.mem.length >= this.options.maxMemoryMessages) this.shedMemory();
    this.mem.push(e);
    this.accepted.messages += 1;
    this.accepted.samples += samples;
    this.live.end = id;
    if (!this.online) return;
    if (this.inflight < this.options.maxInflight && this.live.pos === id - 1) {
      this.live.pos = id;
      this.send(e, false);
    } else this.pump();
  }

  /**
   * The broker session is ready (births and status already sent): commit the memory tail, then
   * replay everything accepted so far while new messages go out live.
   */
  resume(): void {
    this.flush();
    this.online = true;
    this.replay = undefined;
    if (this.queue.totals.messages > 0 || this.live.pos < this.lastId) {
      this.replay = new Cursor(this, 0, this.lastId);
      this.replayStarted = Date.now();
      this.replayed = 0;
      this.tokens = 0;
      this.refilledAt = performance.now();
      this.log.info(
        {
          messages: this.queue.totals.messages,
          samples: this.queue.totals.samples,
          ratePerSec: this.options.replayRatePerSec,
        },
        'replaying the outbox backlog',
      );
    }
    this.live = new Cursor(this, this.lastId, this.lastId);
    this.pump();
  }

  /** Commits unacknowledged messages and deletes delivered ones; then applies the size and age limits. */
  flush(): void {
    const records = this.mem.filter((e) => !e.acked);
    for (const e of records) e.persisted = true;
    const delivered = this.delivered.sort((a, b) => a - b);
    try {
      this.queue.commit(records, idRanges(delivered));
      this.mem = [];
      this.delivered = [];
    } catch (err) {
      for (const e of records) e.persisted = false;
      this.noteError(
        `outbox cannot write ${this.options.path} (${errorMessage(err)}); keeping up to ${this.options.maxMemoryMessages} messages in memory: free disk space or fix permissions`,
      );
      return;
    }
    const dropped = this.queue.enforceLimits(Date.now());
    if (dropped.messages > 0) {
      this.log.warn(
        {
          messages: dropped.messages,
          samples: dropped.samples,
          maxBytes: this.options.maxBytes,
          maxAgeMs: this.options.maxAgeMs,
        },
        'outbox full or too old; dropped the oldest samples (raise outbox.maxBytes or maxAgeMs to keep more)',
      );
    }
  }

  get stats(): OutboxStats {
    const unflushed = { messages: 0, samples: 0, bytes: 0 };
    for (const e of this.mem) {
      if (e.acked) continue;
      unflushed.messages += 1;
      unflushed.samples += e.samples;
      unflushed.bytes += e.topic.length + e.payload.length;
    }
    const q: QueueTotals = this.queue.totals;
    const d: QueueTotals = this.queue.dropped;
    return {
      durable: this.durable,
      path: this.options.path,
      accepted: { ...this.accepted },
      published: { ...this.published },
      dropped: {
        messages: d.messages + this.memDropped.messages,
        samples: d.samples + this.memDropped.samples,
      },
      depth: {
        messages: q.messages + unflushed.messages,
        samples: q.samples + unflushed.samples,
        bytes: q.bytes + unflushed.bytes,
      },
      inflight: this.inflight,
      replaying: this.replay !== undefined,
      replayed: this.replayed,
      failedPublishes: this.failedPublishes,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Commits what is pending and closes the file. Call after the MQTT client has ended. */
  close(): void {
    clearInterval(this.flushTimer);
    clearTimeout(this.replayTimer);
    this.online = false;
    this.flush();
    this.queue.close();
  }

  private offline(): void {
    if (!this.online && this.inflight === 0) return;
    this.online = false;
    this.connection += 1;
    this.inflight = 0;
    clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    // mqtt.js would resend its unacknowledged publishes ahead of everything on reconnect; the
    // outbox still holds them and replays them in order, so take them out of mqtt.js's store.
    for (const id of Object.keys(this.client.outgoing)) this.client.removeOutgoingMessage(+id);
  }

  private pump(): void {
    while (this.online && this.inflight < this.options.maxInflight) {
      const e = this.live.next();
      if (e) {
        this.send(e, false);
        continue;
      }
      if (!this.replay || !this.takeReplayToken()) return;
      const old = this.replay.next();
      if (!old) {
        this.finishReplay();
        return;
      }
      this.replayed += 1;
      this.send(old, true);
    }
  }

  private takeReplayToken(): boolean {
    const rate = this.options.replayRatePerSec;
    const now = performance.now();
    // A burst of at most a tenth of a second keeps the replay smooth.
    this.tokens = Math.min(rate / 10 + 1, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (!this.replayTimer) {
      const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate));
      this.replayTimer = setTimeout(() => {
        this.replayTimer = undefined;
        this.pump();
      }, wait);
    }
    return false;
  }

  private finishReplay(): void {
    this.log.info(
      { messages: this.replayed, ms: Date.now() - this.replayStarted },
      'outbox backlog replayed',
    );
    this.replay = undefined;
  }

  private send(e: Entry, historical: boolean): void {
    let payload: string | Buffer;
    try {
      payload = this.finalize(e, historical);
    } catch (err) {
      // A record that cannot be encoded would block the queue forever: count it and move on.
      this.noteError(`outbox record ${e.id} on ${e.topic} cannot be encoded: ${errorMessage(err)}`);
      this.ack(e);
      return;
    }
    const connection = this.connection;
    this.inflight += 1;
    this.client.publish(e.topic, payload, this.publishOptions, (err) => {
      if (connection !== this.connection) return;
      this.inflight -= 1;
      if (err) {
        // Only when the client is ending; the record stays queued for the next start.
        this.failedPublishes += 1;
        this.log.debug({ topic: e.topic, err: errorMessage(err) }, 'publish failed; kept queued');
      } else {
        this.published.messages += 1;
        this.published.samples += e.samples;
        this.ack(e);
      }
      this.pump();
    });
  }

  private ack(e: Entry): void {
    e.acked = true;
    if (e.persisted) this.delivered.push(e.id);
  }

  private shedMemory(): void {
    const n = Math.max(1, Math.floor(this.options.maxMemoryMessages / 10));
    for (const e of this.mem.splice(0, n)) {
      if (e.acked) continue;
      this.memDropped.messages += 1;
      this.memDropped.samples += e.samples;
    }
    this.noteError(
      `outbox memory tail full (${this.options.maxMemoryMessages} messages) because the disk refuses writes; dropped the oldest`,
    );
  }

  private noteError(message: string): void {
    this.lastError = message;
    const now = Date.now();
    if (now - this.lastErrorLoggedAt < 10_000) return;
    this.lastErrorLoggedAt = now;
    this.log.error(message);
  }
}
