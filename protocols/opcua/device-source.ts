import {
  AttributeIds,
  ClientMonitoredItemGroup,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  resolveNodeId,
  TimestampsToReturn,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type NodeId,
  type ReferenceDescription,
} from 'node-opcua-client';
import { errorMessage } from '../../core/errors.js';
import { LogLimiter } from '../../core/log-limiter.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { BAD, qualityCode, SampleFrame } from '../sample-frame.js';
import type { SourceStatus, TagSource, TagValue } from '../types.js';
import { resolveBrowsePath } from './browse.js';
import { OpcuaConnection, type ConnectionOptions } from './connection.js';
import { NotificationBuffer } from './notification-buffer.js';
import { formatBrowsePath, type NodeRef } from './node-ref.js';
import { qualityOf } from './status.js';
import { fromVariant, toVariantValue } from './values.js';

export interface OpcuaTagSpec {
  id: string;
  ref: NodeRef;
  /** subscription: the server reports changes; poll: a Read every poll cycle. */
  mode: 'subscription' | 'poll';
  publishingIntervalMs: number;
  samplingIntervalMs: number;
  queueSize: number;
  /** Server-side data-change filter; percent needs the node's EURange. */
  deadband?: { type: 'absolute' | 'percent'; value: number };
  /** The value type the config expects; another one is a bad reading that says so. */
  valueType?: 'number' | 'boolean' | 'string';
}

export interface OpcuaDeviceOptions {
  connection: Omit<ConnectionOptions, 'name'> & { name: string };
  /** A subscription that sends neither data nor keep-alive for this long is dead, ms. */
  keepAliveMs: number;
  /**
   * Older values of a tag that changed again before read() took them, held for the next read();
   * beyond this many they are dropped and counted. Each tag's latest value is always kept.
   */
  maxQueued: number;
  /** Nodes per Read or CreateMonitoredItems request. */
  chunkSize: number;
}

export const DEFAULT_OPCUA_DEVICE: Omit<OpcuaDeviceOptions, 'connection'> = {
  keepAliveMs: 5_000,
  maxQueued: 200_000,
  chunkSize: 1_000,
};

export interface OpcuaDeviceStatus extends SourceStatus {
  sessions: number;
  reconnects: number;
  notifications: number;
  /** Intermediate values dropped because read() fell behind. */
  dropped: number;
  /** Tags whose node could not be found or monitored in the current session, with why. */
  unresolved: Record<string, string>;
}

interface Live {
  /** Node id of each tag by index; undefined where it could not be resolved. */
  nodeIds: (NodeId | undefined)[];
  subscriptions: ClientSubscription[];
  timer: NodeJS.Timeout;
  lastHeard: number;
}

/**
 * An OPC UA server as a TagSource: subscription tags arrive as notifications (with the server's
 * source timestamp and status) and are handed over at the next read(); poll tags are read then.
 * The connection recovers by itself; each new session resolves browse paths again and creates
 * its subscriptions afresh, so a restarted server with a rebuilt address space works too.
 * Notifications wait for read() in a NotificationBuffer; other state is by tag index too.
 */
export class OpcuaDeviceSource implements TagSource {
  readonly status: OpcuaDeviceStatus = {
    connected: false,
    requests: 0,
    errors: 0,
    sessions: 0,
    reconnects: 0,
    notifications: 0,
    dropped: 0,
    unresolved: {},
  };
  private readonly options: OpcuaDeviceOptions;
  private readonly connection: OpcuaConnection;
  readonly tagIds: readonly string[];
  /** Indices of the polled and of the subscribed tags. */
  private readonly pollTags: number[] = [];
  private readonly subscribedTags: number[] = [];
  /** Built-in type of each tag's value as last seen, for typed writes; 0 (Null) until seen. */
  private readonly builtin: Uint8Array;
  private readonly notifications: NotificationBuffer;
  /** What read() hands out: valid until the next read(), as TagSource promises. */
  private readonly out: SampleFrame;
  /** Tags whose node could not be resolved or monitored in this session, with why. */
  private unresolved = new Map<number, string>();
  private live?: Live;
  private started = false;
  private failedPolls = 0;
  /** Once a minute at most: a consumer that stays behind would drop on every few packets. */
  private readonly dropLog = new LogLimiter(60_000);

