import type { MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { connectBroker } from '../protocols/mqtt/broker.js';
import {
  decodeAssetPayload,
  decodeTagManifest,
  decodeTagPayload,
} from '../protocols/mqtt/payload.js';
import { parseTopic, ROOT, type AssetPath } from '../protocols/mqtt/topics.js';
import type { GatewayConfig } from './config.js';
import { createInfluxSink, type LineSink, type SinkStats } from './influx-sink.js';
import { toLine, type TagPoint } from './points.js';

export interface GatewayStats {
  messages: number;
  points: number;
  /** Rejected payloads by reason (`not-json`, `bad-value`, …). */
  invalid: Record<string, number>;
  nodes: Record<string, 'online' | 'offline'>;
  sink?: SinkStats;
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
  private sink?: LineSink;
  private readonly log: Logger;
  private readonly counters: GatewayStats = { messages: 0, points: 0, invalid: {}, nodes: {} };
  /** Tag topic → node that publishes it, from the nodes' retained manifests. */
  private readonly topicNode = new Map<string, string>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly deps: GatewayDeps,
  ) {
    this.log = deps.log.child({ component: 'gateway', gateway: config.name });
  }

  get stats(): GatewayStats {
    return {
      ...this.counters,
      invalid: { ...this.counters.invalid },
      nodes: { ...this.counters.nodes },
      ...(this.sink ? { sink: { ...this.sink.stats } } : {}),
    };
  }

  async start(): Promise<void> {
    const { config } = this;
    if (config.influx)
      this.sink = createInfluxSink(
        config.influx,
        this.deps.log.child({ component: 'influx', api: config.influx.api }),
      );
    else
      this.log.warn(
        'no influx section in the config: samples are validated and counted but not stored',
      );
    const client = connectBroker(config.mqtt, {
      clientId: `factorylm-gateway-${config.name}-${process.pid}`,
      log: this.deps.log.child({ component: 'mqtt', gateway: config.name }),
      backoff: this.deps.brokerBackoff,
    });
    this.client = client;
    const { site, shareGroup, qos } = config.subscribe;
    const telemetry = `${ROOT}/${site}/#`;
    const filters: Record<string, { qos: 0 | 1 }> = {
      [shareGroup ? `$share/${shareGroup}/${telemetry}` : telemetry]: { qos },
    };
    // Node status and manifests are retained, and brokers never deliver retained messages to
    // shared subscriptions, so every instance also reads them directly.
    if (shareGroup) {
      filters[`${ROOT}/${site}/_nodes/+/status`] = { qos: 1 };
      filters[`${ROOT}/${site}/_nodes/+/tags`] = { qos: 1 };
    }
    client.on('connect', () => {
      client.subscribe(filters, (err) => {
        if (err)
          this.log.error(
            { err: errorMessage(err), filters: Object.keys(filters) },
            'subscribe failed; check the broker ACL for this user',
          );
        else this.log.info({ filters: Object.keys(filters) }, 'subscribed');
      });
    });
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
    await this.sink?.close();
    this.log.info(this.stats, 'gateway stopped');
  }

  /** Writes out everything buffered; tests and shutdown use it. */
  async flush(): Promise<void> {
    await this.sink?.flush();
  }

  private dispatch(topic: string, payload: Buffer): void {
    this.counters.messages += 1;
    try {
      const parsed = parseTopic(topic);
      switch (parsed.kind) {
        case 'tag':
          return this.onTag(topic, parsed, parsed.tag, payload);
        case 'asset':
          return this.onAsset(topic, parsed, payload);
        case 'node':
          return this.onNode(parsed.node, parsed.rest, payload);
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
    const { v, ts, q } = decoded.value;
    this.accept([{ ...path, tag, node: this.topicNode.get(topic), value: v, quality: q, ts }]);
  }

  private onAsset(topic: string, path: AssetPath, payload: Buffer): void {
    const decoded = decodeAssetPayload(payload);
    if (!decoded.ok) return this.reject(decoded.reason, topic, decoded.detail);
    const { ts, v, q } = decoded.value;
    const points: TagPoint[] = [];
    for (const [tag, value] of Object.entries(v)) {
      const quality = q?.[tag] ?? 'good';
      if (value === null && quality === 'good')
        return this.reject('bad-value', topic, `"v.${tag}" is null but quality is good`);
      points.push({
        ...path,
        tag,
        node: this.topicNode.get(`${topic}/${tag}`),
        value,
        quality,
        ts,
      });
    }
    this.accept(points);
  }

  private onNode(node: string, rest: string[], payload: Buffer): void {
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
    } else if (kind === 'tags' && rest.length === 1) {
      const decoded = decodeTagManifest(payload);
      if (!decoded.ok) return this.reject(decoded.reason, `_nodes/${node}/tags`, decoded.detail);
      for (const t of decoded.value.tags) this.topicNode.set(t.topic, node);
    }
    // Other node topics (device status, inventory, writes) belong to later consumers.
  }

  private accept(points: TagPoint[]): void {
    this.counters.points += points.length;
    if (this.sink) this.sink.write(points.map(toLine));
    if (this.deps.onPoint) for (const p of points) this.deps.onPoint(p);
  }

  private reject(reason: string, topic: string, detail: string): void {
    const n = (this.counters.invalid[reason] ?? 0) + 1;
    this.counters.invalid[reason] = n;
    // Log the first of each reason and then a sample, so a flood of garbage cannot flood the log.
    if (n === 1 || n % 1000 === 0)
      this.log.warn({ reason, topic, detail, count: n }, 'invalid message dropped');
  }
}
