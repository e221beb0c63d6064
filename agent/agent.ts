import { dirname, join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { sleep } from '../core/backoff.js';
import { packageVersion } from '../core/package-info.js';
import { ResourceWatchdog, type ResourceReport } from '../core/watchdog.js';
import { errorMessage } from '../core/errors.js';
import { LatencyHistogram } from '../core/histogram.js';
import type { Logger } from '../core/logger.js';
import { ModbusDeviceSource } from '../protocols/modbus/device-source.js';
import { describeTransport, ModbusLine } from '../protocols/modbus/line.js';
import { resolveTag } from '../protocols/modbus/tag-spec.js';
import { connectBroker } from '../protocols/mqtt/broker.js';
import {
  AssetBatchWriter,
  encodeTagPayload,
  withSequence,
  type TagManifest,
} from '../protocols/mqtt/payload.js';
import { NAMESPACE, sparkplugTopic } from '../protocols/mqtt/sparkplug.js';
import { assetTopic, nodeTopic, tagTopic } from '../protocols/mqtt/topics.js';
import type { QueueRecord } from '../core/durable-queue.js';
import type { Reading, TagSource } from '../protocols/types.js';
import {
  lineTransport,
  type AgentConfig,
  type DeviceConfig,
  type ModbusDeviceConfig,
  type TagConfig,
} from './config.js';
import { startHealthServer, type HealthServer } from '../core/http-server.js';
import { stateFile } from '../core/state-dir.js';
import { createAgentMetrics, type AgentMetrics, type AgentMetricsSnapshot } from './metrics.js';
import {
  agentScanOptions,
  InventoryPublisher,
  type InventoryStats,
} from './inventory-publisher.js';
import { MqttWriteHandler } from './mqtt-writes.js';
import { encodeSamples, finalizeSparkplug, type StoredSample } from './sparkplug-records.js';
import { SparkplugSession, type SparkplugSample } from './sparkplug-session.js';
import { Outbox, type OutboxStats } from './outbox.js';
import { shouldPublish, toEngineering, type TagRuntime } from './tag-model.js';
import { sourceExecutor, WriteService } from './write-service.js';

interface DeviceRuntime {
  config: DeviceConfig;
  mode: 'tag' | 'asset';
  /** Sparkplug output: the device's DDATA topic. */
  ddataTopic?: string;
  source: TagSource;
  /** Read requests per cycle after planning. */
  requests: number;
  tags: Map<string, TagRuntime>;
  cycles: number;
  missedCycles: number;
  lastStatus?: string;
}

export interface AgentStats {
  samplesRead: number;
  /** Samples that passed report-by-exception into the outbox. */
  samplesAccepted: number;
  /** Duration of one device's read cycle, ms, over all devices. */
  pollLatencyMs: ReturnType<LatencyHistogram['summary']>;
  outbox?: OutboxStats;
  devices: {
    name: string;
    connected: boolean;
    lastError?: string;
    cycles: number;
    missedCycles: number;
  }[];
}

export interface DeviceHealth {
  name: string;
  status: 'connected' | 'disconnected' | 'failing';
  reason?: string;
  requests: number;
  errors: number;
  timeouts: number;
  cycles: number;
  missedCycles: number;
  latencyMs?: number;
  /** OPC UA: notifications merged away because the agent took them too slowly. */
  dropped?: number;
  /** OPC UA: data-change notifications received from the server. */
  notifications?: number;
}

/** `GET /health` and `_nodes/<node>/health`: what an operator needs to see the node is fine. */
export interface AgentHealth {
  /** ok; degraded: something needs attention (see reasons); down: no device answers. */
  status: 'ok' | 'degraded' | 'down';
  reasons: string[];
  node: string;
  site: string;
  version: string;
  uptimeSec: number;
  ts: number;
  broker: { connected: boolean; reconnects: number; lastError?: string };
  devices: DeviceHealth[];
  samples: { read: number; accepted: number; published: number };
  pollLatencyMs: ReturnType<LatencyHistogram['summary']>;
  outbox?: OutboxStats;
  reloads: { applied: number; rejected: number };
  writes: { enabled: boolean; accepted: number; refused: number; failed: number };
  resources?: ResourceReport;
  /** Inventory scans published and failed (inventory.enabled). */
  inventory?: InventoryStats;
  lastError?: { message: string; at: number };
}

export interface AgentDeps {
  log: Logger;
  /** Broker reconnect delays; tests shorten them. */
  brokerBackoff?: { initialMs?: number; maxMs?: number };
}

function deviceHealth(d: DeviceRuntime): DeviceHealth {
  const s = d.source.status;
  return {
    name: d.config.name,
    status: s.connected ? 'connected' : s.failing ? 'failing' : 'disconnected',
    ...(!s.connected && s.lastError ? { reason: s.lastError } : {}),
    requests: s.requests,
    errors: s.errors,
    timeouts: s.timeouts ?? 0,
    cycles: d.cycles,
    missedCycles: d.missedCycles,
    ...(s.latencyMs !== undefined ? { latencyMs: s.latencyMs } : {}),
    ...(s.dropped !== undefined ? { dropped: s.dropped } : {}),
    ...(s.notifications !== undefined ? { notifications: s.notifications } : {}),
  };
}

/** Under systemd's StateDirectory when there is one, else the working directory. */
function defaultOutboxPath(node: string): string {
  return stateFile(`outbox-${node}.db`);
}

/**
 * The edge process: polls every configured device on its own schedule, turns readings into
 * engineering values and publishes them by exception. One failing device never delays another.
 */
export class Agent {
  private client?: MqttClient;
  private outbox?: Outbox;
  private seqStart?: number;
  private devices: DeviceRuntime[] = [];
  /** Device name → source of the running generation; writes look the device up here. */
  private readonly sources = new Map<string, TagSource>();
  private writes?: WriteService;
  /** Present when publish.output is sparkplug. */
  private sparkplug?: SparkplugSession;
  private lines = new Map<string, ModbusLine>();
  /** Loaded with the first OPC UA device. */
  private opcua?: typeof import('./opcua-source.js');
  /** Stops the current generation of poll loops (on stop or reload). */
  private polling = new AbortController();
  private loops: Promise<void>[] = [];
  private readonly startedAt = Date.now();
  private reloads = { applied: 0, rejected: 0 };
  private samplesRead = 0;
  private samplesAccepted = 0;
  private readonly pollLatency = new LatencyHistogram();
  private window = { latency: new LatencyHistogram(), samplesRead: 0, missedCycles: 0, cycles: 0 };
  private readonly log: Logger;
  private lastError?: { message: string; at: number };
  private broker = {
    reconnects: 0,
    lastError: undefined as string | undefined,
    everConnected: false,
  };
  private watchdog?: ResourceWatchdog;
  private metrics?: AgentMetrics;
  private healthServer?: HealthServer;
  private healthTimer?: NodeJS.Timeout;
  private inventory?: InventoryPublisher;

  constructor(
    private config: AgentConfig,
    private readonly deps: AgentDeps,
  ) {
    this.log = deps.log.child({ component: 'agent', node: config.node });
  }

  get statusTopic(): string {
    return nodeTopic(this.config.site, this.config.node, 'status');
  }

  async start(): Promise<void> {
    const { config } = this;
    if (config.publish.output === 'sparkplug')
      this.sparkplug = new SparkplugSession(
        {
          groupId: config.sparkplug.groupId ?? config.site,
          edgeNode: config.node,
          devices: this.sparkplugDevices(),
        },
        this.deps.log.child({ component: 'sparkplug', node: config.node }),
      );
    this.client = connectBroker(config.mqtt, {
      clientId: `factorylm-agent-${config.node}`,
      // Sparkplug's Will is the NDEATH; its hosts track the node by NBIRTH/NDEATH, not our status.
      will: this.sparkplug
        ? this.sparkplug.will()
        : { topic: this.statusTopic, payload: 'offline', retain: true, qos: 1 },
      log: this.deps.log.child({ component: 'mqtt', node: config.node }),
      backoff: this.deps.brokerBackoff,
    });
    const client = this.client;
    this.sparkplug?.attach(
      client,
      (device, metric) => this.currentSample(device, metric),
      // Sending starts once the birth is out: Sparkplug allows no DATA before it. A rebirth on
      // request does not restart the replay.
      () => {
        if (!this.outbox?.sending) this.outbox?.resume();
      },
      async (_device, metric, value) => {
        await this.writes?.request({ ref: metric, value, by: 'sparkplug DCMD' });
      },
    );
    this.client.on('connect', () => {
      if (!this.sparkplug)
        this.client?.publish(this.statusTopic, 'online', { qos: 1, retain: true });
      this.client?.publish(nodeTopic(config.site, config.node, 'tags'), this.manifest(), {
        qos: 1,
        retain: true,
      });
      for (const d of this.devices) d.lastStatus = undefined;
      if (this.broker.everConnected) this.broker.reconnects += 1;
      this.broker.everConnected = true;
      this.broker.lastError = undefined;
      if (!this.sparkplug) this.outbox?.resume();
    });
    this.client.on('error', (err) => {
      this.broker.lastError = errorMessage(err);
      this.lastError = { message: `MQTT: ${this.broker.lastError}`, at: Date.now() };
    });
    this.outbox = new Outbox(
      this.client,
      {
        ...config.outbox,
        path: config.outbox.path ?? defaultOutboxPath(config.node),
        // Sparkplug 3.0 requires QoS 0 for NDATA/DDATA: a record leaves the outbox once written
        // to the socket instead of on PUBACK.
        qos: this.sparkplug ? 0 : config.publish.qos,
        maxInflight: config.publish.maxInflight,
      },
      (record, historical) => this.finalize(record, historical),
      this.deps.log.child({ component: 'outbox', node: config.node }),
    );
    // Record ids are the node's message sequence; this run's first one goes in the manifest.
    this.seqStart = this.outbox.queue.maxId() + 1;
    const writeLog = this.deps.log.child({ component: 'writes', node: config.node });
    this.writes = new WriteService(() => this.config, sourceExecutor(this.sources), writeLog);
    new MqttWriteHandler(config.site, config.node, this.writes, writeLog).attach(this.client);
    await this.startDevices();
    await this.startHealth();
    if (config.inventory.enabled) {
      this.inventory = new InventoryPublisher(
        { ...agentScanOptions(config), intervalHours: config.inventory.intervalHours },
        this.client,
        this.deps.log.child({ component: 'inventory', node: config.node }),
      );
      this.inventory.start();
    }
  }

  private finalize(record: QueueRecord, historical: boolean): string | Buffer {
    if (this.sparkplug) return finalizeSparkplug(this.sparkplug, record, historical);
    if (record.topic.startsWith(`${NAMESPACE}/`))
      throw new Error('a Sparkplug record, but publish.output is json now; it cannot be sent');
    return withSequence(String(record.payload), record.id, historical);
  }

  /** Every device with its tags as metrics named `<asset>/<tag>`. */
  private sparkplugDevices(): ConstructorParameters<typeof SparkplugSession>[0]['devices'] {
    return this.config.devices.map((d) => ({
      name: d.name,
      metrics:
        d.protocol === 'opcua'
          ? // A birth goes out before the server is read: the configured type, else a number.
            d.tags.map((t) => ({
              name: `${t.asset ?? d.asset}/${t.name}`,
              type: t.type ?? 'number',
            }))
          : d.tags.map((t) => ({
              name: `${t.asset ?? d.asset}/${t.name}`,
              type: tagKind(resolveTag('', t, d.byteOrder).format.type),
            })),
    }));
  }

  /** What a birth reports for a metric: the last value published. */
  private currentSample(device: string, metric: string): SparkplugSample | undefined {
    const last = this.devices.find((d) => d.config.name === device)?.tags.get(metric)?.last;
    return last && { name: metric, value: last.v, quality: last.q, ts: last.at };
  }

  private async startHealth(): Promise<void> {
    const { health } = this.config;
    this.watchdog = new ResourceWatchdog(
      { maxEventLoopLagMs: health.maxEventLoopLagMs, maxRssMb: health.maxRssMb },
      this.deps.log.child({ component: 'watchdog', node: this.config.node }),
    );
    this.watchdog.start();
    this.metrics = createAgentMetrics(() => this.metricsSnapshot());
    if (health.publishIntervalMs > 0) {
      this.healthTimer = setInterval(() => {
        if (!this.client?.connected) return;
        this.client.publish(
          nodeTopic(this.config.site, this.config.node, 'health'),
          JSON.stringify(this.health()),
          { qos: 0, retain: true },
        );
      }, health.publishIntervalMs);
    }
    if (health.port === 0) return;
    const registry = this.metrics.registry;
    try {
      this.healthServer = await startHealthServer(
        { host: health.host, port: health.port, token: health.token, tls: health.tls },
        {
          health: () => this.health(),
          metrics: () => registry.metrics(),
          metricsContentType: registry.contentType,
        },
        this.deps.log.child({ component: 'health', node: this.config.node }),
      );
    } catch (err) {
      // Polling and store-and-forward matter more than the endpoint: keep running without it.
      this.lastError = { message: errorMessage(err), at: Date.now() };
      this.log.error({ err: errorMessage(err) }, 'health endpoint not started');
    }
  }

  /** Where GET /health answers, once started (tests read it). */
  get healthUrl(): string | undefined {
    return this.healthServer?.url;
  }

  health(): AgentHealth {
    const devices = this.devices.map((d) => deviceHealth(d));
    const outbox = this.outbox?.stats;
    const resources = this.watchdog?.report();
    const reasons: string[] = [];
    if (!this.client?.connected)
      reasons.push(
        `MQTT broker not connected${this.broker.lastError ? ` (${this.broker.lastError})` : ''}: samples wait in the outbox; check mqtt.url, credentials and TLS`,
      );
    for (const d of devices)
      if (d.status !== 'connected')
        reasons.push(`device ${d.name} ${d.status}${d.reason ? `: ${d.reason}` : ''}`);
    if (outbox && !outbox.durable)
      reasons.push('outbox is in memory only: samples are lost on restart');
    if (outbox?.lastError) reasons.push(outbox.lastError);
    if (resources) reasons.push(...resources.reasons);
    const anyDevice = devices.some((d) => d.status === 'connected');
    return {
      status: !anyDevice ? 'down' : reasons.length > 0 ? 'degraded' : 'ok',
      reasons: [...new Set(reasons)],
      node: this.config.node,
      site: this.config.site,
      version: packageVersion(),
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      ts: Date.now(),
      broker: {
        connected: this.client?.connected ?? false,
        reconnects: this.broker.reconnects,
        ...(this.broker.lastError ? { lastError: this.broker.lastError } : {}),
      },
      devices,
      samples: {
        read: this.samplesRead,
        accepted: this.samplesAccepted,
        published: outbox?.published.samples ?? 0,
      },
      pollLatencyMs: this.pollLatency.summary(),
      ...(outbox ? { outbox } : {}),
      reloads: { ...this.reloads },
      writes: {
        enabled: this.config.writes.enabled,
        ...(this.writes?.stats ?? { accepted: 0, refused: 0, failed: 0 }),
      },
      ...(resources ? { resources } : {}),
      ...(this.inventory ? { inventory: { ...this.inventory.stats } } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private metricsSnapshot(): AgentMetricsSnapshot {
    const o = this.outbox?.stats;
    return {
      node: this.config.node,
      samplesRead: this.samplesRead,
      samplesPublished: o?.published.samples ?? 0,
      messagesPublished: o?.published.messages ?? 0,
      samplesDropped: o?.dropped.samples ?? 0,
      messagesDropped: o?.dropped.messages ?? 0,
      queueMessages: o?.depth.messages ?? 0,
      queueSamples: o?.depth.samples ?? 0,
      queueBytes: o?.depth.bytes ?? 0,
      inflight: o?.inflight ?? 0,
      brokerConnected: this.client?.connected ?? false,
      brokerReconnects: this.broker.reconnects,
      writes: { ...(this.writes?.stats ?? { accepted: 0, refused: 0, failed: 0 }) },
      reloads: { ...this.reloads },
      devices: this.devices.map((d) => ({
        name: d.config.name,
        connected: d.source.status.connected,
        requests: d.source.status.requests,
        errors: d.source.status.errors,
        cycles: d.cycles,
        missedCycles: d.missedCycles,
        dropped: d.source.status.dropped ?? 0,
      })),
    };
  }

  private async startDevices(previous = new Map<string, TagRuntime>()): Promise<void> {
    // node-opcua is big and slow to load: only agents with OPC UA devices pay for it.
    if (!this.opcua && this.config.devices.some((d) => d.protocol === 'opcua')) {
      this.opcua = await import('./opcua-source.js');
      this.opcua.routeLibraryLogs(this.deps.log);
    }
    this.polling = new AbortController();
    this.devices = this.config.devices.map((d) => this.buildDevice(d));
    this.sources.clear();
    for (const d of this.devices) this.sources.set(d.config.name, d.source);
    // Tags that survive a reload keep their report-by-exception state: no burst of re-publishes.
    for (const d of this.devices)
      for (const t of d.tags.values()) {
        const before = previous.get(t.id);
        if (before?.topic === t.topic) t.last = before.last;
      }
    this.log.info(
      {
        devices: this.devices.map((d) => ({
          name: d.config.name,
          line:
            d.config.protocol === 'opcua'
              ? d.config.endpoint
              : describeTransport(lineTransport(d.config)),
          unit: d.config.protocol === 'opcua' ? undefined : d.config.unitId,
          tags: d.tags.size,
          requests: d.requests,
          pollMs: d.config.pollIntervalMs,
        })),
      },
      'agent started',
    );
    this.loops = this.devices.map((d) =>
      this.pollLoop(d).catch((err) =>
        this.log.error({ device: d.config.name, err: errorMessage(err) }, 'poll loop stopped'),
      ),
    );
  }

  private async stopDevices(): Promise<void> {
    this.polling.abort();
    await Promise.all(this.loops);
    await Promise.all(this.devices.map((d) => d.source.close()));
    await Promise.all([...this.lines.values()].map((l) => l.close()));
    this.lines = new Map();
  }

  /**
   * Applies a new config without touching the outbox: devices, tags and publishing policy change
   * at once; settings bound to the process (broker, outbox, health, identity) need a restart and
   * are kept, with a warning naming them.
   */
  async reload(next: AgentConfig): Promise<{ restartNeeded: string[] }> {
    const old = this.config;
    const fixed = [
      'site',
      'area',
      'line',
      'node',
      'mqtt',
      'outbox',
      'health',
      'sparkplug',
      'inventory',
    ] as const;
    const restartNeeded: string[] = fixed.filter(
      (k) => JSON.stringify(old[k]) !== JSON.stringify(next[k]),
    );
    for (const k of ['output', 'qos', 'maxInflight'] as const)
      if (old.publish[k] !== next.publish[k]) restartNeeded.push(`publish.${k}`);
    const merged: AgentConfig = {
      ...next,
      ...Object.fromEntries(fixed.map((k) => [k, old[k]])),
      publish: {
        ...next.publish,
        output: old.publish.output,
        qos: old.publish.qos,
        maxInflight: old.publish.maxInflight,
      },
    };
    const previous = new Map(this.devices.flatMap((d) => [...d.tags].map(([id, t]) => [id, t])));
    await this.stopDevices();
    this.config = merged;
    await this.startDevices(previous);
    this.reloads.applied += 1;
    this.sparkplug?.redefine(this.sparkplugDevices());
    if (this.client?.connected)
      this.client.publish(nodeTopic(old.site, old.node, 'tags'), this.manifest(), {
        qos: 1,
        retain: true,
      });
    if (restartNeeded.length > 0)
      this.log.warn(
        { keep: restartNeeded },
        'config reloaded; these settings only change on restart and keep their old values',
      );
    else this.log.info('config reloaded');
    return { restartNeeded };
  }

  /** A new config file that failed validation: counted; the running config stays. */
  reloadRejected(reason: string): void {
    this.reloads.rejected += 1;
    this.lastError = { message: `config reload rejected: ${reason}`, at: Date.now() };
    this.log.error({ err: reason }, 'config reload rejected; the running config stays in force');
  }

  async stop(): Promise<void> {
    this.inventory?.stop();
    clearInterval(this.healthTimer);
    this.watchdog?.stop();
    await this.healthServer?.close();
    await this.stopDevices();
    const client = this.client;
    if (!client) return;
    if (this.sparkplug) await this.sparkplug.close();
    else {
      if (client.connected)
        await client
          .publishAsync(this.statusTopic, 'offline', { qos: 1, retain: true })
          .catch(() => undefined);
      await client.endAsync();
    }
    this.outbox?.close();
    this.log.info(this.stats, 'agent stopped');
  }

  get stats(): AgentStats {
    return {
      samplesRead: this.samplesRead,
      samplesAccepted: this.samplesAccepted,
      pollLatencyMs: this.pollLatency.summary(),
      ...(this.outbox ? { outbox: this.outbox.stats } : {}),
      devices: this.devices.map((d) => ({
        name: d.config.name,
        connected: d.source.status.connected,
        lastError: d.source.status.lastError,
        cycles: d.cycles,
        missedCycles: d.missedCycles,
      })),
    };
  }

  /** Figures since the previous call (poll latency, samples, missed cycles), then starts a new window. */
  takeWindow(): {
    cycles: number;
    samplesRead: number;
    missedCycles: number;
    pollLatencyMs: ReturnType<LatencyHistogram['summary']>;
  } {
    const w = this.window;
    this.window = { latency: new LatencyHistogram(), samplesRead: 0, missedCycles: 0, cycles: 0 };
    return {
      cycles: w.cycles,
      samplesRead: w.samplesRead,
      missedCycles: w.missedCycles,
      pollLatencyMs: w.latency.summary(),
    };
  }

  private manifest(): string {
    const body: TagManifest = {
      node: this.config.node,
      ts: Date.now(),
      ...(this.seqStart !== undefined && !this.sparkplug ? { seqStart: this.seqStart } : {}),
      tags: this.devices.flatMap((d) =>
        [...d.tags.values()].map((t) => ({
          topic: t.topic,
          device: t.device,
          writable: t.writable,
          ...(t.unit ? { unit: t.unit } : {}),
          ...(t.address ? { address: t.address } : {}),
        })),
      ),
    };
    return JSON.stringify(body);
  }

  private buildDevice(device: DeviceConfig): DeviceRuntime {
    const tags = new Map<string, TagRuntime>();
    for (const t of device.tags) {
      const asset = t.asset ?? device.asset;
      const id = `${asset}/${t.name}`;
      tags.set(id, {
        id,
        device: device.name,
        asset,
        name: t.name,
        topic: tagTopic({
          site: this.config.site,
          area: this.config.area,
          line: this.config.line,
          asset,
          tag: t.name,
        }),
        jsonKey: JSON.stringify(t.name) + ':',
        scale: t.scale,
        offset: t.offset,
        policy: {
          deadband: t.deadband,
          deadbandPercent: t.deadbandPercent,
          minIntervalMs: t.minIntervalMs ?? this.config.publish.minIntervalMs,
          maxSilenceMs: t.maxSilenceMs ?? this.config.publish.heartbeatMs,
        },
        writable: t.writable,
        unit: t.unit,
        address: tagAddress(t),
      });
    }
    const source =
      device.protocol === 'opcua'
        ? this.opcua!.createOpcuaSource(
            device,
            join(
              dirname(this.config.outbox.path ?? defaultOutboxPath(this.config.node)),
              'opcua-pki',
            ),
            this.deps.log.child({ component: 'opcua', node: this.config.node }),
          )
        : this.modbusSource(device);
    return {
      config: device,
      mode: device.publishMode ?? this.config.publish.mode,
      ...(this.sparkplug
        ? {
            ddataTopic: sparkplugTopic({
              group: this.config.sparkplug.groupId ?? this.config.site,
              verb: 'DDATA',
              edgeNode: this.config.node,
              device: device.name,
            }),
          }
        : {}),
      source,
      requests: source instanceof ModbusDeviceSource ? source.requestCount : 0,
      tags,
      cycles: 0,
      missedCycles: 0,
    };
  }

  private modbusSource(device: ModbusDeviceConfig): ModbusDeviceSource {
    const specs = device.tags.map((t) => {
      const spec = resolveTag(`${t.asset ?? device.asset}/${t.name}`, t, device.byteOrder);
      if (spec.note)
        this.log.info(
          { device: device.name, tag: t.name, note: spec.note },
          'classic address converted',
        );
      return spec;
    });
    const log = this.deps.log.child({ component: 'modbus', node: this.config.node });
    const transport = lineTransport(device);
    const lineKey = describeTransport(transport);
    let line = this.lines.get(lineKey);
    if (!line) {
      // Devices on one line share its connection; the first device's timing settings apply to it.
      line = new ModbusLine(
        {
          transport,
          timeoutMs: device.timeoutMs,
          maxInflight: device.maxInflight,
          interRequestDelayMs: device.interRequestDelayMs,
        },
        log,
      );
      this.lines.set(lineKey, line);
    }
    return new ModbusDeviceSource(
      {
        name: device.name,
        unitId: device.unitId,
        maxGap: device.maxGap,
        maxRegistersPerRead: device.maxRegistersPerRead,
        maxBitsPerRead: device.maxBitsPerRead,
        retries: device.retries,
      },
      specs,
      line,
      log,
    );
  }

  private async pollLoop(device: DeviceRuntime): Promise<void> {
    const interval = device.config.pollIntervalMs;
    const signal = this.polling.signal;
    let due = Date.now();
    while (!signal.aborted) {
      const started = performance.now();
      const readings = await device.source.read();
      const took = performance.now() - started;
      this.pollLatency.record(took);
      this.metrics?.observePoll(device.config.name, took);
      this.window.latency.record(took);
      this.window.cycles += 1;
      device.cycles += 1;
      this.handleReadings(device, readings);
      this.publishDeviceStatus(device);
      due += interval;
      const now = Date.now();
      if (due < now) {
        // A cycle longer than the interval: skip the missed slots rather than poll back-to-back.
        const missed = Math.ceil((now - due) / interval);
        device.missedCycles += missed;
        this.window.missedCycles += missed;
        due += missed * interval;
      }
      await sleep(due - now, signal);
    }
  }

  private handleReadings(device: DeviceRuntime, readings: Reading[]): void {
    const outbox = this.outbox!;
    const batches = device.mode === 'asset' ? new Map<string, AssetBatchWriter>() : undefined;
    const ddata: StoredSample[] | undefined = device.ddataTopic ? [] : undefined;
    for (const r of readings) {
      const tag = device.tags.get(r.id);
      if (!tag) continue;
      this.samplesRead += 1;
      this.window.samplesRead += 1;
      const v = r.value === null ? null : toEngineering(r.value, tag.scale, tag.offset);
      if (!shouldPublish(tag.last, v, r.quality, tag.policy, r.ts)) continue;
      tag.last = { v, q: r.quality, at: r.ts };
      this.samplesAccepted += 1;
      if (ddata) {
        ddata.push([tag.id, v, r.quality, r.sourceTs ?? r.ts]);
        continue;
      }
      if (batches) {
        let batch = batches.get(tag.asset);
        if (!batch) batches.set(tag.asset, (batch = new AssetBatchWriter(r.ts)));
        batch.add(tag.jsonKey, v, r.quality, r.reason);
        continue;
      }
      const payload: Parameters<typeof encodeTagPayload>[0] = {
        v,
        ts: r.sourceTs ?? r.ts,
        q: r.quality,
      };
      if (r.reason) payload.r = r.reason;
      outbox.append(tag.topic, encodeTagPayload(payload), 1, r.ts);
    }
    // Sparkplug: one DDATA per device per cycle, by exception like the other modes.
    if (ddata && ddata.length > 0)
      outbox.append(device.ddataTopic!, encodeSamples(ddata), ddata.length, ddata[0]![3]);
    if (!batches) return;
    const { site, area, line } = this.config;
    for (const [asset, batch] of batches)
      outbox.append(assetTopic({ site, area, line, asset }), batch.encode(), batch.count, batch.ts);
  }

  /**
   * Retained device status on `_nodes/<node>/devices/<device>`, re-published when the state or
   * the reason changes, with the driver's counters so an operator can see what happened.
   */
  private publishDeviceStatus(device: DeviceRuntime): void {
    const counters = device.source.status;
    const status = counters.connected ? 'connected' : counters.failing ? 'failing' : 'disconnected';
    const key = `${status}|${counters.connected ? '' : (counters.lastError ?? '')}`;
    if (key === device.lastStatus || !this.client?.connected) return;
    device.lastStatus = key;
    const { lastError, ...rest } = counters;
    const body = JSON.stringify({
      status,
      ts: Date.now(),
      ...(counters.connected ? {} : { reason: lastError }),
      ...rest,
    });
    this.client.publish(
      nodeTopic(this.config.site, this.config.node, 'devices', device.config.name),
      body,
      { qos: 1, retain: true },
    );
    if (counters.connected) this.log.info({ device: device.config.name }, 'device online');
    else
      this.log.warn(
        { device: device.config.name, status, reason: lastError },
        'device offline; its tags are published with quality bad',
      );
  }
}

function tagKind(type: string): 'number' | 'boolean' | 'string' {
  return type === 'bool' ? 'boolean' : type === 'string' ? 'string' : 'number';
}

/** A tag's place in its device as the config gives it, for the manifest. */
function tagAddress(t: TagConfig): string | undefined {
  if ('address' in t) return String(t.address);
  return t.node ?? t.path;
}
