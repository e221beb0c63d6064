import {
  idRanges,
  openDurableOrMemory,
  recordBytes,
  type DurableQueue,
  type QueueRecord,
  type QueueTotals,
} from '../core/durable-queue.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** A message the outbox accepted. */
export interface Entry extends QueueRecord {
  acked: boolean;
  /** Committed to the queue file, so its delivery must delete it there. */
  persisted: boolean;
}

export interface TailOptions {
  /** SQLite file; the tail falls back to memory (and says so) when it cannot be opened. */
  path: string;
  maxBytes: number;
  maxAgeMs: number;
  /** Messages kept in memory while the disk refuses them; oldest dropped beyond. */
  maxMemoryMessages: number;
}

/** Where the sender stands, which decides what a commit keeps in memory (see commit). */
export interface SendPosition {
  /** The live cursor: every id up to here has gone out once. */
  sentUpTo: number;
  online: boolean;
}

const READ_CHUNK = 256;
/**
 * Committed payloads from this size on are stored deflated: an asset batch of 1,000 tags takes a
 * third of its JSON, so an outage writes about a third as much to the SD card. Per-tag messages
 * are smaller and stored as they are.
 */
const COMPRESS_MIN_BYTES = 512;
/** Acknowledged entries at the head of the memory tail are dropped in runs of at least this. */
const TRIM_RUN = 256;

/**
 * The outbox's storage, which knows nothing of MQTT: a memory tail of the messages accepted since
 * the last commit (contiguous ids) over the SQLite queue; what a commit writes and deletes; the
 * size and age limits. Only what is still unacknowledged at a commit touches the disk.
 */
export class OutboxTail {
  readonly queue: DurableQueue;
  readonly durable: boolean;
  /** Why the file could not be opened, when it could not. */
  readonly openError?: string;
  /**
   * Accepted since the last commit, after a commit led by what the live cursor had not sent yet
   * (already committed, kept so it goes out without a read back).
   */
  mem: Entry[] = [];
  lastId: number;
  /** Acknowledged ids still in the file until the next commit deletes them, and their totals. */
  private delivered: number[] = [];
  private deliveredTotals: QueueTotals = { messages: 0, samples: 0, bytes: 0 };
  private memDropped = { messages: 0, samples: 0 };

  constructor(
    private readonly options: TailOptions,
    private readonly log: Logger,
    /** A problem worth the health report and a (rate-limited) error log. */
    private readonly onError: (message: string) => void,
  ) {
    const limits = { maxBytes: options.maxBytes, maxAgeMs: options.maxAgeMs };
    // Same code path in memory, capped lower since it competes with the agent's heap.
    const { queue, durable, openError } = openDurableOrMemory(
      options.path,
      limits,
      64 * 1024 * 1024,
      { compressMinBytes: COMPRESS_MIN_BYTES },
    );
    this.queue = queue;
    this.durable = durable;
    if (openError !== undefined) this.openError = openError;
    this.lastId = queue.maxId();
  }

  /** Takes a message into the memory tail under the next id. */
  accept(topic: string, payload: string | Buffer, samples: number, ts: number): Entry {
    const e: Entry = {
      id: ++this.lastId,
      ts,
      topic,
      payload,
      samples,
      acked: false,
      persisted: false,
    };
    if (this.mem.length >= this.options.maxMemoryMessages) this.shedMemory();
    this.mem.push(e);
    return e;
  }

  /** Reads entries with ids in (pos, end], memory first, the file in chunks (see Cursor). */
  cursor(pos: number, end: number): Cursor {
    return new Cursor(this, pos, end);
  }