  constructor(
    options: Pick<OpcuaDeviceOptions, 'connection'> & Partial<OpcuaDeviceOptions>,
    private readonly tags: readonly OpcuaTagSpec[],
    private readonly log: Logger = silentLogger,
  ) {
    this.options = { ...DEFAULT_OPCUA_DEVICE, ...options };
    this.tagIds = tags.map((t) => t.id);
    tags.forEach((t, i) => (t.mode === 'poll' ? this.pollTags : this.subscribedTags).push(i));
    this.builtin = new Uint8Array(tags.length);
    this.notifications = new NotificationBuffer(this.tagIds, this.options.maxQueued, (n) =>
      this.onDropped(n),
    );
    this.out = new SampleFrame(this.tagIds);
    this.connection = new OpcuaConnection(
      this.options.connection,
      {
        setup: (session, lost) => this.setup(session, lost),
        lost: (reason) => this.onLost(reason),
      },
      log,
    );
  }

  get name(): string {
    return this.options.connection.name;
  }

  /** Starts connecting; read() calls it too, so an agent needs no extra step. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connection.start();
  }

  /** What arrived since the last read, the unchanged values repeated and the polled tags read. */
  async read(): Promise<SampleFrame> {
    this.start();
    const now = Date.now();
    const session = this.connection.activeSession;
    this.status.connected = session !== undefined;
    this.status.sessions = this.connection.status.sessions;
    this.status.reconnects = Math.max(0, this.connection.status.sessions - 1);
    const out = this.out;
    out.reset(0);
    if (!session || !this.live) {
      this.notifications.discardEarlier();
      const reason = this.connection.status.lastError;
      this.status.lastError = reason;
      // Still on the first attempt: nothing is known yet, so nothing is published (a burst of
      // bad values at every agent start would only be noise on the dashboards).
      if (reason === undefined) return out;
      out.reset(this.tags.length);
      const why = `disconnected: ${reason}`;
      for (let i = 0; i < this.tags.length; i++) out.put(i, i, null, BAD, why, now);
      return out;
    }
    this.status.lastError = undefined;
    this.notifications.drainInto(out, this.subscribedTags, now);
    for (const [i, reason] of this.unresolved) out.put(out.extend(), i, null, BAD, reason, now);
    if (this.pollTags.length > 0) await this.poll(session, this.live, out);
    return out;
  }

  private async poll(session: ClientSession, live: Live, out: SampleFrame): Promise<void> {
    const tags = this.pollTags.filter((i) => live.nodeIds[i] !== undefined);
    const { chunkSize } = this.options;
    for (let c = 0; c < tags.length; c += chunkSize) {
      const chunk = tags.slice(c, c + chunkSize);
      this.status.requests += 1;
      try {
        const values = await session.read(
          chunk.map((i) => ({ nodeId: live.nodeIds[i]!, attributeId: AttributeIds.Value })),
        );
        const ts = Date.now();
        const first = out.extend(chunk.length);
        chunk.forEach((i, j) => this.decode(out, first + j, i, values[j]!, ts));
        this.failedPolls = 0;
      } catch (err) {
        this.status.errors += 1;
        const reason = `read failed: ${errorMessage(err)}`;
        this.status.lastError = reason;
        const now = Date.now();
        for (const i of chunk) out.put(out.extend(), i, null, BAD, reason, now);
        // A server that stopped answering (no FIN, e.g. a cut cable): a poll-only device has
        // no subscription keep-alive to notice it, so two failed polls in a row reconnect.
        if (++this.failedPolls >= 2) this.connection.fail(reason);
      }
    }
  }

  /** One DataValue of tag `i` into `frame` at `slot`: read at `ts`, changed at its source timestamp. */
  private decode(frame: SampleFrame, slot: number, i: number, dv: DataValue, ts: number): void {
    const sourceTs = dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? ts;
    const status = qualityOf(dv.statusCode);
    const variant = dv.value;
    if (variant.dataType !== DataType.Null) this.builtin[i] = variant.dataType;
    if (status.quality === 'bad')
      return frame.put(slot, i, null, BAD, status.reason ?? 'bad', ts, sourceTs);
    const converted = fromVariant(variant.dataType, variant.value, variant.arrayType);
    if (converted.value === null) {
      const reason = converted.reason ?? status.reason ?? 'no value';
      return frame.put(slot, i, null, BAD, reason, ts, sourceTs);
    }
    const expected = this.tags[i]!.valueType;
    if (expected !== undefined && typeof converted.value !== expected) {
      const reason = `type mismatch: the node holds a ${DataType[variant.dataType]}, the config says ${expected}`;
      return frame.put(slot, i, null, BAD, reason, ts, sourceTs);
    }
    frame.put(slot, i, converted.value, qualityCode(status.quality), status.reason, ts, sourceTs);
  }

