import type { IPublishPacket, MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { stateFile } from '../core/state-dir.js';
import { connectBroker } from '../protocols/mqtt/broker.js';
import {
  decodeAssetPayload,
  decodeTagManifest,
  decodeTagPayload,
  type AssetPayload,
} from '../protocols/mqtt/payload.js';
import { parseTopic, ROOT, siteFilter, type AssetPath } from '../protocols/mqtt/topics.js';
import type { GatewayConfig } from './config.js';
import { createInfluxWriter } from './influx-sink.js';
import { legacyLine, lineOf, SERIES_CACHE_MAX, seriesOf, toLine, type TagPoint } from './points.js';
import { Spool } from './spool.js';
import { AckGate, type AckStats, type AckTicket } from './spool-acks.js';
import type { SinkStats } from './sink-report.js';
import { SpoolSink } from './spool-sink.js';
import { gatewayHealthLine, healthLines } from './health-points.js';
import { MaintenanceBridge, type BridgeStats } from '../maintenance/bridge.js';
import { LEASE_TOPIC, MaintenanceLease } from './maintenance-lease.js';
import { SequenceTracker, type SequenceStats } from './sequence.js';
import { SparkplugConsumer } from './sparkplug-consumer.js';
import { TwinStore } from './twin-store.js';
import { loadFleet } from '../inventory/fleet.js';
import { decodePayload, NAMESPACE, parseSparkplugTopic } from '../protocols/mqtt/sparkplug.js';

/** How often the gateway writes its own gateway_health point, ms. */
const GATEWAY_HEALTH_MS = 10_000;

export interface GatewayStats {
  messages: number;
  points: number;
  /** Rejected payloads by reason (`not-json`, `bad-value`, …). */
  invalid: Record<string, number>;
  nodes: Record<string, 'online' | 'offline'>;
  /** InfluxDB writes and the spool; `sink.alarm` is set while points are lost or at risk. */
  sink?: SinkStats;
  /** QoS 1 messages whose PUBACK waits for their points to be durable. */
  acks?: AckStats;
  /** Per-node sequence check: messages agents sent that never arrived (no share group only). */
  sequence?: SequenceStats;
  /** The maintenance bridge (alarms, diagnoses, work orders), with a maintenance: section. */
  maintenance?: BridgeStats;
}

/** How often sequence gaps older than the grace period are counted, ms. */
const SEQUENCE_SWEEP_MS = 5000;

/** MQTT 3.1.1 brokers do not say how many messages they send before waiting for PUBACKs. */
const IDLE_FLUSH_MS_MQTT3 = 10;

/** `status` of a retained device status message, or undefined when it is not one. */
function deviceStatusOf(payload: Buffer): string | undefined {
  try {
    const o = JSON.parse(payload.toString('utf8')) as { status?: unknown };
    return typeof o.status === 'string' ? o.status : undefined;
  } catch {
    return undefined;
  }
}

/** Default twin store: beside the spool. */
export function defaultTwinPath(name: string): string {
  return stateFile(`twin-${name}.db`);
}

/** Default spool file: beside the agent's outbox in systemd's StateDirectory, else here. */
export function defaultSpoolPath(name: string): string {
  return stateFile(`spool-${name}.db`);
}

export interface GatewayDeps {
  log: Logger;
  brokerBackoff?: { initialMs?: number; maxMs?: number };
  /** Sees every accepted point; the demo's live view uses it. */
  onPoint?: (point: TagPoint) => void;
}

/**
 * Consumes the unified namespace and writes every valid sample to InfluxDB. Each topic family
 * has one handler; a payload that fails validation is counted by reason and never stops the rest.
 */
export class Gateway {
  private client?: MqttClient;
  private sink?: SpoolSink<AckTicket>;
  private acks?: AckGate;
  private readonly log: Logger;
  private readonly counters: GatewayStats = { messages: 0, points: 0, invalid: {}, nodes: {} };
  /** Tag topic → node that publishes it, from the nodes' retained manifests. */
  private readonly topicNode = new Map<string, string>();
  /** Asset-batch topic → node that publishes it, from the manifests. */
  private readonly assetNode = new Map<string, string>();
  /** Tag topic → its address in the device, from the manifests (for plc_registers). */
  private readonly topicAddress = new Map<string, string>();
  private readonly legacy: boolean;
  /** Series text by tag topic, and by asset topic and tag: see `series`. */
  private readonly topicSeries = new Map<string, string>();
  private readonly assetSeries = new Map<string, Map<string, string>>();
  private healthTimer?: NodeJS.Timeout;
  private sequenceTimer?: NodeJS.Timeout;
  /** Set when this instance sees every message (no share group). */
  private sequence?: SequenceTracker;
  /** Sparkplug B alias maps from the births; set when subscribe.sparkplug.enabled. */
  private sparkplug?: SparkplugConsumer;
  /** Node inventories and the fleet audit; set when the config has a twin: section. */
  twin?: TwinStore;
  /** Alarm rules → diagnosis → work orders; set when the config has a maintenance: section. */
  maintenance?: MaintenanceBridge;
  private lease?: MaintenanceLease;
  /** The lease holder's own unshared telemetry connection, when gateways share the load. */
  private alarmClient?: MqttClient;
  /** The bridge reads samples from this instance's own messages (false: from its unshared copy). */
  private bridgeFromShare = true;

  constructor(
    private readonly config: GatewayConfig,
    private readonly deps: GatewayDeps,
  ) {
    this.log = deps.log.child({ component: 'gateway', gateway: config.name });
    this.legacy = config.influx?.legacyRegisters ?? false;
  }

  get stats(): GatewayStats {
    return {
      ...this.counters,
      invalid: { ...this.counters.invalid },
      nodes: { ...this.counters.nodes },
      ...(this.sink ? { sink: this.sink.stats } : {}),
      ...(this.acks ? { acks: this.acks.stats } : {}),
      ...(this.sequence ? { sequence: { ...this.sequence.stats } } : {}),
      ...(this.maintenance ? { maintenance: this.maintenance.stats } : {}),
    };
  }

  /** True while the MQTT client is connected to the broker. */
  get brokerConnected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(): Promise<void> {
    const { config } = this;
    const { site, shareGroup, qos, persistentSession, sessionExpirySec, receiveMaximum } =
      config.subscribe;
    const v5 = config.mqtt.protocolVersion === 5;
    if (config.influx) {
      const log = this.deps.log.child({ component: 'influx', api: config.influx.api });
      const spool = new Spool(
        config.spool.path ?? defaultSpoolPath(config.name),
        config.spool,
        log.child({ component: 'spool' }),
      );
      this.sink = new SpoolSink<AckTicket>(
        createInfluxWriter(config.influx),
        spool,
        {
          batchSize: config.influx.batchSize,
          flushIntervalMs: config.influx.flushIntervalMs,
          maxBufferLines: config.influx.maxBufferLines,
          maxRetries: config.influx.maxRetries,
          ...(v5
            ? { maxBatchMessages: Math.max(1, Math.floor(receiveMaximum / 2)) }
            : { idleFlushMs: IDLE_FLUSH_MS_MQTT3 }),
          drainRatePerSec: config.spool.drainRatePerSec,
          retryMaxMs: config.spool.retryMaxMs,
          maxSpoolBytes: config.spool.maxBytes,
        },
        log,
        (tickets) => this.acks?.release(tickets),
      );
    } else
      this.log.warn(
        'no influx section in the config: samples are validated and counted but not stored',
      );
    this.startHealthPoints();
    if (!shareGroup) this.startSequenceCheck(config.subscribe.sequenceGraceMs);
    if (config.twin)
      this.twin = new TwinStore({
        path: config.twin.path ?? defaultTwinPath(config.name),
        historyPerNode: config.twin.historyPerNode,
        forkThreshold: config.twin.forkThreshold / 100,
        ...(config.twin.fleet ? { fleet: await loadFleet(config.twin.fleet, 'twin.fleet') } : {}),
      });
    if (config.maintenance) {
      this.maintenance = await MaintenanceBridge.create(config.maintenance, {
        name: config.name,
        log: this.deps.log,
        writeLine: (line) => this.sink?.writeLine(line),
        publish: (topic, payload) => this.client?.publish(topic, payload, { qos: 1, retain: true }),
      });
      this.maintenance.start();
      this.bridgeFromShare = !shareGroup;
    }
    // A persistent session under a fixed client id is what makes a crash lossless: the broker
    // redelivers the messages whose PUBACK was held (points not yet durable) and queues what
    // arrives while the gateway is down. A clean session would drop both. Without InfluxDB
    // nothing is stored, so nothing is worth keeping.
    const persistent = persistentSession && this.sink !== undefined;
    const client = connectBroker(config.mqtt, {
      clientId: persistent
        ? `factorylm-gateway-${config.name}`
        : `factorylm-gateway-${config.name}-${process.pid}`,
      log: this.deps.log.child({ component: 'mqtt', gateway: config.name }),
      backoff: this.deps.brokerBackoff,
      ...(persistent ? { persistentSession: { expirySec: sessionExpirySec } } : {}),
      receiveMaximum,
    });
    this.client = client;
    const sink = this.sink;
    if (sink && qos === 1 && config.influx) {
      // Enough points waiting to keep every live write busy with the next batch ready; more
      // would only sit in memory (or be spooled) while the broker can hold them.
      const readAhead = Math.min(config.influx.maxBufferLines, 4 * config.influx.batchSize);
      this.acks = new AckGate(client, () => sink.pending < readAhead);
    }
    const telemetry = `${ROOT}/${site}/#`;
    const filters: Record<string, { qos: 0 | 1 }> = {
      [shareGroup ? `$share/${shareGroup}/${telemetry}` : telemetry]: { qos },
    };
    // Node status and manifests are retained, and brokers never deliver retained messages to
    // shared subscriptions, so every instance also reads them directly.
    if (shareGroup) {
      filters[`${ROOT}/${site}/_nodes/+/status`] = { qos: 1 };
      filters[`${ROOT}/${site}/_nodes/+/tags`] = { qos: 1 };
      if (this.twin) filters[`${ROOT}/${site}/_nodes/+/inventory`] = { qos: 1 };
    }
    const bridge = this.maintenance;
    if (bridge) {
      filters[LEASE_TOPIC] = { qos: 1 };
      if (shareGroup) filters[`${ROOT}/${site}/_nodes/+/devices/+`] = { qos: 1 };
    }
    // Sparkplug B: every instance needs every birth (the alias maps), so only DDATA is shared.
    if (config.subscribe.sparkplug.enabled) {
      this.sparkplug = new SparkplugConsumer();
      for (const group of config.subscribe.sparkplug.groups) {
        for (const verb of ['NBIRTH', 'NDEATH', 'DBIRTH', 'DDEATH'])
          filters[`${NAMESPACE}/${group}/${verb}/#`] = { qos };
        const ddata = `${NAMESPACE}/${group}/DDATA/#`;
        filters[shareGroup ? `$share/${shareGroup}/${ddata}` : ddata] = { qos };
      }
    }
    const shared = Object.keys(filters).filter((f) => f.startsWith('$share/'));
    client.on('connect', (connack) => {
      const subscribe = () =>
        client.subscribe(filters, (err) => {
          if (err)
            this.log.error(
              { err: errorMessage(err), filters: Object.keys(filters) },
              'subscribe failed; check the broker ACL for this user',
            );
          else this.log.info({ filters: Object.keys(filters) }, 'subscribed');
        });
      // Mosquitto 2.0.11 restores a shared subscription from its persistence file after a restart
      // in a state that delivers nothing, and a second SUBSCRIBE does not mend it (issue 12,
      // test/broker-restart.test.ts): unsubscribe and subscribe again whenever the session was
      // kept. What it had queued for the group before the restart is lost all the same.
      if (connack.sessionPresent && shared.length > 0) client.unsubscribe(shared, subscribe);
      else subscribe();
    });
    if (bridge) {
      this.lease = new MaintenanceLease(
        client,
        config.name,
        config.maintenance!.leaseTtlSec * 1000,
        (active) => bridge.setActive(active),
        this.deps.log.child({ component: 'lease', gateway: config.name }),
      );
      this.lease.start();
      this.alarmSubscription(true);
    }
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('disconnect', (packet) => {
      // MQTT 5 reason 0x8E: another client connected with this client id.
      if (packet.reasonCode === 0x8e)
        this.log.error(
          { clientId: client.options.clientId },
          'the broker handed this session to another client with the same id: give every gateway instance its own name',
        );
    });
  }

  /**
   * Stops without losing anything: what is in memory is written or spooled and acknowledged
   * before the MQTT connection closes. Messages arriving after that are not acknowledged, so a
   * persistent session gets them again on the next start.
   */
  async stop(): Promise<void> {
    this.lease?.release();
    this.alarmSubscription(false);
    await this.maintenance?.stop();
    clearInterval(this.healthTimer);
    clearInterval(this.sequenceTimer);
    this.sweepSequence(Date.now());
    await this.sink?.flush();
    await this.client?.endAsync();
    await this.sink?.close();
    this.twin?.close();
    this.log.info(this.stats, 'gateway stopped');
  }

  /** Writes out everything buffered; tests and shutdown use it. */
  async flush(): Promise<void> {
    await this.sink?.flush();
  }

  /** One message; its PUBACK (QoS 1) is held until the points it produced are durable. */
  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const sink = this.sink;
    if (!sink) return this.dispatch(topic, payload);
    const ticket = this.acks?.begin(packet);
    const mark = sink.mark();
    this.dispatch(topic, payload);
    sink.seal(ticket, mark);
  }

  private dispatch(topic: string, payload: Buffer): void {
    this.counters.messages += 1;
    if (topic === LEASE_TOPIC) return this.lease?.receive(payload);
    try {
      if (this.sparkplug && topic.startsWith(`${NAMESPACE}/`))
        return this.onSparkplug(this.sparkplug, topic, payload);
      const parsed = parseTopic(topic);
      switch (parsed.kind) {
        case 'tag':
          return this.onTag(topic, parsed, parsed.tag, payload);
        case 'asset':
          return this.onAsset(topic, parsed, payload);
        case 'node':
          if (parsed.rest.length === 1 && parsed.rest[0] === 'health')
            return this.onHealth(topic, parsed.site, parsed.node, payload);
          if (parsed.rest.length === 1 && parsed.rest[0] === 'inventory')
            return this.onInventory(topic, parsed.site, parsed.node, payload);
          return this.onNode(parsed.site, parsed.node, parsed.rest, payload);
        case 'reserved':
          // Alarm states this or another gateway published: not telemetry.
          return;
        default:
          return this.reject('unknown-topic', topic, 'not a factorylm tag, asset or node topic');
      }
    } catch (err) {
      this.reject('internal', topic, errorMessage(err));
    }
  }

  private onTag(topic: string, path: AssetPath, tag: string, payload: Buffer): void {
    const decoded = decodeTagPayload(payload);
    if (!decoded.ok) return this.reject(decoded.reason, topic, decoded.detail);
    const { v, ts, q, r, seq } = decoded.value;
    if (seq !== undefined) this.sequence?.add(this.topicNode.get(topic), seq, Date.now());
    const series = this.series(this.topicSeries, topic, path, tag, topic);
    this.counters.points += 1;
    this.sink?.writeLine(lineOf(series, v, q, ts));
    if (this.legacy) this.writeLegacy(path.asset, tag, topic, v, ts);
    if (this.bridgeFromShare)
      this.maintenance?.onSample({
        ...path,
        tag,
        node: this.topicNode.get(topic),
        value: v,
        quality: q,
        ts,
      });
    const { onPoint } = this.deps;
    if (onPoint)
      onPoint({
        ...path,
        tag,
        node: this.topicNode.get(topic),
        value: v,
        quality: q,
        ...(r === undefined ? {} : { reason: r }),
        ts,
      });
  }

  private onAsset(topic: string, path: AssetPath, payload: Buffer): void {
    const decoded = decodeAssetPayload(payload);
    if (!decoded.ok) return this.reject(decoded.reason, topic, decoded.detail);
    const { ts, v, q, r, seq } = decoded.value;
    if (seq !== undefined) this.sequence?.add(this.assetNode.get(topic), seq, Date.now());
    const tags = Object.keys(v);
    for (const tag of tags)
      if (v[tag] === null && (q?.[tag] ?? 'good') === 'good')
        return this.reject('bad-value', topic, `"v.${tag}" is null but quality is good`);
    let assetSeries = this.assetSeries.get(topic);
    if (assetSeries === undefined) {
      if (this.assetSeries.size >= SERIES_CACHE_MAX) this.assetSeries.clear();
      this.assetSeries.set(topic, (assetSeries = new Map()));
    }
    const lines: string[] = [];
    for (const tag of tags) {
      const series = this.series(assetSeries, tag, path, tag, `${topic}/${tag}`);
      lines.push(lineOf(series, v[tag]!, q?.[tag] ?? 'good', ts));
    }
    this.counters.points += tags.length;
    this.sink?.write(lines);
    if (this.legacy)
      for (const tag of tags) this.writeLegacy(path.asset, tag, `${topic}/${tag}`, v[tag]!, ts);
    if (this.bridgeFromShare && this.maintenance) this.assetToBridge(topic, path, decoded.value);
    const { onPoint } = this.deps;
    if (onPoint)
      for (const tag of tags) {
        const node = this.topicNode.get(`${topic}/${tag}`);
        const reason = r?.[tag];
        onPoint({
          ...path,
          tag,
          node,
          value: v[tag]!,
          quality: q?.[tag] ?? 'good',
          ...(reason === undefined ? {} : { reason }),
          ts,
        });
      }
  }

  /**
   * The series text of a tag, from `cache` under `key`: one lookup per sample instead of
   * building and escaping the tags. `tagTopic` names the tag in the node manifests.
   */
  private series(
    cache: Map<string, string>,
    key: string,
    path: AssetPath,
    tag: string,
    tagTopic: string,
  ): string {
    let series = cache.get(key);
    if (series === undefined) {
      series = seriesOf({ ...path, tag, node: this.topicNode.get(tagTopic) });
      if (cache.size >= SERIES_CACHE_MAX) cache.clear();
      cache.set(key, series);
    }
    return series;
  }

  private onNode(site: string, node: string, rest: string[], payload: Buffer): void {
    const kind = rest[0];
    if (kind === 'status' && rest.length === 1) {
      const status = payload.toString();
      if (status !== 'online' && status !== 'offline')
        return this.reject(
          'bad-status',
          `_nodes/${node}/status`,
          `expected online|offline, got ${status.slice(0, 40)}`,
        );
      if (this.counters.nodes[node] !== status) this.log.info({ node, status }, 'node status');
      this.counters.nodes[node] = status;
      this.maintenance?.onNodeStatus(site, node, status);
    } else if (kind === 'devices' && rest.length === 2) {
      if (!this.maintenance) return;
      const status = deviceStatusOf(payload);
      if (status === undefined)
        return this.reject(
          'bad-status',
          `_nodes/${node}/devices/${rest[1]}`,
          'expected {"status": …}',
        );
      this.maintenance.onDeviceStatus(site, node, rest[1]!, status !== 'connected');
    } else if (kind === 'tags' && rest.length === 1) {
      const decoded = decodeTagManifest(payload);
      if (!decoded.ok) return this.reject(decoded.reason, `_nodes/${node}/tags`, decoded.detail);
      for (const t of decoded.value.tags) {
        this.topicNode.set(t.topic, node);
        const path = this.maintenance ? parseTopic(t.topic) : undefined;
        if (path?.kind === 'tag') this.maintenance!.mapAsset(path.site, path.asset, node, t.device);
        this.assetNode.set(t.topic.slice(0, t.topic.lastIndexOf('/')), node);
        if (t.address) this.topicAddress.set(t.topic, t.address);
      }
      if (decoded.value.seqStart !== undefined)
        this.sequence?.manifest(node, decoded.value.seqStart);
      // The node is part of every series of those topics.
      this.topicSeries.clear();
      this.assetSeries.clear();
    }
    // Other node topics (device status, writes) belong to later consumers.
  }

  /** `_nodes/<node>/inventory`: kept in the twin store when there is one, else ignored. */
  private onInventory(topic: string, site: string, node: string, payload: Buffer): void {
    if (!this.twin) return;
    const result = this.twin.receive(site, node, payload);
    if (!result.ok) return this.reject(result.reason, topic, result.detail);
    if (result.stored) this.log.info({ node, bytes: payload.length }, 'inventory stored');
  }

  // --- Sparkplug B (subscribe.sparkplug) ---

  private onSparkplug(consumer: SparkplugConsumer, topic: string, payload: Buffer): void {
    const parsed = parseSparkplugTopic(topic);
    if (!parsed)
      return this.reject('unknown-topic', topic, 'not a Sparkplug B node or device topic');
    const decoded = decodePayload(payload);
    if (!decoded.ok) return this.reject(decoded.reason, topic, decoded.detail);
    const result = consumer.handle(parsed, decoded.value);
    for (const p of result.problems) this.reject(p.reason, topic, p.detail);
    if (result.points.length > 0) this.accept(result.points);
    if (result.rebirth) {
      this.log.info({ topic: result.rebirth.topic }, 'Sparkplug rebirth requested');
      this.client?.publish(result.rebirth.topic, result.rebirth.payload, { qos: 0 });
    }
  }

  // --- end of Sparkplug B ---

  // --- Health measurements for Grafana (edge_agent_health, edge_device_health, gateway_health) ---

  /** `_nodes/<node>/health`: the agent's health JSON as edge_agent_health/edge_device_health lines. */
  private onHealth(topic: string, site: string, node: string, payload: Buffer): void {
    const lines = healthLines({ site, node }, payload);
    if (!lines.ok) return this.reject(lines.reason, topic, lines.detail);
    this.sink?.write(lines.value);
  }

  /** One gateway_health point now and every GATEWAY_HEALTH_MS, from this.stats. */
  private startHealthPoints(): void {
    if (!this.sink) return;
    const write = () =>
      this.sink?.write([gatewayHealthLine(this.config.name, this.stats, Date.now())]);
    write();
    this.healthTimer = setInterval(write, GATEWAY_HEALTH_MS);
    this.healthTimer.unref();
  }

  // --- end of health measurements ---

  private startSequenceCheck(graceMs: number): void {
    this.sequence = new SequenceTracker(graceMs);
    this.sequenceTimer = setInterval(() => this.sweepSequence(Date.now()), SEQUENCE_SWEEP_MS);
    this.sequenceTimer.unref();
  }

  /** Logs the messages newly counted missing: lost after the broker acknowledged them. */
  private sweepSequence(now: number): void {
    if (!this.sequence) return;
    for (const gap of this.sequence.sweep(now))
      this.log.error(
        {
          node: gap.node,
          messages: gap.count,
          seq: gap.ranges,
          total: this.sequence.stats.missing,
        },
        "messages from this node never arrived: the broker acknowledged them to the agent and lost them, or the agent's outbox dropped them (see its outbox.dropped); check the broker (Mosquitto 2.0 loses a shared subscription's queue when it restarts) and the agent's health",
      );
  }

  private accept(points: TagPoint[]): void {
    this.counters.points += points.length;
    if (this.sink) this.sink.write(points.map(toLine));
    // Sparkplug metrics have no address here: plc_registers without register_addr.
    if (this.legacy) for (const p of points) this.writeLegacy(p.asset, p.tag, '', p.value, p.ts);
    if (this.maintenance) for (const p of points) this.maintenance.onSample(p);
    if (this.deps.onPoint) for (const p of points) this.deps.onPoint(p);
  }

  /** An asset batch's samples to the maintenance bridge. */
  private assetToBridge(topic: string, path: AssetPath, body: AssetPayload): void {
    const { ts, v, q } = body;
    for (const tag in v) {
      const node = this.topicNode.get(`${topic}/${tag}`);
      this.maintenance!.onSample({
        ...path,
        tag,
        node,
        value: v[tag]!,
        quality: q?.[tag] ?? 'good',
        ts,
      });
    }
  }

  /**
   * A telemetry message on the lease holder's own connection (gateways in a share group): its
   * samples go to the maintenance bridge only, since the share group stores them.
   */
  private alarmCopy(topic: string, payload: Buffer): void {
    const bridge = this.maintenance;
    const parsed = parseTopic(topic);
    if (!bridge || (parsed.kind !== 'tag' && parsed.kind !== 'asset')) return;
    if (parsed.kind === 'tag') {
      const decoded = decodeTagPayload(payload);
      if (decoded.ok) {
        const { v, q, ts } = decoded.value;
        const node = this.topicNode.get(topic);
        bridge.onSample({ ...parsed, node, value: v, quality: q, ts });
      }
    } else {
      const decoded = decodeAssetPayload(payload);
      if (decoded.ok) this.assetToBridge(topic, parsed, decoded.value);
    }
    // Malformed messages are counted by the instance whose share they are.
  }

  /**
   * With a share group each instance gets a share of the samples, but the bridge must see all of
   * an asset's: every instance with a bridge (the lease holder, and the standbys that take over)
   * opens a second, unshared connection for them. (One connection with both subscriptions does
   * not work: Mosquitto delivers a message matching both once.)
   */
  private alarmSubscription(on: boolean): void {
    const { shareGroup, site } = this.config.subscribe;
    if (!shareGroup) return;
    if (!on) {
      void this.alarmClient?.endAsync(true);
      this.alarmClient = undefined;
      return;
    }
    if (this.alarmClient) return;
    const filter = siteFilter(site);
    const client = connectBroker(this.config.mqtt, {
      clientId: `factorylm-gateway-${this.config.name}-alarms-${process.pid}`,
      log: this.deps.log.child({ component: 'mqtt', gateway: this.config.name, use: 'alarms' }),
      backoff: this.deps.brokerBackoff,
    });
    client.on('connect', () =>
      client.subscribe(filter, { qos: 0 }, (err) => {
        if (err)
          this.log.error(
            { err: errorMessage(err), filter },
            'the maintenance bridge cannot subscribe to the telemetry; check the broker ACL for this user',
          );
      }),
    );
    client.on('message', (topic, payload) => this.alarmCopy(topic, payload));
    this.alarmClient = client;
  }

  /** influx.legacyRegisters: the sample as a plc_registers line too. */
  private writeLegacy(
    asset: string,
    tag: string,
    tagTopic: string,
    value: TagPoint['value'],
    ts: number,
  ): void {
    const line = legacyLine(asset, tag, this.topicAddress.get(tagTopic), value, ts);
    if (line) this.sink?.writeLine(line);
  }

  private reject(reason: string, topic: string, detail: string): void {
    const n = (this.counters.invalid[reason] ?? 0) + 1;
    this.counters.invalid[reason] = n;
    // Log the first of each reason and then a sample, so a flood of garbage cannot flood the log.
    if (n === 1 || n % 1000 === 0)
      this.log.warn({ reason, topic, detail, count: n }, 'invalid message dropped');
  }
}
