import { describe, expect, it } from 'vitest';
import { packageVersion } from '../core/package-info.js';
import type { GatewayStats } from './gateway.js';
import { createGatewayMetrics, type GatewayMetricsSnapshot } from './metrics.js';

/** The exposition without prom-client's default process metrics (they vary) and the version. */
async function exposition(snapshot: GatewayMetricsSnapshot): Promise<string> {
  const text = await createGatewayMetrics(() => snapshot).metrics();
  return text
    .split(/(?=^# HELP )/m)
    .filter((block) => !/^# HELP factorylm_gateway_(process|nodejs)_/.test(block))
    .join('')
    .replaceAll(`version="${packageVersion()}"`, 'version="<version>"');
}

const full: GatewayStats = {
  messages: 120_345,
  points: 9_876_543,
  invalid: { 'not-json': 3, 'bad-value': 1 },
  nodes: { 'edge-1': 'online', 'edge-2': 'online', 'edge-3': 'offline' },
  sink: {
    written: 9_800_000,
    dropped: 12,
    pending: 345,
    writeErrors: 4,
    lastError: 'connect ECONNREFUSED',
    rejected: 2,
    influx: 'down',
    spool: {
      path: '/var/lib/spool.db',
      durable: true,
      batches: 7,
      points: 7000,
      bytes: 512_000,
      maxBytes: 1_073_741_824,
      spooled: 70_000,
      drained: 63_000,
      dropped: { batches: 1, points: 10 },
      full: false,
    },
    alarm: 'InfluxDB is down',
  },
  acks: { held: 17, acked: 120_000, redelivered: 5 },
  sequence: {
    nodes: 3,
    received: 120_000,
    duplicates: 6,
    missing: 2,
    late: 1,
    restarts: 0,
    unattributed: 0,
  },
  maintenance: {
    active: true,
    alarms: { active: 4, shelved: 1 },
    llm: { queueDepth: 2, latency: { p99: 1234.5 } },
    cmms: { depth: 3, errors: { transient: 5, permanent: 1 }, parked: 1 },
    faults: 9,
    diagnosisPending: 0,
    diagnosisLate: 0,
    diagnosed: { llm: 7, template: 2 },
    recentRefused: 0,
  } as unknown as GatewayStats['maintenance'],
};

/** A gateway without InfluxDB, maintenance or sequence check: those metrics have no series. */
const bare: GatewayStats = { messages: 0, points: 0, invalid: {}, nodes: {} };

describe('createGatewayMetrics exposition (byte for byte, recorded before core/snapshot-metrics.ts)', () => {
  it.each([
    ['full', { name: 'gw-1', stats: full, brokerConnected: true }],
    ['bare', { name: 'gw-2', stats: bare, brokerConnected: false }],
  ] as const)('%s snapshot', async (name, snapshot) => {
    await expect(await exposition(snapshot)).toMatchFileSnapshot(`__golden__/metrics-${name}.prom`);
  });
});
