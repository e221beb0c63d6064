import { Backoff, sleep } from '../../core/backoff.js';
import {
  openDurableOrMemory,
  type DurableQueue,
  type QueueRecord,
} from '../../core/durable-queue.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import {
  ACTION_TYPES,
  actionSchema,
  Deferred,
  type ActionTarget,
  type ActionType,
  type CloseAction,
  type CmmsAction,
  type OpenAction,
} from './actions.js';
import { CmmsError, ERROR_KINDS, type CmmsErrorKind } from './errors.js';

export interface DispatcherOptions {
  /** SQLite file of the outbox; `:memory:` is lost on restart. */
  path: string;
  /** Bytes the outbox may hold; the oldest actions are dropped beyond, and counted. */
  maxBytes: number;
  /** Actions older than this are dropped and counted, ms. */
  maxAgeMs: number;
  /** Longest wait between attempts while the target is down, ms. */
  retryMaxMs: number;
  /** A permanently refused action is tried again after this long (or on retryNow), ms. */
  permanentRetryMs: number;
  /** After an unknown outcome, this key waits this long before the attempt that reconciles, ms. */
  reconcileDelayMs: number;
  /** First wait after a transient failure, ms. Default 1000. */
  retryInitialMs?: number;
  /** Jitter of the backoff, 0..1. Default 0.2; tests set 0. */
  jitter?: number;
}

export interface DispatcherStats {
  /** Actions waiting in the outbox. */
  depth: number;
  /** Age of the oldest waiting action, ms; 0 when empty. */
  oldestAgeMs: number;
  /** Actions delivered, by type. */
  sent: Record<ActionType, number>;
  /** Failed attempts, by kind. */
  errors: Record<CmmsErrorKind, number>;
  lastError?: { kind: CmmsErrorKind; message: string; at: number };
  ordersCreated: number;
  ordersAdopted: number;
  /** Alarm keys whose next action is parked after a permanent refusal. */
  parked: number;
  /** Actions lost: outbox limits, unreadable records, or a disk that refused them. */
  dropped: number;
  /** Set while something is parked: what the operator must fix. */
  alarm?: string;
  /** False when the outbox file could not be opened and actions live in memory only. */
  durable: boolean;
}

interface Block {
  until: number;
  parked: boolean;
}

/** Records read from the outbox per step of a pass. */
const PAGE = 100;
/** Longest idle sleep: limits (age) are enforced and parked keys retried at least this often, ms. */
const IDLE_MS = 60_000;

/**
 * Delivers alarm actions (open, comment, close) to one target through a bounded durable outbox
 * (core/durable-queue.ts: the alarm key as topic, the action JSON as payload), in order per
 * alarm key and across restarts. One action at a time. A transient failure stops the pass and
 * backs off (capped, jittered); a permanent one parks that key's actions for
 * `permanentRetryMs` (or until retryNow) while other keys go on; an unknown outcome holds the
 * key for `reconcileDelayMs`, then the target reconciles. `open`, `comment` and `close` never
 * throw: an action the disk refuses is logged and counted as dropped.
 */