  /**
   * Commits unacknowledged messages with ids up to `upTo` and deletes delivered ones; then
   * applies the size and age limits. When the disk refuses, nothing changes but the error.
   */
  commit(upTo: number, position: SendPosition): void {
    const records: Entry[] = [];
    for (const e of this.mem) {
      if (e.id > upTo) break;
      if (!e.acked && !e.persisted) records.push(e);
    }
    for (const e of records) e.persisted = true;
    const delivered = this.delivered.sort((a, b) => a - b);
    try {
      this.queue.commit(records, idRanges(delivered));
      this.mem = this.keptTail(upTo, position);
      this.delivered = [];
      this.deliveredTotals = { messages: 0, samples: 0, bytes: 0 };
    } catch (err) {
      for (const e of records) e.persisted = false;
      this.onError(
        `outbox cannot write ${this.options.path} (${errorMessage(err)}); keeping up to ${this.options.maxMemoryMessages} messages in memory: free disk space or fix permissions`,
      );
      return;
    }
    const dropped = this.queue.enforceLimits(Date.now());
    // Rows the limits dropped may be in the kept tail: read from disk, they are skipped. What was
    // never committed stays (it follows every committed row).
    if (dropped.messages > 0) {
      const uncommitted = this.mem.findIndex((e) => e.id > upTo && !e.persisted);
      this.mem = uncommitted < 0 ? [] : this.mem.slice(uncommitted);
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

  /** The broker has it (or, at QoS 0, the socket): a committed one is deleted at the next commit. */
  ack(e: Entry): void {
    e.acked = true;
    if (!e.persisted) return;
    this.delivered.push(e.id);
    this.deliveredTotals.messages += 1;
    this.deliveredTotals.samples += e.samples;
    this.deliveredTotals.bytes += e.storedBytes ?? recordBytes(e.topic, e.payload);
  }

  /**
   * Drops the run of delivered, never-committed entries at the head of the memory tail now
   * rather than at the next commit: they are done with, and kept for up to a flush interval
   * (100,000 a second at 10k tags) they outlive the young generation and fill the old one with
   * garbage. Committed ones stay until the commit deletes their rows, so that a replay reading the
   * file meanwhile still sees them acknowledged. Ids stay contiguous: only the head goes.
   */
  trimDelivered(): void {
    const mem = this.mem;
    let n = 0;
    while (n < mem.length && mem[n]!.acked && !mem[n]!.persisted) n++;
    if (n === mem.length) {
      if (n > 0) this.mem = [];
    } else if (n >= TRIM_RUN) this.mem = mem.slice(n);
  }

  /** Dropped by the limits or from memory, waiting (in the file or only in memory), written. */
  totals(): Pick<OutboxTotals, 'dropped' | 'depth' | 'written'> {
    const unflushed = { messages: 0, samples: 0, bytes: 0 };
    for (const e of this.mem) {
      if (e.acked || e.persisted) continue;
      unflushed.messages += 1;
      unflushed.samples += e.samples;
      unflushed.bytes += e.topic.length + e.payload.length;
    }
    const q: QueueTotals = this.queue.totals;
    const d: QueueTotals = this.queue.dropped;
    // Rows already acknowledged are in the file only until the next commit deletes them. (A row
    // the size limit dropped while it was in flight could be subtracted twice: hence the floor.)
    const acked = this.deliveredTotals;
    const stored = (k: keyof QueueTotals) => Math.max(0, q[k] - acked[k]);
    return {
      dropped: {
        messages: d.messages + this.memDropped.messages,
        samples: d.samples + this.memDropped.samples,
      },
      depth: {
        messages: stored('messages') + unflushed.messages,
        samples: stored('samples') + unflushed.samples,
        bytes: stored('bytes') + unflushed.bytes,
      },
      written: { messages: this.queue.written.messages, samples: this.queue.written.samples },
    };
  }

  close(): void {
    this.queue.close();
  }

  /**
   * After a commit up to `upTo`: the entries after it (not committed yet), led, while online and
   * when they are few enough, by the committed ones the live cursor has not reached, so a short
   * backlog (a slow broker) is sent from memory rather than read back.
   */
  private keptTail(upTo: number, { sentUpTo, online }: SendPosition): Entry[] {
    const first = this.mem[0];
    if (!first) return this.mem;
    const uncommitted = Math.max(0, upTo + 1 - first.id);
    const unsent = Math.max(0, sentUpTo + 1 - first.id);
    const from = Math.min(uncommitted, unsent);
    if (online && uncommitted - from <= this.options.maxMemoryMessages / 4)
      return this.mem.slice(from);
    return this.mem.slice(uncommitted);
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
    this.onError(
      `outbox memory tail full (${this.options.maxMemoryMessages} messages) because the disk refuses writes; dropped the oldest`,
    );
  }
}

/** The parts of the outbox's stats the tail knows. */
export interface OutboxTotals {
  dropped: { messages: number; samples: number };
  /** Accepted but not yet acknowledged by the broker. */
  depth: { messages: number; samples: number; bytes: number };
  /** Committed to the file since start: only what the broker did not acknowledge in time. */
  written: { messages: number; samples: number };
}

/**
 * Reads entries with ids in (pos, end] in order: recent ones from the memory tail, older ones
 * from disk in chunks, so a backlog of any size costs a bounded amount of memory.
 */
export class Cursor {
  private buf: QueueRecord[] = [];
  private at = 0;

  constructor(
    private readonly tail: OutboxTail,
    public pos: number,
    public end: number,
  ) {}

  next(): Entry | undefined {
    const { mem, queue } = this.tail;
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
}
