import { Histogram, type Registry } from 'prom-client';
import { DRIVER_COUNTERS } from '../protocols/registry.js';
import {
  byKey,
  createSnapshotMetrics,
  one,
  type MetricRow,
  type Source,
} from '../core/snapshot-metrics.js';

export interface DeviceMetrics {
  name: string;
  connected: boolean;
  requests: number;
  errors: number;
  cycles: number;
  missedCycles: number;
  /** Readings the driver merged away because the agent took them too slowly (OPC UA). */
  dropped?: number;
  /** The driver's own counters by name (protocols/<name>/driver.ts `counters`). */
  driver?: Record<string, number>;
}

/** The agent's counters and levels at one moment; read at scrape time, never per sample. */
export interface AgentMetricsSnapshot {
  node: string;
  samplesRead: number;
  samplesPublished: number;
  messagesPublished: number;
  /** Outbox drops: backlog full or too old. */
  samplesDropped: number;
  messagesDropped: number;
  queueMessages: number;
  queueSamples: number;
  queueBytes: number;
  inflight: number;
  brokerConnected: boolean;
  brokerReconnects: number;
  writes: { accepted: number; refused: number; failed: number };
  reloads: { applied: number; rejected: number };
  devices: DeviceMetrics[];
}

export interface AgentMetrics {
  registry: Registry;
  /** Records one poll cycle's duration; per cycle, not per sample, so cheap enough. */
  observePoll(device: string, ms: number): void;
}

const PREFIX = 'factorylm_agent_';
/** 1 ms (one fast register read) to 10 s (a timed-out serial line with retries). */
const POLL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const scalar = (read: (s: AgentMetricsSnapshot) => number | boolean) =>
  one<AgentMetricsSnapshot>(read);

const perDevice = (read: (d: DeviceMetrics) => number | boolean): Source<AgentMetricsSnapshot> => ({
  labelNames: ['device'],
  read: (s) => s.devices.map((d) => [{ device: d.name }, Number(read(d))]),
});

const perResult = (read: (s: AgentMetricsSnapshot) => Record<string, number>) =>
  byKey<AgentMetricsSnapshot>('result', read);

const COUNTERS: MetricRow<AgentMetricsSnapshot>[] = [
  ['samples_read_total', 'Samples read from devices', scalar((s) => s.samplesRead)],
  ['samples_published_total', 'Samples published to the broker', scalar((s) => s.samplesPublished)],
  [
    'messages_published_total',
    'MQTT messages published to the broker',
    scalar((s) => s.messagesPublished),
  ],
  [
    'samples_dropped_total',
    'Samples dropped from the outbox, full or too old',
    scalar((s) => s.samplesDropped),
  ],
  [
    'messages_dropped_total',
    'Messages dropped from the outbox, full or too old',
    scalar((s) => s.messagesDropped),
  ],
  [
    'broker_reconnects_total',
    'Reconnections to the MQTT broker',
    scalar((s) => s.brokerReconnects),
  ],
  ['writes_total', 'Write requests by outcome', perResult((s) => s.writes)],
  ['config_reloads_total', 'Config reloads by outcome', perResult((s) => s.reloads)],
  ['device_requests_total', 'Protocol requests sent to the device', perDevice((d) => d.requests)],
  ['device_errors_total', 'Failed requests to the device', perDevice((d) => d.errors)],
  ['device_cycles_total', 'Completed poll cycles', perDevice((d) => d.cycles)],
  [
    'device_missed_cycles_total',
    'Poll cycles skipped because the previous one overran',
    perDevice((d) => d.missedCycles),
  ],
  [
    'device_dropped_total',
    'Readings merged away in the driver because the agent took them too slowly',
    perDevice((d) => d.dropped ?? 0),
  ],
  ...DRIVER_COUNTERS.map(({ name, help }): MetricRow<AgentMetricsSnapshot> => [
    `device_${name}_total`,
    help,
    {
      labelNames: ['device'],
      read: (s) =>
        s.devices.flatMap((d) =>
          d.driver?.[name] === undefined ? [] : [[{ device: d.name }, d.driver[name]]],
        ),
    },
  ]),
];

const GAUGES: MetricRow<AgentMetricsSnapshot>[] = [
  ['outbox_messages', 'Messages waiting in the outbox', scalar((s) => s.queueMessages)],
  ['outbox_samples', 'Samples waiting in the outbox', scalar((s) => s.queueSamples)],
  ['outbox_bytes', 'Size of the outbox backlog, bytes', scalar((s) => s.queueBytes)],
  ['publish_inflight', 'QoS 1 messages awaiting PUBACK', scalar((s) => s.inflight)],
  ['broker_connected', '1 while connected to the MQTT broker', scalar((s) => s.brokerConnected)],
  ['device_connected', '1 while the device answers', perDevice((d) => d.connected)],
];

/**
 * Metrics on a registry of their own, so they never mix with another component's or a library's
 * use of the global one. Counters are filled from `snapshot` when scraped (one snapshot per
 * scrape, `core/snapshot-metrics.ts`): the poll and publish hot paths only bump plain numbers.
 */
export function createAgentMetrics(snapshot: () => AgentMetricsSnapshot): AgentMetrics {
  const { registry, current } = createSnapshotMetrics({
    prefix: PREFIX,
    snapshot,
    counters: COUNTERS,
    gauges: GAUGES,
    info: {
      help: 'Always 1; labels name the node and the agent version',
      label: 'node',
      value: (s) => s.node,
    },
  });

  const polled = new Set<string>();
  const pollLatency = new Histogram({
    name: PREFIX + 'poll_latency_seconds',
    help: 'Duration of one poll cycle of a device',
    labelNames: ['device'],
    buckets: POLL_BUCKETS,
    registers: [registry],
    // A device removed by a config reload must not leave its series behind forever.
    collect() {
      const live = new Set(current().devices.map((d) => d.name));
      for (const device of polled) {
        if (live.has(device)) continue;
        this.remove({ device });
        polled.delete(device);
      }
    },
  });

  return {
    registry,
    observePoll(device, ms) {
      polled.add(device);
      pollLatency.observe({ device }, ms / 1000);
    },
  };
}