export class WorkOrderDispatcher {
  private readonly queue: DurableQueue;
  private readonly durable: boolean;
  private lastId: number;
  private readonly blocked = new Map<string, Block>();
  /** Outbox ids whose last attempt ended without an answer. */
  private readonly doubtful = new Set<number>();
  private readonly backoff: Backoff;
  private readonly counts = {
    sent: Object.fromEntries(ACTION_TYPES.map((t) => [t, 0])) as Record<ActionType, number>,
    errors: Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<CmmsErrorKind, number>,
    lost: 0,
  };
  private lastError?: DispatcherStats['lastError'];
  private alarm?: string;
  /** Error signatures already logged at warn level since the last success. */
  private readonly logged = new Set<string>();
  private wake = new AbortController();
  /** Waiting out a transient failure: new actions do not cut the wait short, retryNow does. */
  private backingOff = false;
  private running?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly target: ActionTarget,
    private readonly log: Logger,
  ) {
    const { queue, durable, openError } = openDurableOrMemory(options.path, options);
    this.durable = durable;
    if (openError !== undefined)
      log.error(
        { path: options.path, err: openError },
        'outbox file cannot be opened; actions are kept in memory only and lost on restart: fix the folder permissions or free space, or set outbox.path',
      );
    this.queue = queue;
    this.lastId = queue.maxId();
    this.backoff = new Backoff({
      initialMs: options.retryInitialMs ?? 1000,
      maxMs: options.retryMaxMs,
      jitter: options.jitter ?? 0.2,
    });
  }

  /** Starts delivering what the outbox holds, and what is added later. */
  start(): void {
    this.running ??= this.run().catch((err: unknown) =>
      this.log.error({ err: errorMessage(err) }, 'dispatcher stopped by a bug: please report it'),
    );
  }

  open(input: Omit<OpenAction, 'type' | 'at'> & { at?: number }): void {
    this.enqueue({ ...input, type: 'open', at: input.at ?? Date.now() });
  }

  comment(key: string, text: string, at = Date.now()): void {
    this.enqueue({ type: 'comment', key, text, at });
  }

  close(key: string, how: { complete: boolean; text: string }, at = Date.now()): void {
    this.enqueue({ type: 'close', key, at, ...how } satisfies CloseAction);
  }

  /** Tries parked actions now, e.g. after the operator fixed a licence or an asset. */
  retryNow(): void {
    for (const [key, block] of this.blocked) if (block.parked) this.blocked.delete(key);
    this.alarm = undefined;
    this.backoff.success();
    this.kick(true);
  }

  stats(now = Date.now()): DispatcherStats {
    const oldest = this.queue.read(0, Number.MAX_SAFE_INTEGER, 1)[0];
    const parked = [...this.blocked.values()].filter((b) => b.parked && b.until > now).length;
    return {
      depth: this.queue.totals.messages,
      oldestAgeMs: oldest ? Math.max(0, now - oldest.ts) : 0,
      sent: { ...this.counts.sent },
      errors: { ...this.counts.errors },
      ...(this.lastError ? { lastError: { ...this.lastError } } : {}),
      ordersCreated: this.target.counters?.created ?? 0,
      ordersAdopted: this.target.counters?.adopted ?? 0,
      parked,
      dropped: this.queue.dropped.messages + this.counts.lost,
      ...(this.alarm !== undefined && parked > 0 ? { alarm: this.alarm } : {}),
      durable: this.durable,
    };
  }

  /** Stops after the attempt in progress; returns how many actions stay in the outbox for next time. */
  async stop(): Promise<{ pending: number }> {
    this.stopping = true;
    this.target.stop?.();
    this.wake.abort();
    await this.running;
    this.target.close?.();
    const pending = this.queue.totals.messages;
    this.queue.close();
    return { pending };
  }

  private enqueue(action: CmmsAction): void {
    if (this.stopping) {
      this.counts.lost += 1;
      this.log.warn({ key: action.key, type: action.type }, 'action after stop dropped');
      return;
    }
    const id = this.lastId + 1;
    const now = Date.now();
    try {
      this.queue.commit(
        [{ id, ts: now, topic: action.key, payload: JSON.stringify(action), samples: 1 }],
        [],
      );
      this.lastId = id;
      const dropped = this.queue.enforceLimits(now);
      if (dropped.messages > 0)
        this.log.warn(
          { dropped: dropped.messages, total: this.queue.dropped.messages },
          'outbox full or too old: oldest actions dropped; raise outbox.maxBytes/maxAgeMs or fix the target',
        );
    } catch (err) {
      this.counts.lost += 1;
      this.log.error(
        { key: action.key, type: action.type, err: errorMessage(err) },
        'action lost: the outbox refused it (disk full or read-only?)',
      );
      return;
    }
    this.kick();
  }

  private kick(force = false): void {
    if (force || !this.backingOff) this.wake.abort();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.wake = new AbortController();
      const result = await this.pass();
      if (this.stopping) break;
      if (result === 'backoff') {
        this.backingOff = true;
        await sleep(this.backoff.nextDelay(), this.wake.signal);
        this.backingOff = false;
      } else if (result === 'idle') {
        const next = Math.min(
          ...[...this.blocked.values()].map((b) => b.until),
          Date.now() + IDLE_MS,
        );
        await sleep(Math.max(0, next - Date.now()), this.wake.signal);
      }
    }
  }

  /**
   * One walk over the outbox in id order. `progress`: something was delivered, walk again;
   * `backoff`: the target is unavailable; `idle`: nothing deliverable now.
   */
  private async pass(): Promise<'progress' | 'backoff' | 'idle'> {
    const now = Date.now();
    this.queue.enforceLimits(now);
    for (const [key, block] of this.blocked) if (block.until <= now) this.blocked.delete(key);
    // A key skipped once in this pass stays skipped, so its later actions never overtake it.
    const skipped = new Set<string>(this.blocked.keys());
    let progress = false;
    for (let after = 0; !this.stopping;) {
      const page = this.queue.read(after, Number.MAX_SAFE_INTEGER, PAGE);
      if (page.length === 0) break;
      for (const record of page) {
        after = record.id;
        if (this.stopping) return 'idle';
        if (skipped.has(record.topic)) continue;
        const outcome = await this.deliver(record);
        if (outcome === 'done') progress = true;
        else if (outcome === 'backoff') return 'backoff';
        else skipped.add(record.topic);
      }
    }
    return progress ? 'progress' : 'idle';
  }

  private async deliver(record: QueueRecord): Promise<'done' | 'held' | 'backoff'> {
    const action = parseAction(record);
    if (!action) {
      this.counts.lost += 1;
      this.log.error(
        { id: record.id, key: record.topic },
        'unreadable action in the outbox dropped',
      );
      this.remove(record.id);
      return 'done';
    }
    try {
      await this.target.apply(action, { id: record.id, doubtful: this.doubtful.has(record.id) });
    } catch (err) {
      return this.failed(record, action, err);
    }
    this.remove(record.id);
    this.doubtful.delete(record.id);
    this.counts.sent[action.type] += 1;
    this.backoff.success();
    this.logged.clear();
    return 'done';
  }

  private failed(record: QueueRecord, action: CmmsAction, err: unknown): 'held' | 'backoff' {
    const now = Date.now();
    if (err instanceof Deferred) {
      this.blocked.set(action.key, { until: err.until, parked: false });
      this.log.debug({ key: action.key, until: err.until }, err.message);
      return 'held';
    }
    const error =
      err instanceof CmmsError
        ? err
        : new CmmsError('transient', `${this.target.name}: ${errorMessage(err)}`);
    this.counts.errors[error.kind] += 1;
    this.lastError = { kind: error.kind, message: error.message, at: now };
    const fields = {
      target: this.target.name,
      key: action.key,
      type: action.type,
      kind: error.kind,
      status: error.status,
    };
    const signature = `${error.kind}:${error.status ?? ''}:${error.licence}`;
    const first = !this.logged.has(signature);
    this.logged.add(signature);
    switch (error.kind) {
      case 'transient':
        if (first)
          this.log.warn(
            { ...fields, err: error.message },
            'target unavailable; retrying with backoff',
          );
        return 'backoff';
      case 'unknown-outcome':
        this.doubtful.add(record.id);
        this.blocked.set(action.key, { until: now + this.options.reconcileDelayMs, parked: false });
        this.log.warn(
          { ...fields, err: error.message, reconcileInMs: this.options.reconcileDelayMs },
          'no answer to a request that was sent; reconciling before trying again',
        );
        return 'held';
      case 'permanent':
        this.blocked.set(action.key, { until: now + this.options.permanentRetryMs, parked: true });
        this.alarm = `${this.target.name} refused ${action.type} for ${action.key}: ${error.message}. Parked; retried every ${Math.round(this.options.permanentRetryMs / 60_000)} min or on retry`;
        if (first)
          this.log.error({ ...fields, err: error.message }, 'action refused; parked until fixed');
        return 'held';
    }
  }

  private remove(id: number): void {
    try {
      this.queue.commit([], [[id, id]]);
    } catch (err) {
      // Delivered but still stored: it would be delivered again after a restart; say so.
      this.log.error(
        { id, err: errorMessage(err) },
        'cannot remove a delivered action from the outbox',
      );
    }
  }
}

function parseAction(record: QueueRecord): CmmsAction | undefined {
  try {
    const parsed = actionSchema.safeParse(JSON.parse(String(record.payload)));
    return parsed.success && parsed.data.key === record.topic ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
