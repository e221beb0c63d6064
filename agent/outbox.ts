import type { MqttClient } from 'mqtt';
import type { DurableQueue, QueueRecord } from '../core/durable-queue.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { LogLimiter } from '../core/log-limiter.js';
import { TokenBucket } from '../core/token-bucket.js';
import {
  allocatePacketId,
  beforeClientWrite,
  clientSocket,
  dropPendingPublishes,
  MAX_RAW_INFLIGHT,
  PublishBatch,
  takePubacks,
} from '../protocols/mqtt/raw-publish.js';
import { OutboxTail, type Cursor, type Entry, type OutboxTotals } from './outbox-tail.js';

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

export interface OutboxStats extends OutboxTotals {
  /** False when the file could not be opened and the backlog lives in memory only. */
  durable: boolean;
  path: string;
  accepted: { messages: number; samples: number };
  published: { messages: number; samples: number };
  inflight: number;
  replaying: boolean;
  replayed: number;
  failedPublishes: number;
  lastError?: string;
}

/**
 * QoS 0: bytes waiting in the socket's buffer before sending pauses until it drains. QoS 0 has
 * no acknowledgement to wait for; this bounds memory instead.
 */
const QOS0_MAX_BUFFERED = 256 * 1024;
/** Packets wait this long for others to share their socket write (see addToBatch). */
const WRITE_DELAY_MS = 1;
/**
 * Store-and-forward between the poll loops and the broker. Every message is accepted into a
 * memory tail and sent at once while the broker is up; whatever is not acknowledged when the
 * flush timer fires is committed to SQLite. So a healthy link costs almost no disk I/O, and a
 * crash loses at most one flush interval. A message leaves the queue only on PUBACK (QoS 1), or
 * once written to the socket (QoS 0, which promises no more).
 *
 * After an outage the backlog replays in order at a bounded rate, marked historical, while live
 * messages keep going out as they come. What is stored where is the tail's (outbox-tail.ts);
 * this class sends: the window, the batched socket writes, PUBACKs, the replay.
 */
export class Outbox {
  readonly queue: DurableQueue;
  readonly durable: boolean;
  private readonly tail: OutboxTail;
  /** lastId at the previous flush tick: the next tick commits up to here. */
  private flushMark: number;
  private online = false;
  /** Bumped when the connection drops: acknowledgements from an old connection are ignored. */
  private connection = 0;
  private inflight = 0;
  /** QoS 0: sending waits for the socket's 'drain'. */
  private awaitingDrain = false;
  /** Packets encoded for the next socket write (see protocols/mqtt/raw-publish.ts). */
  private readonly batch = new PublishBatch<Entry>();
  /** QoS 1: packet id → message awaiting its PUBACK on the current connection. */
  private readonly awaiting = new Map<number, Entry>();
  private readonly window: number;
  private live: Cursor;
  private replay?: Cursor;
  private replayStarted = 0;
  private replayed = 0;
  private readonly replayBucket: TokenBucket;
  private replayTimer?: NodeJS.Timeout;
  private readonly flushTimer: NodeJS.Timeout;
  private accepted = { messages: 0, samples: 0 };
  private published = { messages: 0, samples: 0 };
  private failedPublishes = 0;
  private lastError?: string;
  private readonly errorLog = new LogLimiter(10_000);
  private trimScheduled = false;

  constructor(
    private readonly client: MqttClient,
    private readonly options: OutboxOptions,
    private readonly finalize: Finalize,
    private readonly log: Logger,
  ) {
    // A burst of at most a tenth of a second keeps the replay smooth.
    const rate = options.replayRatePerSec;
    this.replayBucket = new TokenBucket(rate, rate / 10 + 1, performance.now());
    const tail = new OutboxTail(options, log, (message) => this.noteError(message));
    this.tail = tail;
    this.queue = tail.queue;
    this.durable = tail.durable;
    if (tail.openError !== undefined) {
      this.lastError = `outbox file ${options.path} cannot be opened (${tail.openError}); samples are kept in memory only and lost on restart: fix the folder's permissions or free space, or set outbox.path`;
      log.error({ path: options.path }, this.lastError);
    }
    this.flushMark = tail.lastId;
    this.live = tail.cursor(tail.lastId, tail.lastId);
    this.window = Math.min(options.maxInflight, MAX_RAW_INFLIGHT);
    const { totals } = tail.queue;
    if (totals.messages > 0) {
      log.info(
        { messages: totals.messages, samples: totals.samples, path: options.path },
        'outbox holds a backlog from before the restart; it replays once the broker is reachable',
      );
    }
    // Twice per interval, each tick commits what was accepted before the previous tick: a
    // message acknowledged within half an interval never touches the disk, and none waits
    // uncommitted longer than flushIntervalMs, the documented crash window.
    this.flushTimer = setInterval(() => {
      const upTo = this.flushMark;
      this.flushMark = tail.lastId;
      this.flush(upTo);
    }, options.flushIntervalMs / 2);
    client.on('close', () => this.offline());
    // A pending batch goes out before any packet of mqtt.js's own, so the socket carries packets
    // in the order they were published (Sparkplug births vs data).
    beforeClientWrite(client, () => this.writeBatch());
    takePubacks(client, (id, reasonCode) => this.acknowledged(id, reasonCode));
  }

  /** True from resume() until the connection drops. */
  get sending(): boolean {
    return this.online;
  }

