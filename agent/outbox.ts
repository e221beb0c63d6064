import type { IClientPublishOptions, MqttClient } from 'mqtt';
import {
  DurableQueue,
  idRanges,
  recordBytes,
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
 * QoS 0: bytes waiting in the socket's buffer before sending pauses until it drains. QoS 0 has
 * no acknowledgement to wait for; this bounds memory instead.
 */
const QOS0_MAX_BUFFERED = 256 * 1024;
/** QoS 0: packets are coalesced into socket writes of about this size, at least one per tick. */
const QOS0_BATCH_BYTES = 64 * 1024;
/** QoS 0: encoded topics kept; a node has one per tag or asset, so this is never reached. */
const QOS0_TOPIC_CACHE = 65_536;

/**
 * QoS 0 PUBLISH packets (no packet id, no retain, no properties), encoded here and written to
 * mqtt.js's socket in one write per batch. mqtt.js spends several microseconds per publish
 * (packet object, debug calls, four stream writes, a nextTick): at 100,000 per-tag messages a
 * second that alone is more than the agent's budget. QoS 1 keeps going through mqtt.js, which
 * owns packet ids and PUBACKs. Each write is whole packets, so it never splits one of mqtt.js's.
 */
class Qos0Batch {
  entries: Entry[] = [];
  bytes = 0;
  /** The connection the batch was encoded for; it is dropped, unsent, if that one is gone. */
  connection = -1;
  scheduled = false;
  private buf = Buffer.allocUnsafe(QOS0_BATCH_BYTES);
  /** Topic → its length prefix and UTF-8 bytes: the same topics recur every poll. */
  private readonly topics = new Map<string, Buffer>();

  /** Appends one PUBLISH packet; false when it does not fit (write the batch first). */
  add(e: Entry, topic: string, payload: string | Buffer, v5: boolean): boolean {
    const topicBytes = this.topic(topic);
    const payloadLen = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const remaining = topicBytes.length + (v5 ? 1 : 0) + payloadLen;
    const size = 1 + varintSize(remaining) + remaining;
    if (this.bytes + size > this.buf.length) {
      if (this.bytes > 0) return false;
      this.buf = Buffer.allocUnsafe(size);
    }
    const buf = this.buf;
    let o = this.bytes;
    buf[o++] = 0x30;
    let n = remaining;
    do {
      const digit = n % 128;
      n = Math.floor(n / 128);
      buf[o++] = n > 0 ? digit | 128 : digit;
    } while (n > 0);
    buf.set(topicBytes, o);
    o += topicBytes.length;
    if (v5) buf[o++] = 0; // property length
    if (typeof payload === 'string') o += buf.write(payload, o, 'utf8');
    else o += payload.copy(buf, o);
    this.bytes = o;
    this.entries.push(e);
    return true;
  }

  private topic(topic: string): Buffer {
    let bytes = this.topics.get(topic);
    if (bytes) return bytes;
    const length = Buffer.byteLength(topic);
    // Topics are built from validated config names; MQTT caps them at 65,535 bytes.
    if (length > 0xffff)
      throw new Error(`MQTT topic longer than 65535 bytes: ${topic.slice(0, 80)}…`);
    bytes = Buffer.allocUnsafe(2 + length);
    bytes.writeUInt16BE(length, 0);
    bytes.write(topic, 2, 'utf8');
    if (this.topics.size >= QOS0_TOPIC_CACHE) this.topics.clear();
    this.topics.set(topic, bytes);
    return bytes;
  }

  /** The encoded bytes and their entries; the batch starts empty again. */
  take(): { bytes: Buffer; entries: Entry[] } {
    const used = this.buf.subarray(0, this.bytes);
    // The socket keeps what it is given until written: a small batch is copied out and the
    // buffer reused; a large one is handed over.
    const small = this.bytes <= QOS0_BATCH_BYTES / 8 && this.buf.length === QOS0_BATCH_BYTES;
    const out = { bytes: small ? Buffer.from(used) : used, entries: this.entries };
    if (!small) this.buf = Buffer.allocUnsafe(QOS0_BATCH_BYTES);
    this.bytes = 0;
    this.entries = [];
    return out;
  }
}

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

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
 * crash loses at most one flush interval. A message leaves the queue only on PUBACK (QoS 1), or
 * once written to the socket (QoS 0, which promises no more).
 *
 * After an outage the backlog replays in order at a bounded rate, marked historical, while live
 * messages keep going out as they come.
 */
export class Outbox {
  readonly queue: DurableQueue;
  readonly durable: boolean;
  /**
   * Memory tail, contiguous ids: accepted since the last flush, after a flush led by what the
   * live cursor had not sent yet (already committed, kept so it goes out without a read back).
   */
  mem: Entry[] = [];
  private lastId: number;
  private delivered: number[] = [];
  /** What `delivered` holds: acknowledged, still in the file until the next flush deletes it. */
  private deliveredTotals: QueueTotals = { messages: 0, samples: 0, bytes: 0 };
  private online = false;
  /** Bumped when the connection drops: acknowledgements from an old connection are ignored. */
  private connection = 0;
  private inflight = 0;
  /** QoS 0: sending waits for the socket's 'drain'. */
  private awaitingDrain = false;
  private readonly qos0 = new Qos0Batch();
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
    // mqtt.js announces each packet just before writing it: a pending QoS 0 batch goes first, so
    // the socket carries packets in the order they were published (Sparkplug births vs data).
    client.on('packetsend', () => this.writeQos0());
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
    if (this.live.pos === id - 1 && this.canSend()) {
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
    const records = this.mem.filter((e) => !e.acked && !e.persisted);
    for (const e of records) e.persisted = true;
    const delivered = this.delivered.sort((a, b) => a - b);
    try {
      this.queue.commit(records, idRanges(delivered));
      this.mem = this.unsentTail();
      this.delivered = [];
      this.deliveredTotals = { messages: 0, samples: 0, bytes: 0 };
    } catch (err) {
      for (const e of records) e.persisted = false;
      this.noteError(
        `outbox cannot write ${this.options.path} (${errorMessage(err)}); keeping up to ${this.options.maxMemoryMessages} messages in memory: free disk space or fix permissions`,
      );
      return;
    }
    const dropped = this.queue.enforceLimits(Date.now());
    // Rows the limits dropped may be in the kept tail: read from disk, they are skipped.
    if (dropped.messages > 0) this.mem = [];
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
      if (e.acked || e.persisted) continue;
      unflushed.messages += 1;
      unflushed.samples += e.samples;
      unflushed.bytes += e.topic.length + e.payload.length;
    }
    const q: QueueTotals = this.queue.totals;
    const d: QueueTotals = this.queue.dropped;
    // Rows already acknowledged are in the file only until the next flush deletes them. (A row
    // the size limit dropped while it was in flight could be subtracted twice: hence the floor.)
    const acked = this.deliveredTotals;
    const stored = (k: keyof QueueTotals) => Math.max(0, q[k] - acked[k]);
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
        messages: stored('messages') + unflushed.messages,
        samples: stored('samples') + unflushed.samples,
        bytes: stored('bytes') + unflushed.bytes,
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
    this.awaitingDrain = false;
    clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    // mqtt.js would resend its unacknowledged publishes ahead of everything on reconnect; the
    // outbox still holds them and replays them in order, so take them out of mqtt.js's store.
    for (const id of Object.keys(this.client.outgoing)) this.client.removeOutgoingMessage(+id);
  }

  private pump(): void {
    while (this.online && this.canSend()) {
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

  /**
   * QoS 1: fewer than maxInflight await PUBACK. QoS 0: the socket is not backed up; when it is,
   * one 'drain' listener resumes sending (mqtt.js would otherwise park a listener per message).
   */
  private canSend(): boolean {
    if (this.options.qos === 1) return this.inflight < this.options.maxInflight;
    if (this.awaitingDrain) return false;
    const stream = this.client.stream;
    if (!stream?.writableNeedDrain || stream.writableLength < QOS0_MAX_BUFFERED) return true;
    this.awaitingDrain = true;
    const connection = this.connection;
    stream.once('drain', () => {
      if (connection !== this.connection) return;
      this.awaitingDrain = false;
      this.pump();
    });
    return false;
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
    if (this.options.qos === 0) {
      try {
        this.sendQos0(e, payload);
      } catch (err) {
        this.noteError(`outbox record ${e.id} on ${e.topic} cannot be sent: ${errorMessage(err)}`);
        this.ack(e);
      }
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

  /** Adds to the QoS 0 batch, written when full and at the end of this tick. */
  private sendQos0(e: Entry, payload: string | Buffer): void {
    const batch = this.qos0;
    if (batch.entries.length > 0 && batch.connection !== this.connection) this.writeQos0();
    batch.connection = this.connection;
    const v5 = this.client.options.protocolVersion === 5;
    if (!batch.add(e, e.topic, payload, v5)) {
      this.writeQos0();
      batch.connection = this.connection;
      batch.add(e, e.topic, payload, v5);
    }
    if (!batch.scheduled) {
      batch.scheduled = true;
      process.nextTick(() => {
        batch.scheduled = false;
        this.writeQos0();
      });
    }
  }

  /**
   * Writes the QoS 0 batch: its messages count as published (QoS 0 promises no more than the
   * socket). If the connection it was encoded for is gone they stay queued for the replay.
   */
  private writeQos0(): void {
    const batch = this.qos0;
    if (batch.entries.length === 0) return;
    const sameConnection = batch.connection === this.connection;
    const { bytes, entries } = batch.take();
    const stream = this.client.stream;
    if (!sameConnection || !this.online || !this.client.connected || !stream?.writable) {
      this.failedPublishes += entries.length;
      return;
    }
    stream.write(bytes);
    for (const e of entries) {
      this.published.messages += 1;
      this.published.samples += e.samples;
      this.ack(e);
    }
  }

  private ack(e: Entry): void {
    e.acked = true;
    if (!e.persisted) return;
    this.delivered.push(e.id);
    this.deliveredTotals.messages += 1;
    this.deliveredTotals.samples += e.samples;
    this.deliveredTotals.bytes += recordBytes(e.topic, e.payload);
  }

  /**
   * After a commit: the entries the live cursor has not reached, while online and when they are
   * few enough, so a short backlog (a slow broker) is sent from memory rather than read back.
   */
  private unsentTail(): Entry[] {
    const first = this.mem[0];
    if (!this.online || !first) return [];
    const tail = this.mem.slice(Math.max(0, this.live.pos + 1 - first.id));
    return tail.length <= this.options.maxMemoryMessages / 4 ? tail : [];
  }

  private shedMemory(): void {
    // Committed entries kept for sending go first: they are on disk, nothing is lost.
    const kept = this.mem.findIndex((e) => !e.persisted);
    if (kept !== 0) {
      this.mem = kept < 0 ? [] : this.mem.slice(kept);
      if (this.mem.length < this.options.maxMemoryMessages) return;
    }
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