  private notified(i: number, dv: DataValue): void {
    this.status.notifications += 1;
    const now = Date.now();
    if (this.live) this.live.lastHeard = now;
    this.decode(this.notifications.notified(i), i, i, dv, now);
  }

  /** A slow consumer loses intermediate values, never a tag's latest. */
  private onDropped(n: number): void {
    this.status.dropped += n;
    if (!this.dropLog.take('dropped').log) return;
    this.log.warn(
      { device: this.name, dropped: this.status.dropped },
      'OPC UA notifications arrive faster than the agent takes them; intermediate values dropped',
    );
  }

  private async setup(session: ClientSession, lost: AbortSignal): Promise<void> {
    const nodeIds = await this.resolve(session);
    const live: Live = {
      nodeIds,
      subscriptions: [],
      lastHeard: Date.now(),
      timer: setInterval(() => this.checkAlive(), 1_000),
    };
    // Cleared here as well as in onLost: the setup may fail half way.
    lost.addEventListener('abort', () => clearInterval(live.timer), { once: true });
    this.live = live;
    const byInterval = new Map<number, number[]>();
    for (const i of this.subscribedTags) {
      if (nodeIds[i] === undefined) continue;
      const interval = this.tags[i]!.publishingIntervalMs;
      const list = byInterval.get(interval) ?? [];
      list.push(i);
      byInterval.set(interval, list);
    }
    for (const [interval, tags] of byInterval) {
      // The session may have died meanwhile: do not build on it.
      if (lost.aborted) return;
      const subscription = await session.createSubscription2({
        requestedPublishingInterval: interval,
        // Keep-alive at least every keepAliveMs/2, lifetime 3 keep-alives (the minimum allowed).
        requestedMaxKeepAliveCount: Math.max(
          1,
          Math.floor(this.options.keepAliveMs / 2 / interval),
        ),
        requestedLifetimeCount:
          3 * Math.max(1, Math.floor(this.options.keepAliveMs / 2 / interval)),
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 1,
      });
      live.subscriptions.push(subscription);
      subscription.on('keepalive', () => (live.lastHeard = Date.now()));
      subscription.on('terminated', () =>
        this.connection.fail('the server terminated the subscription'),
      );
      await this.monitor(subscription, tags, nodeIds, lost);
    }
    const unresolved = this.unresolved.size;
    this.log.info(
      {
        device: this.name,
        subscribed: this.subscribedTags.length,
        polled: this.pollTags.length,
        subscriptions: live.subscriptions.length,
        ...(unresolved > 0 ? { unresolved: this.status.unresolved } : {}),
      },
      'OPC UA tags set up',
    );
  }

  /** Node ids of every tag by index; browse paths are walked again on each session. */
  private async resolve(session: ClientSession): Promise<(NodeId | undefined)[]> {
    const nodeIds = new Array<NodeId | undefined>(this.tags.length);
    const cache = new Map<string, Promise<ReferenceDescription[]>>();
    this.unresolved = new Map();
    this.status.unresolved = {};
    for (const [i, t] of this.tags.entries()) {
      try {
        nodeIds[i] =
          t.ref.kind === 'nodeId'
            ? resolveNodeId(t.ref.nodeId)
            : await resolveBrowsePath(session, t.ref.elements, cache);
      } catch (err) {
        const where = t.ref.kind === 'nodeId' ? t.ref.nodeId : formatBrowsePath(t.ref.elements);
        this.markUnresolved(i, `node not found: ${where}: ${errorMessage(err)}`);
      }
    }
    return nodeIds;
  }

  private markUnresolved(i: number, reason: string): void {
    this.unresolved.set(i, reason);
    this.status.unresolved[this.tagIds[i]!] = reason;
  }

