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
import { qualityCode, SampleFrame } from '../sample-frame.js';
import type { Quality, Reading, SourceStatus, TagSource, TagValue } from '../types.js';
import { resolveBrowsePath } from './browse.js';
import { OpcuaConnection, type ConnectionOptions } from './connection.js';
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
  /** Notifications held between two read() calls; beyond, the oldest per tag are merged away. */
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
  /** Notifications merged away because read() fell behind. */
  dropped: number;
  /** Tags whose node could not be found or monitored in the current session, with why. */
  unresolved: Record<string, string>;
}

interface Live {
  nodeIds: Map<string, NodeId>;
  subscriptions: ClientSubscription[];
  timer: NodeJS.Timeout;
  lastHeard: number;
}

/**
 * An OPC UA server as a TagSource: subscription tags arrive as notifications (with the server's
 * source timestamp and status) and are handed over at the next read(); poll tags are read then.
 * The connection recovers by itself; each new session resolves browse paths again and creates
 * its subscriptions afresh, so a restarted server with a rebuilt address space works too.
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
  /** Tag index by id. */
  private readonly byId = new Map<string, number>();
  private readonly frame: SampleFrame;
  private readonly pollTags: OpcuaTagSpec[];
  private readonly subscribedTags: OpcuaTagSpec[];
  /** Built-in type of each tag's value as last seen, for typed writes. */
  private readonly builtin = new Map<string, DataType>();
  private queue: Reading[] = [];
  /**
   * Latest reading of each subscribed tag in this session, repeated while nothing changes, and
   * the read() it arrived before. Entries are updated in place: no allocation per notification.
   */
  private readonly latest = new Map<string, { reading: Reading; drain: number }>();
  private drains = 0;
  private live?: Live;
  private started = false;
  private failedPolls = 0;
  /** Once a minute at most: a consumer that stays behind would compact on every few packets. */
  private readonly compactionLog = new LogLimiter(60_000);

  constructor(
    options: Pick<OpcuaDeviceOptions, 'connection'> & Partial<OpcuaDeviceOptions>,
    private readonly tags: readonly OpcuaTagSpec[],
    private readonly log: Logger = silentLogger,
  ) {
    this.options = { ...DEFAULT_OPCUA_DEVICE, ...options };
    this.tagIds = tags.map((t) => t.id);
    tags.forEach((t, i) => this.byId.set(t.id, i));
    this.frame = new SampleFrame(this.tagIds);
    this.pollTags = tags.filter((t) => t.mode === 'poll');
    this.subscribedTags = tags.filter((t) => t.mode === 'subscription');
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

  async read(): Promise<SampleFrame> {
    const readings = await this.collect();
    const frame = this.frame;
    frame.reset(readings.length);
    readings.forEach((r, s) =>
      frame.put(
        s,
        this.byId.get(r.id)!,
        r.value,
        qualityCode(r.quality),
        r.reason,
        r.ts,
        r.sourceTs,
      ),
    );
    return frame;
  }

  /** What arrived since the last read, the unchanged values repeated and the polled tags read. */
  private async collect(): Promise<Reading[]> {
    this.start();
    const now = Date.now();
    const session = this.connection.activeSession;
    this.status.connected = session !== undefined;
    this.status.sessions = this.connection.status.sessions;
    this.status.reconnects = Math.max(0, this.connection.status.sessions - 1);
    if (!session || !this.live) {
      this.queue = [];
      const reason = this.connection.status.lastError;
      this.status.lastError = reason;
      // Still on the first attempt: nothing is known yet, so nothing is published (a burst of
      // bad values at every agent start would only be noise on the dashboards).
      if (reason === undefined) return [];
      return this.tags.map((t) => bad(t.id, `disconnected: ${reason}`, now));
    }
    this.status.lastError = undefined;
    const out = this.queue;
    this.queue = [];
    // A subscribed value that did not change is still current (the subscription is alive):
    // repeat it as read now, so the agent's heartbeat and quality logic work as for polled tags.
    const drain = this.drains++;
    for (const entry of this.latest.values())
      if (entry.drain !== drain) out.push({ ...entry.reading, ts: now });
    for (const [id, reason] of Object.entries(this.status.unresolved))
      out.push(bad(id, reason, now));
    if (this.pollTags.length > 0) out.push(...(await this.poll(session, this.live)));
    return out;
  }

  private async poll(session: ClientSession, live: Live): Promise<Reading[]> {
    const out: Reading[] = [];
    const tags = this.pollTags.filter((t) => live.nodeIds.has(t.id));
    const { chunkSize } = this.options;
    for (let i = 0; i < tags.length; i += chunkSize) {
      const chunk = tags.slice(i, i + chunkSize);
      this.status.requests += 1;
      try {
        const values = await session.read(
          chunk.map((t) => ({ nodeId: live.nodeIds.get(t.id)!, attributeId: AttributeIds.Value })),
        );
        chunk.forEach((t, j) => out.push(this.reading(t.id, values[j]!)));
        this.failedPolls = 0;
      } catch (err) {
        this.status.errors += 1;
        this.status.lastError = `read failed: ${errorMessage(err)}`;
        const now = Date.now();
        for (const t of chunk) out.push(bad(t.id, this.status.lastError, now));
        // A server that stopped answering (no FIN, e.g. a cut cable): a poll-only device has
        // no subscription keep-alive to notice it, so two failed polls in a row reconnect.
        if (++this.failedPolls >= 2) this.connection.fail(this.status.lastError);
      }
    }
    return out;
  }

  /** One DataValue as a reading: read now, changed at the server's source timestamp. */
  private reading(id: string, dv: DataValue): Reading {
    const ts = Date.now();
    const sourceTs = dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? ts;
    const status = qualityOf(dv.statusCode);
    const variant = dv.value;
    if (variant.dataType !== DataType.Null) this.builtin.set(id, variant.dataType);
    if (status.quality === 'bad') return bad(id, status.reason ?? 'bad', ts, sourceTs);
    const converted = fromVariant(variant.dataType, variant.value, variant.arrayType);
    if (converted.value === null)
      return bad(id, converted.reason ?? status.reason ?? 'no value', ts, sourceTs);
    const index = this.byId.get(id);
    const expected = index === undefined ? undefined : this.tags[index]!.valueType;
    if (expected !== undefined && typeof converted.value !== expected)
      return bad(
        id,
        `type mismatch: the node holds a ${DataType[variant.dataType]}, the config says ${expected}`,
        ts,
        sourceTs,
      );
    const r: Reading = { id, value: converted.value, quality: status.quality, ts, sourceTs };
    if (status.reason) r.reason = status.reason;
    return r;
  }

  private push(id: string, dv: DataValue): void {
    this.status.notifications += 1;
    if (this.live) this.live.lastHeard = Date.now();
    if (this.queue.length >= this.options.maxQueued) this.compact();
    const r = this.reading(id, dv);
    this.queue.push(r);
    const entry = this.latest.get(id);
    if (entry) {
      entry.reading = r;
      entry.drain = this.drains;
    } else this.latest.set(id, { reading: r, drain: this.drains });
  }

  /** Keeps the latest reading per tag: a slow consumer loses intermediate values, not state. */
  private compact(): void {
    const latest = new Map<string, Reading>();
    for (const r of this.queue) latest.set(r.id, r);
    this.status.dropped += this.queue.length - latest.size;
    this.queue = [...latest.values()];
    if (!this.compactionLog.take('compaction').log) return;
    this.log.warn(
      { device: this.name, dropped: this.status.dropped },
      'OPC UA notifications arrive faster than the agent takes them; intermediate values merged',
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
    const byInterval = new Map<number, OpcuaTagSpec[]>();
    for (const t of this.subscribedTags) {
      if (!nodeIds.has(t.id)) continue;
      const list = byInterval.get(t.publishingIntervalMs) ?? [];
      list.push(t);
      byInterval.set(t.publishingIntervalMs, list);
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
    const unresolved = Object.keys(this.status.unresolved).length;
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

  /** Node ids of every tag; browse paths are walked again on each session. */
  private async resolve(session: ClientSession): Promise<Map<string, NodeId>> {
    const nodeIds = new Map<string, NodeId>();
    const cache = new Map<string, Promise<ReferenceDescription[]>>();
    const unresolved: Record<string, string> = {};
    for (const t of this.tags) {
      try {
        nodeIds.set(
          t.id,
          t.ref.kind === 'nodeId'
            ? resolveNodeId(t.ref.nodeId)
            : await resolveBrowsePath(session, t.ref.elements, cache),
        );
      } catch (err) {
        const where = t.ref.kind === 'nodeId' ? t.ref.nodeId : formatBrowsePath(t.ref.elements);
        unresolved[t.id] = `node not found: ${where}: ${errorMessage(err)}`;
      }
    }
    this.status.unresolved = unresolved;
    return nodeIds;
  }

  /** Creates monitored items in groups of equal parameters, chunked. */
  private async monitor(
    subscription: ClientSubscription,
    tags: OpcuaTagSpec[],
    nodeIds: Map<string, NodeId>,
    lost: AbortSignal,
  ): Promise<void> {
    const groups = new Map<string, OpcuaTagSpec[]>();
    for (const t of tags) {
      const key = JSON.stringify([t.samplingIntervalMs, t.queueSize, t.deadband ?? null]);
      const list = groups.get(key) ?? [];
      list.push(t);
      groups.set(key, list);
    }
    for (const list of groups.values()) {
      const first = list[0]!;
      for (let i = 0; i < list.length; i += this.options.chunkSize) {
        if (lost.aborted) return;
        const chunk = list.slice(i, i + this.options.chunkSize);
        const group = ClientMonitoredItemGroup.create(
          subscription,
          chunk.map((t) => ({ nodeId: nodeIds.get(t.id)!, attributeId: AttributeIds.Value })),
          {
            samplingInterval: first.samplingIntervalMs,
            queueSize: first.queueSize,
            discardOldest: true,
            ...(first.deadband ? { filter: dataChangeFilter(first.deadband) } : {}),
          },
          TimestampsToReturn.Both,
        );
        group.on('changed', (_item, dv, index) => this.push(chunk[index]!.id, dv));
        await new Promise<void>((resolve, reject) => {
          group.once('initialized', resolve);
          group.once('terminated', (err) => reject(err));
        });
        group.monitoredItems.forEach((item, j) => {
          if (item.statusCode.isNotGood())
            this.status.unresolved[chunk[j]!.id] = `cannot monitor: ${item.statusCode.name}`;
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
    this.queue = [];
    this.latest.clear();
    this.status.connected = false;
    this.status.lastError = reason;
    this.status.errors += 1;
  }

  async write(id: string, value: TagValue): Promise<void> {
    const index = this.byId.get(id);
    const tag = index === undefined ? undefined : this.tags[index];
    if (!tag) throw new Error(`device ${this.name} has no tag ${id}`);
    const session = this.connection.activeSession;
    const nodeId = this.live?.nodeIds.get(id);
    if (!session) throw new Error(`write to ${id} failed: ${this.name} is not connected`);
    if (!nodeId) throw new Error(`write to ${id} failed: ${this.status.unresolved[id]}`);
    let dataType = this.builtin.get(id);
    if (dataType === undefined) {
      const current = await session.read({ nodeId, attributeId: AttributeIds.Value });
      dataType = current.value.dataType;
      if (dataType === DataType.Null)
        throw new Error(`write to ${id} failed: the node holds no value, so its type is unknown`);
      this.builtin.set(id, dataType);
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

const BAD: Quality = 'bad';

function bad(id: string, reason: string, ts: number, sourceTs?: number): Reading {
  const r: Reading = { id, value: null, quality: BAD, reason, ts };
  if (sourceTs !== undefined) r.sourceTs = sourceTs;
  return r;
}
