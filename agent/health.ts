import { packageVersion } from '../core/package-info.js';
import type { LatencyHistogram } from '../core/histogram.js';
import type { ResourceReport } from '../core/watchdog.js';
import { driverFor } from '../protocols/registry.js';
import type { AgentConfig } from './config.js';
import type { DeviceRuntime } from './device-runtime.js';
import { deviceState } from './device-status.js';
import type { InventoryStats } from './inventory-publisher.js';
import type { AgentMetricsSnapshot } from './metrics.js';
import type { OutboxStats } from './outbox.js';

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

export interface AgentStats {
  samplesRead: number;
  /** Samples that passed report-by-exception into the outbox. */
  samplesAccepted: number;
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

/** The agent's figures at one moment, from which health and metrics are built. */
export interface AgentState {
  config: AgentConfig;
  startedAt: number;
  broker: { connected: boolean; reconnects: number; lastError?: string };
  devices: readonly DeviceRuntime[];
  samplesRead: number;
  samplesAccepted: number;
  pollLatency: LatencyHistogram;
  outbox?: OutboxStats;
  reloads: { applied: number; rejected: number };
  writes?: { accepted: number; refused: number; failed: number };
  resources?: ResourceReport;
  inventory?: InventoryStats;
  lastError?: { message: string; at: number };
}

function deviceHealth(d: DeviceRuntime): DeviceHealth {
  const s = d.source.status;
  return {
    name: d.config.name,
    status: deviceState(s),
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

/** Health with the reasons it is not ok, each saying what to check. */
export function agentHealth(s: AgentState): AgentHealth {
  const devices = s.devices.map((d) => deviceHealth(d));
  const { outbox, resources, broker } = s;
  const reasons: string[] = [];
  if (!broker.connected)
    reasons.push(
      `MQTT broker not connected${broker.lastError ? ` (${broker.lastError})` : ''}: samples wait in the outbox; check mqtt.url, credentials and TLS`,
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
    node: s.config.node,
    site: s.config.site,
    version: packageVersion(),
    uptimeSec: Math.round((Date.now() - s.startedAt) / 1000),
    ts: Date.now(),
    broker: {
      connected: broker.connected,
      reconnects: broker.reconnects,
      ...(broker.lastError ? { lastError: broker.lastError } : {}),
    },
    devices,
    samples: {
      read: s.samplesRead,
      accepted: s.samplesAccepted,
      published: outbox?.published.samples ?? 0,
    },
    pollLatencyMs: s.pollLatency.summary(),
    ...(outbox ? { outbox } : {}),
    reloads: { ...s.reloads },
    writes: {
      enabled: s.config.writes.enabled,
      ...(s.writes ?? { accepted: 0, refused: 0, failed: 0 }),
    },
    ...(resources ? { resources } : {}),
    ...(s.inventory ? { inventory: { ...s.inventory } } : {}),
    ...(s.lastError ? { lastError: s.lastError } : {}),
  };
}

/** What `/metrics` reports, read at scrape time. */
export function agentMetricsSnapshot(s: AgentState): AgentMetricsSnapshot {
  const o = s.outbox;
  return {
    node: s.config.node,
    samplesRead: s.samplesRead,
    samplesPublished: o?.published.samples ?? 0,
    messagesPublished: o?.published.messages ?? 0,
    samplesDropped: o?.dropped.samples ?? 0,
    messagesDropped: o?.dropped.messages ?? 0,
    queueMessages: o?.depth.messages ?? 0,
    queueSamples: o?.depth.samples ?? 0,
    queueBytes: o?.depth.bytes ?? 0,
    inflight: o?.inflight ?? 0,
    brokerConnected: s.broker.connected,
    brokerReconnects: s.broker.reconnects,
    writes: { ...(s.writes ?? { accepted: 0, refused: 0, failed: 0 }) },
    reloads: { ...s.reloads },
    devices: s.devices.map((d) => ({
      name: d.config.name,
      connected: d.source.status.connected,
      requests: d.source.status.requests,
      errors: d.source.status.errors,
      cycles: d.cycles,
      missedCycles: d.missedCycles,
      dropped: d.source.status.dropped ?? 0,
      driver: Object.fromEntries(
        (driverFor(d.config).counters ?? []).map((c) => [c.name, c.read(d.source.status)]),
      ),
    })),
  };
}

/** What the agent logs when it stops, and benches read. */
export function agentStats(s: AgentState): AgentStats {
  return {
    samplesRead: s.samplesRead,
    samplesAccepted: s.samplesAccepted,
    pollLatencyMs: s.pollLatency.summary(),
    ...(s.outbox ? { outbox: s.outbox } : {}),
    devices: s.devices.map((d) => ({
      name: d.config.name,
      connected: d.source.status.connected,
      lastError: d.source.status.lastError,
      cycles: d.cycles,
      missedCycles: d.missedCycles,
    })),
  };
}