  /** Creates monitored items in groups of equal parameters, chunked. */
  private async monitor(
    subscription: ClientSubscription,
    tags: number[],
    nodeIds: (NodeId | undefined)[],
    lost: AbortSignal,
  ): Promise<void> {
    const groups = new Map<string, number[]>();
    for (const i of tags) {
      const t = this.tags[i]!;
      const key = JSON.stringify([t.samplingIntervalMs, t.queueSize, t.deadband ?? null]);
      const list = groups.get(key) ?? [];
      list.push(i);
      groups.set(key, list);
    }
    for (const list of groups.values()) {
      const first = this.tags[list[0]!]!;
      for (let i = 0; i < list.length; i += this.options.chunkSize) {
        if (lost.aborted) return;
        const chunk = list.slice(i, i + this.options.chunkSize);
        const group = ClientMonitoredItemGroup.create(
          subscription,
          chunk.map((i) => ({ nodeId: nodeIds[i]!, attributeId: AttributeIds.Value })),
          {
            samplingInterval: first.samplingIntervalMs,
            queueSize: first.queueSize,
            discardOldest: true,
            ...(first.deadband ? { filter: dataChangeFilter(first.deadband) } : {}),
          },
          TimestampsToReturn.Both,
        );
        group.on('changed', (_item, dv, j) => this.notified(chunk[j]!, dv));
        await new Promise<void>((resolve, reject) => {
          group.once('initialized', resolve);
          group.once('terminated', (err) => reject(err));
        });
        group.monitoredItems.forEach((item, j) => {
          if (item.statusCode.isNotGood())
            this.markUnresolved(chunk[j]!, `cannot monitor: ${item.statusCode.name}`);
        });
      }
    }
  }

  private checkAlive(): void {
    const live = this.live;
    if (!live || live.subscriptions.length === 0) return;
    const silentMs = Date.now() - live.lastHeard;
    // The server promises a message (data or keep-alive) every publishing interval × keep-alive
    // count, as it revised them; twice the longest of those, and at least 2 × keepAliveMs, passes
    // in silence only when the server or the path to it is gone.
    const promisedMs = Math.max(
      ...live.subscriptions.map((s) => s.publishingInterval * s.maxKeepAliveCount),
    );
    if (silentMs > 2 * Math.max(this.options.keepAliveMs, promisedMs) + 1_000)
      this.connection.fail(
        `no data or keep-alive from the server for ${Math.round(silentMs / 1000)} s`,
      );
  }

  private onLost(reason: string): void {
    if (this.live) clearInterval(this.live.timer);
    this.live = undefined;
    this.notifications.clear();
    this.status.connected = false;
    this.status.lastError = reason;
    this.status.errors += 1;
  }

  async write(id: string, value: TagValue): Promise<void> {
    // A scan: writes are rare, and a Map by id would hold a string and an entry per tag.
    const i = this.tagIds.indexOf(id);
    if (i < 0) throw new Error(`device ${this.name} has no tag ${id}`);
    const session = this.connection.activeSession;
    const nodeId = this.live?.nodeIds[i];
    if (!session) throw new Error(`write to ${id} failed: ${this.name} is not connected`);
    if (!nodeId) throw new Error(`write to ${id} failed: ${this.unresolved.get(i)}`);
    let dataType: DataType = this.builtin[i]!;
    if (dataType === DataType.Null) {
      const current = await session.read({ nodeId, attributeId: AttributeIds.Value });
      dataType = current.value.dataType;
      if (dataType === DataType.Null)
        throw new Error(`write to ${id} failed: the node holds no value, so its type is unknown`);
      this.builtin[i] = dataType;
    }
    const typed = toVariantValue(value, dataType, id);
    const status = await session.write({
      nodeId,
      attributeId: AttributeIds.Value,
      value: { value: { dataType, value: typed } },
    });
    if (status.isNotGood())
      throw new Error(`the server refused the write to ${id}: ${status.name}`);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

function dataChangeFilter(deadband: { type: 'absolute' | 'percent'; value: number }) {
  return new DataChangeFilter({
    trigger: DataChangeTrigger.StatusValue,
    deadbandType: deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
    deadbandValue: deadband.value,
  });
}
