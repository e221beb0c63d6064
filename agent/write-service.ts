import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { driverFor } from '../protocols/registry.js';
import { MAX_WRITE_TEXT, WriteRefused } from '../protocols/tag-values.js';
import type { TagSource, TagValue } from '../protocols/types.js';
import type { AgentConfig } from './config.js';
import { findWritableTag, targetAddress, type WriteTarget } from './guarded-write.js';

export interface WriteRequest {
  /** `asset/tag`. Requests are queued per ref, so callers must always spell a tag the same way. */
  ref: string;
  /** A JSON value: number, boolean, or text read as the CLI reads it (`"on"`, `"12.5"`). */
  value: unknown;
  /** Who asked. Self-declared by the requester: who may write is the broker ACL's decision. */
  by: string;
  /** The requester's own id, echoed in the result. */
  id?: string;
}

export interface WriteResult {
  ok: boolean;
  ref: string;
  id?: string;
  /** Engineering value once it parsed, else what was asked for. */
  value?: unknown;
  /** What was sent to the device (scale and offset reversed). */
  raw?: unknown;
  reason?: string;
  by: string;
  ts: number;
}

export type WriteExecutor = (device: string, tagId: string, raw: TagValue) => Promise<void>;

export interface WriteServiceOptions {
  /** Requests per tag waiting or in flight; more are refused rather than queued without bound. */
  maxQueuedPerTag: number;
}

/** The executor of an agent whose device sources are keyed by device name. */
export function sourceExecutor(
  sources: ReadonlyMap<string, Pick<TagSource, 'write'>>,
): WriteExecutor {
  return (device, tagId, raw) => {
    const source = sources.get(device);
    // A config reloaded with a new device names one that is not polled (yet).
    if (!source) return Promise.reject(new Error(`device ${device} is not running on this node`));
    return source.write(tagId, raw);
  };
}

type Outcome = 'accepted' | 'refused' | 'failed';

/**
 * Writes to PLC tags on request, whatever the transport: every request passes the agent's
 * switch, the tag's `writable` flag, its type and limits before anything reaches the device,
 * and every outcome is logged and counted. Requests for one tag run one at a time in arrival
 * order, so a later value never overtakes an earlier one on the wire.
 */
export class WriteService {
  readonly stats = { accepted: 0, refused: 0, failed: 0 };
  private readonly queues = new Map<string, { tail: Promise<unknown>; size: number }>();
  private readonly options: WriteServiceOptions;

  constructor(
    private readonly getConfig: () => AgentConfig,
    private readonly execute: WriteExecutor,
    private readonly log: Logger,
    options: Partial<WriteServiceOptions> = {},
  ) {
    this.options = { maxQueuedPerTag: 16, ...options };
  }

  /** Never throws: every problem becomes a result with `ok: false` and a reason. */
  async request(req: WriteRequest): Promise<WriteResult> {
    let queue = this.queues.get(req.ref);
    if (!queue) {
      queue = { tail: Promise.resolve(), size: 0 };
      this.queues.set(req.ref, queue);
    }
    if (queue.size >= this.options.maxQueuedPerTag) {
      return this.refuse(
        req,
        `${queue.size} writes to ${req.ref} are already waiting for the device; try again when they are done`,
      );
    }
    queue.size += 1;
    // Checked when its turn comes, not on arrival: a config reloaded meanwhile applies.
    const result = queue.tail.then(() => this.attempt(req));
    queue.tail = result;
    try {
      return await result;
    } finally {
      queue.size -= 1;
      if (queue.size === 0) this.queues.delete(req.ref);
    }
  }

  /** For requests a transport could not decode: counted and logged like any refusal. */
  refuse(req: Omit<WriteRequest, 'value'> & { value?: unknown }, reason: string): WriteResult {
    return this.finish('refused', req, { reason });
  }

  private async attempt(req: WriteRequest): Promise<WriteResult> {
    let target: WriteTarget;
    let value: TagValue;
    let raw: TagValue;
    try {
      const config = this.getConfig();
      if (!config.writes.enabled) {
        throw new WriteRefused(
          `writes are disabled on node ${config.node}: set writes.enabled: true in the agent config to accept them`,
        );
      }
      target = findWritableTag(config, req.ref);
      ({ value, raw } = driverFor(target.device).prepareWrite(
        target.device,
        target.tag,
        req.value,
        target.id,
      ));
    } catch (err) {
      // Anything before the device is reached is a refusal: nothing was sent.
      return this.finish('refused', req, { reason: errorMessage(err) });
    }
    const sent = { value, raw, device: target.device.name, address: targetAddress(target) };
    try {
      await this.execute(target.device.name, target.id, raw);
    } catch (err) {
      return this.finish('failed', req, { ...sent, reason: errorMessage(err) });
    }
    return this.finish('accepted', req, sent);
  }

  private finish(
    outcome: Outcome,
    req: Omit<WriteRequest, 'value'> & { value?: unknown },
    detail: {
      value?: TagValue;
      raw?: TagValue;
      device?: string;
      address?: string | number;
      reason?: string;
    },
  ): WriteResult {
    this.stats[outcome] += 1;
    const result: WriteResult = {
      ok: outcome === 'accepted',
      ref: req.ref,
      ...(req.id !== undefined ? { id: req.id } : {}),
      value: detail.value ?? echoed(req.value),
      ...(detail.raw !== undefined ? { raw: detail.raw } : {}),
      ...(detail.reason !== undefined ? { reason: detail.reason } : {}),
      by: req.by,
      ts: Date.now(),
    };
    const fields = {
      by: req.by,
      ref: req.ref,
      id: req.id,
      value: result.value,
      raw: detail.raw,
      device: detail.device,
      address: detail.address,
      result: outcome,
      reason: detail.reason,
    };
    if (outcome === 'accepted') this.log.info(fields, 'write done');
    else this.log.warn(fields, outcome === 'refused' ? 'write refused' : 'write failed');
    return result;
  }
}

/** What was asked for, to echo in a refusal, when it is small enough to echo. */
function echoed(value: unknown): TagValue | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string' && value.length <= MAX_WRITE_TEXT) return value;
  return undefined;
}