  /** Accepts a message. It is sent now if the broker is up, else kept until it is. */
  append(topic: string, payload: string | Buffer, samples: number, ts = Date.now()): void {
    const e = this.tail.accept(topic, payload, samples, ts);
    this.accepted.messages += 1;
    this.accepted.samples += samples;
    this.live.end = e.id;
    if (!this.online) return;
    if (this.live.pos === e.id - 1 && this.canSend()) {
      this.live.pos = e.id;
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
    const { lastId } = this.tail;
    if (this.queue.totals.messages > 0 || this.live.pos < lastId) {
      this.replay = this.tail.cursor(0, lastId);
      this.replayStarted = Date.now();
      this.replayed = 0;
      this.replayBucket.reset(performance.now());
      this.log.info(
        {
          messages: this.queue.totals.messages,
          samples: this.queue.totals.samples,
          ratePerSec: this.options.replayRatePerSec,
        },
        'replaying the outbox backlog',
      );
    }
    this.live = this.tail.cursor(lastId, lastId);
    this.pump();
  }

  /**
   * Commits unacknowledged messages with ids up to `upTo` (all by default) and deletes delivered
   * ones; then applies the size and age limits.
   */
  flush(upTo = this.tail.lastId): void {
    this.tail.commit(upTo, { sentUpTo: this.live.pos, online: this.online });
  }

  get stats(): OutboxStats {
    return {
      durable: this.durable,
      path: this.options.path,
      accepted: { ...this.accepted },
      published: { ...this.published },
      ...this.tail.totals(),
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
    this.tail.close();
  }

  private offline(): void {
    if (!this.online && this.inflight === 0) return;
    this.online = false;
    this.connection += 1;
    this.inflight = 0;
    this.awaitingDrain = false;
    this.awaiting.clear();
    clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    // The outbox still holds what mqtt.js would resend and replays it in order.
    dropPendingPublishes(this.client);
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
    if (this.options.qos === 1) return this.inflight < this.window;
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
    const waitMs = this.replayBucket.tryTake(1, performance.now());
    if (waitMs === 0) return true;
    if (!this.replayTimer) {
      const wait = Math.max(1, Math.ceil(waitMs));
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
      this.tail.ack(e);
      return;
    }
    let packetId = 0;
    if (this.options.qos === 1) {
      packetId = allocatePacketId(this.client, this.awaiting);
      this.awaiting.set(packetId, e);
      this.inflight += 1;
    }
    try {
      this.addToBatch(e, payload, packetId);
    } catch (err) {
      this.noteError(`outbox record ${e.id} on ${e.topic} cannot be sent: ${errorMessage(err)}`);
      if (packetId) {
        this.awaiting.delete(packetId);
        this.inflight -= 1;
      }
      this.tail.ack(e);
    }
  }

  /**
   * A PUBACK: its message is delivered, unless the broker refused it (MQTT 5 reason >= 0x80).
   * False when the id is not one of ours (mqtt.js's own publishes).
   */
  private acknowledged(packetId: number, reasonCode: number): boolean {
    const e = this.awaiting.get(packetId);
    if (!e) return false;
    this.awaiting.delete(packetId);
    this.inflight -= 1;
    if (reasonCode >= 0x80) {
      // Kept queued: it goes out again with the replay after the next reconnect.
      this.failedPublishes += 1;
      this.noteError(`broker refused a publish on ${e.topic} (MQTT reason code ${reasonCode})`);
    } else {
      this.published.messages += 1;
      this.published.samples += e.samples;
      this.tail.ack(e);
      if (!this.trimScheduled) {
        // Once per turn: a socket read carries many PUBACKs.
        this.trimScheduled = true;
        process.nextTick(() => {
          this.trimScheduled = false;
          this.tail.trimDelivered();
        });
      }
    }
    this.pump();
    return true;
  }

  /**
   * Adds to the batch, written when full, before mqtt.js writes a packet of its own, or
   * WRITE_DELAY_MS after its first packet. At QoS 1 each PUBACK frees one slot of the window and
   * lets one message out: written at once (a tick later, as before), that was a system call per
   * message, 30 % of the agent's CPU at 35,000 per-tag messages/s (bench:footprint, tag1).
   */
  private addToBatch(e: Entry, payload: string | Buffer, packetId: number): void {
    const batch = this.batch;
    if (batch.entries.length > 0 && batch.connection !== this.connection) this.writeBatch();
    batch.connection = this.connection;
    const v5 = this.client.options.protocolVersion === 5;
    if (!batch.add(e, e.topic, payload, v5, packetId)) {
      this.writeBatch();
      batch.connection = this.connection;
      batch.add(e, e.topic, payload, v5, packetId);
    }
    if (!batch.scheduled) {
      batch.scheduled = true;
      setTimeout(() => {
        batch.scheduled = false;
        this.writeBatch();
      }, WRITE_DELAY_MS);
    }
  }

  /**
   * Writes the batch. QoS 0 messages count as published once written (QoS 0 promises no more than
   * the socket); QoS 1 ones when their PUBACK comes. If the connection the batch was encoded for
   * is gone they stay queued for the replay.
   */
  private writeBatch(): void {
    const batch = this.batch;
    if (batch.entries.length === 0) return;
    const sameConnection = batch.connection === this.connection;
    const { bytes, entries } = batch.take();
    const stream = clientSocket(this.client);
    if (!sameConnection || !this.online || !this.client.connected || !stream) {
      this.failedPublishes += entries.length;
      return;
    }
    stream.write(bytes);
    if (this.options.qos === 1) return;
    for (const e of entries) {
      this.published.messages += 1;
      this.published.samples += e.samples;
      this.tail.ack(e);
    }
    this.tail.trimDelivered();
  }

  private noteError(message: string): void {
    this.lastError = message;
    if (this.errorLog.take('error').log) this.log.error(message);
  }
}
