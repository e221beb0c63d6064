import type { MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { connectBroker } from '../protocols/mqtt/broker.js';
import { withSequence } from '../protocols/mqtt/payload.js';
import { NAMESPACE } from '../protocols/mqtt/sparkplug-topic.js';
import { nodeTopic } from '../protocols/mqtt/topics.js';
import { openSources, type DeviceSources } from '../protocols/registry.js';
import type { QueueRecord } from '../core/durable-queue.js';
import type { SampleFrame } from '../protocols/sample-frame.js';
import type { TagSource } from '../protocols/types.js';
import { agentStateDir, outboxPath, type AgentConfig } from './config.js';
import { buildTags, carryOverState, describeDevice, type DeviceRuntime } from './device-runtime.js';
import { DeviceStatusPublisher } from './device-status.js';
import {
  agentHealth,
  agentMetricsSnapshot,
  agentStats,
  type AgentHealth,
  type AgentState,
  type AgentStats,
} from './health.js';
import { HealthService } from './health-service.js';
import { heapBudgetWarning } from './heap-budget.js';
import { agentScanOptions, InventoryPublisher } from './inventory-publisher.js';
import { tagManifest } from './manifest.js';
import { MqttWriteHandler } from './mqtt-writes.js';
import { Outbox } from './outbox.js';
import { publishCycle, publisherFor, sparkplugDevices } from './publishers.js';
import { planReload } from './reload-plan.js';
import { PollScheduler, type PollWindow } from './scheduler.js';
import { finalizeSparkplug } from './sparkplug-records.js';
import type { SparkplugSample, SparkplugSession } from './sparkplug-session.js';
import { sourceExecutor, WriteService } from './write-service.js';

export type { AgentHealth, AgentStats, DeviceHealth } from './health.js';

export interface AgentDeps {
  log: Logger;
  /** Broker reconnect delays; tests shorten them. */
  brokerBackoff?: { initialMs?: number; maxMs?: number };
}

/**
 * The edge process: polls every configured device on its own schedule, turns readings into
 * engineering values and publishes them by exception through a durable outbox. Wires the parts:
 * drivers (protocols/registry.ts), scheduler, publishers, outbox, health, writes, reload.
 */
export class Agent {
  private client?: MqttClient;
  private outbox?: Outbox;
  /** This run's first message sequence number (JSON output), for the tag manifest. */
  private seqStart?: number;
  /** Present when publish.output is sparkplug. */
  private sparkplug?: SparkplugSession;
  private devices: DeviceRuntime[] = [];
  private deviceSources?: DeviceSources;
  /** Device name → source of the running generation; writes look the device up here. */
  private readonly sources = new Map<string, TagSource>();
  private writes?: WriteService;
  private inventory?: InventoryPublisher;
  private readonly scheduler: PollScheduler;
  private readonly healthService: HealthService;
  private readonly deviceStatus: DeviceStatusPublisher;
  private readonly startedAt = Date.now();
  private reloads = { applied: 0, rejected: 0 };
  private samplesRead = 0;
  private samplesAccepted = 0;
  private broker = {
    reconnects: 0,
    lastError: undefined as string | undefined,
    everConnected: false,
  };
  private lastError?: { message: string; at: number };
  /** The deps logger bound to this node; each part adds its `component`. */
  private readonly nodeLog: Logger;
  private readonly log: Logger;

  constructor(
    private config: AgentConfig,
    private readonly deps: AgentDeps,
  ) {
    this.nodeLog = deps.log.child({ node: config.node });
    this.log = this.nodeLog.child({ component: 'agent' });
    this.scheduler = new PollScheduler((d, r, took) => this.onCycle(d, r, took), this.log);
    this.healthService = new HealthService(config.health, this.nodeLog);
    this.deviceStatus = new DeviceStatusPublisher(
      (device) => nodeTopic(config.site, config.node, 'devices', device),
      this.log,
    );
  }

  get statusTopic(): string {
    return nodeTopic(this.config.site, this.config.node, 'status');
  }

  async start(): Promise<void> {
    const { config } = this;
    if (config.publish.output === 'sparkplug') {
      // The protobuf codec is loaded only by Sparkplug nodes.
      const { SparkplugSession } = await import('./sparkplug-session.js');
      this.sparkplug = new SparkplugSession(
        {
          groupId: config.sparkplug.groupId ?? config.site,
          edgeNode: config.node,
          devices: sparkplugDevices(config),
        },
        this.component('sparkplug'),
      );
    }
    const client = connectBroker(config.mqtt, {
      clientId: `factorylm-agent-${config.node}`,
      // Sparkplug's Will is the NDEATH; its hosts track the node by NBIRTH/NDEATH, not our status.
      will: this.sparkplug
        ? this.sparkplug.will()
        : { topic: this.statusTopic, payload: 'offline', retain: true, qos: 1 },
      log: this.component('mqtt'),
      backoff: this.deps.brokerBackoff,
    });
    this.client = client;
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
    client.on('connect', () => this.onConnect());
    client.on('error', (err) => {
      this.broker.lastError = errorMessage(err);
      this.lastError = { message: `MQTT: ${this.broker.lastError}`, at: Date.now() };
    });
    this.outbox = new Outbox(
      client,
      {
        ...config.outbox,
        path: outboxPath(config),
        // Sparkplug 3.0 requires QoS 0 for NDATA/DDATA: a record leaves the outbox once written
        // to the socket instead of on PUBACK.
        qos: this.sparkplug ? 0 : config.publish.qos,
        maxInflight: config.publish.maxInflight,
      },
      (record, historical) => this.finalize(record, historical),
      this.component('outbox'),
    );
    // Record ids are the node's message sequence; this run's first one goes in the manifest.
    this.seqStart = this.outbox.queue.maxId() + 1;
    const writeLog = this.component('writes');
    this.writes = new WriteService(() => this.config, sourceExecutor(this.sources), writeLog);
    new MqttWriteHandler(config.site, config.node, this.writes, writeLog).attach(client);
    await this.startDevices();
    // The broker may have connected while the drivers loaded, before there were tags to list.
    if (client.connected) this.publishManifest(client);
    const started = await this.healthService.start({
      health: () => this.health(),
      metrics: () => agentMetricsSnapshot(this.state()),
      publish: (health) => {
        if (client.connected)
          client.publish(nodeTopic(config.site, config.node, 'health'), JSON.stringify(health), {
            qos: 0,
            retain: true,
          });
      },
    });
    if (started.error) this.lastError = { message: started.error, at: Date.now() };
    if (config.inventory.enabled) {
      this.inventory = new InventoryPublisher(
        { ...agentScanOptions(config), intervalHours: config.inventory.intervalHours },
        client,
        this.component('inventory'),
      );
      this.inventory.start();
    }
  }

  /** Where GET /health answers, once started (tests read it). */
  get healthUrl(): string | undefined {
    return this.healthService.url;
  }

  health(): AgentHealth {
    return agentHealth(this.state());
  }

  /**
   * Applies a new config without touching the outbox: devices, tags and publishing policy change
   * at once; settings bound to the process (broker, outbox, health, identity) need a restart and
   * are kept, with a warning naming them.
   */
  async reload(next: AgentConfig): Promise<{ restartNeeded: string[] }> {
    const { config, restartNeeded } = planReload(this.config, next);
    const previous = this.devices;
    await this.stopDevices();
    this.config = config;
    await this.startDevices(previous);
    this.reloads.applied += 1;
    this.sparkplug?.redefine(sparkplugDevices(this.config));
    if (this.client?.connected) this.publishManifest(this.client);
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
    await this.healthService.stop();
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
    return agentStats(this.state());
  }

  /** Figures since the previous call (poll latency, samples, missed cycles), then starts a new window. */
  takeWindow(): PollWindow {
    return this.scheduler.takeWindow();
  }

  private component(name: string): Logger {
    return this.nodeLog.child({ component: name });
  }

  private onConnect(): void {
    const client = this.client!;
    if (!this.sparkplug) client.publish(this.statusTopic, 'online', { qos: 1, retain: true });
    if (this.deviceSources) this.publishManifest(client);
    this.deviceStatus.reset();
    if (this.broker.everConnected) this.broker.reconnects += 1;
    this.broker.everConnected = true;
    this.broker.lastError = undefined;
    if (!this.sparkplug) this.outbox?.resume();
  }

  private publishManifest(client: MqttClient): void {
    const seqStart = this.sparkplug ? undefined : this.seqStart;
    client.publish(
      nodeTopic(this.config.site, this.config.node, 'tags'),
      tagManifest(this.config.node, this.devices, seqStart),
      { qos: 1, retain: true },
    );
  }

  private state(): AgentState {
    const resources = this.healthService.resources();
    return {
      config: this.config,
      startedAt: this.startedAt,
      broker: { connected: this.client?.connected ?? false, ...this.broker },
      devices: this.devices,
      samplesRead: this.samplesRead,
      samplesAccepted: this.samplesAccepted,
      pollLatency: this.scheduler.latency,
      ...(this.outbox ? { outbox: this.outbox.stats } : {}),
      reloads: this.reloads,
      ...(this.writes ? { writes: this.writes.stats } : {}),
      ...(resources ? { resources } : {}),
      ...(this.inventory ? { inventory: this.inventory.stats } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private finalize(record: QueueRecord, historical: boolean): string | Buffer {
    if (this.sparkplug) return finalizeSparkplug(this.sparkplug, record, historical);
    if (record.topic.startsWith(`${NAMESPACE}/`))
      throw new Error('a Sparkplug record, but publish.output is json now; it cannot be sent');
    return withSequence(String(record.payload), record.id, historical);
  }

  /** What a birth reports for a metric: the last value published. */
  private currentSample(device: string, metric: string): SparkplugSample | undefined {
    const tags = this.devices.find((d) => d.config.name === device)?.tags;
    const i = tags?.indexOf(metric) ?? -1;
    const last = i >= 0 ? tags!.last(i) : undefined;
    return last && { name: metric, value: last.v, quality: last.q, ts: last.at };
  }

  private async startDevices(previous: readonly DeviceRuntime[] = []): Promise<void> {
    const { config } = this;
    this.deviceSources = await openSources(config.devices, {
      log: this.nodeLog,
      stateDir: agentStateDir(config),
    });
    const { sources } = this.deviceSources;
    this.devices = config.devices.map((device, i) => ({
      config: device,
      source: sources[i]!,
      tags: buildTags(config, device, sources[i]!.tagIds),
      publisher: publisherFor(config, device, this.outbox!),
      cycles: 0,
      missedCycles: 0,
    }));
    this.sources.clear();
    for (const d of this.devices) this.sources.set(d.config.name, d.source);
    carryOverState(this.devices, previous);
    this.log.info({ devices: this.devices.map(describeDevice) }, 'agent started');
    const heapWarning = heapBudgetWarning(config.devices);
    if (heapWarning) this.log.warn(heapWarning);
    this.scheduler.start(this.devices);
  }

  private async stopDevices(): Promise<void> {
    await this.scheduler.stop();
    await this.deviceSources?.close();
    this.deviceSources = undefined;
  }

  private onCycle(device: DeviceRuntime, frame: SampleFrame, tookMs: number): number {
    this.healthService.observePoll(device.config.name, tookMs);
    const { read, accepted } = publishCycle(device.tags, frame, device.publisher);
    this.samplesRead += read;
    this.samplesAccepted += accepted;
    if (this.client)
      this.deviceStatus.update(this.client, device.config.name, device.source.status);
    return read;
  }
}
