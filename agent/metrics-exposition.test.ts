import { describe, expect, it } from 'vitest';
import { packageVersion } from '../core/package-info.js';
import { createAgentMetrics, type AgentMetricsSnapshot } from './metrics.js';

const snapshot: AgentMetricsSnapshot = {
  node: 'edge-7',
  samplesRead: 1_000_123,
  samplesPublished: 999_000,
  messagesPublished: 45_000,
  samplesDropped: 17,
  messagesDropped: 3,
  queueMessages: 12,
  queueSamples: 340,
  queueBytes: 65_536,
  inflight: 9,
  brokerConnected: true,
  brokerReconnects: 2,
  writes: { accepted: 5, refused: 4, failed: 1 },
  reloads: { applied: 6, rejected: 2 },
  devices: [
    {
      name: 'press-1',
      connected: true,
      requests: 800,
      errors: 7,
      cycles: 400,
      missedCycles: 3,
      driver: { timeouts: 4 },
    },
    {
      name: 'opc',
      connected: false,
      requests: 50,
      errors: 50,
      cycles: 0,
      missedCycles: 0,
      dropped: 11,
      driver: { notifications: 1234 },
    },
  ],
};

describe('createAgentMetrics exposition (byte for byte, recorded before core/snapshot-metrics.ts; driver counters added since)', () => {
  it('one snapshot, poll latencies and a removed device', async () => {
    let current = snapshot;
    const metrics = createAgentMetrics(() => current);
    metrics.observePoll('press-1', 3.2);
    metrics.observePoll('press-1', 180);
    metrics.observePoll('gone', 12);
    metrics.observePoll('opc', 0.4);
    const text = await metrics.registry.metrics();
    current = { ...snapshot, devices: snapshot.devices.slice(0, 1), samplesRead: 2_000_000 };
    const after = await metrics.registry.metrics();
    const stable = (t: string) =>
      t
        .split(/(?=^# HELP )/m)
        .filter((block) => !/^# HELP factorylm_agent_(process|nodejs)_/.test(block))
        .join('')
        .replaceAll(`version="${packageVersion()}"`, 'version="<version>"');
    await expect(
      `${stable(text)}\n--- after a scrape with one device ---\n${stable(after)}`,
    ).toMatchFileSnapshot('__golden__/metrics.prom');
  });
});
