import type { Registry } from 'prom-client';
import { byKey, createSnapshotMetrics, one, type MetricRow } from '../core/snapshot-metrics.js';
import type { GatewayStats } from './gateway.js';

/** What a scrape reads: the gateway's counters and whether its MQTT client is connected. */
export interface GatewayMetricsSnapshot {
  name: string;
  stats: GatewayStats;
  brokerConnected: boolean;
}

const PREFIX = 'factorylm_gateway_';

type Row = MetricRow<GatewayMetricsSnapshot>;

const COUNTERS: Row[] = [
  ['messages_total', 'MQTT messages received', one((s) => s.stats.messages)],
  ['points_total', 'Tag samples accepted from valid messages', one((s) => s.stats.points)],
  [
    'invalid_messages_total',
    'Messages rejected, by reason',
    byKey('reason', (s) => s.stats.invalid),
  ],
  [
    'points_written_total',
    'Points InfluxDB accepted (live and from the spool)',
    one((s) => s.stats.sink?.written),
  ],
  [
    'points_dropped_total',
    'Points lost: dropped by the spool limits or refused by InfluxDB',
    one((s) => s.stats.sink?.dropped),
  ],
  ['write_errors_total', 'Failed InfluxDB write requests', one((s) => s.stats.sink?.writeErrors)],
  [
    'spool_dropped_points_total',
    'Oldest spooled points dropped by spool.maxBytes or spool.maxAgeMs',
    one((s) => s.stats.sink?.spool.dropped.points),
  ],
  ['spooled_points_total', 'Points written to the spool', one((s) => s.stats.sink?.spool.spooled)],
  [
    'drained_points_total',
    'Points written back from the spool to InfluxDB',
    one((s) => s.stats.sink?.spool.drained),
  ],
];

const GAUGES: Row[] = [
  ['broker_connected', '1 while connected to the MQTT broker', one((s) => s.brokerConnected)],
  [
    'nodes_online',
    'Agents whose retained status is online',
    one((s) => Object.values(s.stats.nodes).filter((n) => n === 'online').length),
  ],
  [
    'nodes_offline',
    'Agents whose retained status is offline',
    one((s) => Object.values(s.stats.nodes).filter((n) => n === 'offline').length),
  ],
  ['influx_up', '1 while InfluxDB takes writes', one((s) => s.stats.sink?.influx === 'up')],
  [
    'pending_points',
    'Points in memory, not yet written or spooled',
    one((s) => s.stats.sink?.pending),
  ],
  ['spool_points', 'Points waiting in the spool', one((s) => s.stats.sink?.spool.points)],
  ['spool_bytes', 'Size of the spool, bytes', one((s) => s.stats.sink?.spool.bytes)],
  ['spool_max_bytes', 'spool.maxBytes', one((s) => s.stats.sink?.spool.maxBytes)],
  [
    'spool_full',
    '1 at 90 % of spool.maxBytes or after a drop in the last minute',
    one((s) => s.stats.sink?.spool.full),
  ],
  [
    'alarm',
    '1 while points are being lost or are at risk (see /health)',
    one((s) => (s.stats.sink ? s.stats.sink.alarm !== undefined : undefined)),
  ],
  ['acks_held', 'QoS 1 messages whose PUBACK waits', one((s) => s.stats.acks?.held)],
  [
    'alarms_active',
    'Alarms active (acknowledged or not) in the maintenance bridge',
    one((s) => s.stats.maintenance?.alarms.active),
  ],
  [
    'alarms_shelved',
    'Alarms shelved by an operator or for chattering',
    one((s) => s.stats.maintenance?.alarms.shelved),
  ],
  [
    'maintenance_active',
    '1 in the gateway that holds the maintenance lease and evaluates alarms',
    one((s) => (s.stats.maintenance ? s.stats.maintenance.active : undefined)),
  ],
  [
    'llm_queue_depth',
    'Alarms waiting for a diagnosis',
    one((s) => s.stats.maintenance?.llm?.queueDepth),
  ],
  [
    'llm_latency_p99_ms',
    'Diagnosis latency, 99th percentile, ms',
    one((s) => s.stats.maintenance?.llm?.latency.p99),
  ],
  [
    'cmms_queue_depth',
    'CMMS actions waiting in the outbox',
    one((s) => s.stats.maintenance?.cmms?.depth),
  ],
  [
    'cmms_errors_total',
    'Failed CMMS attempts, by kind',
    byKey('kind', (s) => s.stats.maintenance?.cmms?.errors ?? {}),
  ],
  [
    'cmms_parked',
    'Alarm keys whose CMMS actions are parked after a permanent refusal (licence, unknown asset)',
    one((s) => s.stats.maintenance?.cmms?.parked),
  ],
  [
    'sequence_missing',
    'Messages agents sent (by sequence number) that never arrived: lost after the broker acknowledged them',
    one((s) => s.stats.sequence?.missing),
  ],
  [
    'sequence_late_total',
    'Messages that arrived after they had been counted missing',
    one((s) => s.stats.sequence?.late),
  ],
  [
    'sequence_duplicates_total',
    'Messages received again (redelivered by the broker)',
    one((s) => s.stats.sequence?.duplicates),
  ],
];

/**
 * The gateway's metrics on a registry of their own, read from one snapshot per scrape so the
 * numbers agree (`core/snapshot-metrics.ts`); the message path only bumps plain counters.
 */
export function createGatewayMetrics(snapshot: () => GatewayMetricsSnapshot): Registry {
  return createSnapshotMetrics({
    prefix: PREFIX,
    snapshot,
    counters: COUNTERS,
    gauges: GAUGES,
    info: {
      help: 'Always 1; labels name the gateway and its version',
      label: 'gateway',
      value: (s) => s.name,
    },
  }).registry;
}
