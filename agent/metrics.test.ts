import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../core/package-info.js';
import { createAgentMetrics, type AgentMetricsSnapshot } from './metrics.js';

function snapshot(): AgentMetricsSnapshot {
  return {
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
      { name: 'press-1', connected: true, requests: 800, errors: 7, cycles: 400, missedCycles: 3 },
      { name: 'oven', connected: false, requests: 50, errors: 50, cycles: 0, missedCycles: 0 },
    ],
  };
}

/** The sample lines of an exposition, `name{labels} value`, without HELP/TYPE comments. */
async function scrape(metrics: ReturnType<typeof createAgentMetrics>): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((l) => l && !l.startsWith('#'));
}

describe('createAgentMetrics', () => {
  it('exposes the snapshot under factorylm_agent_ names with the right labels', async () => {
    const lines = await scrape(createAgentMetrics(snapshot));
    const expected = [
      'factorylm_agent_samples_read_total 1000123',
      'factorylm_agent_samples_published_total 999000',
      'factorylm_agent_messages_published_total 45000',
      'factorylm_agent_samples_dropped_total 17',
      'factorylm_agent_messages_dropped_total 3',
      'factorylm_agent_broker_reconnects_total 2',
      'factorylm_agent_writes_total{result="accepted"} 5',
      'factorylm_agent_writes_total{result="refused"} 4',
      'factorylm_agent_writes_total{result="failed"} 1',
      'factorylm_agent_config_reloads_total{result="applied"} 6',
      'factorylm_agent_config_reloads_total{result="rejected"} 2',
      'factorylm_agent_device_requests_total{device="press-1"} 800',
      'factorylm_agent_device_requests_total{device="oven"} 50',
      'factorylm_agent_device_errors_total{device="press-1"} 7',
      'factorylm_agent_device_errors_total{device="oven"} 50',
      'factorylm_agent_device_cycles_total{device="press-1"} 400',
      'factorylm_agent_device_cycles_total{device="oven"} 0',
      'factorylm_agent_device_missed_cycles_total{device="press-1"} 3',
      'factorylm_agent_device_missed_cycles_total{device="oven"} 0',
      'factorylm_agent_outbox_messages 12',
      'factorylm_agent_outbox_samples 340',
      'factorylm_agent_outbox_bytes 65536',
      'factorylm_agent_publish_inflight 9',
      'factorylm_agent_broker_connected 1',
      'factorylm_agent_device_connected{device="press-1"} 1',
      'factorylm_agent_device_connected{device="oven"} 0',
      `factorylm_agent_info{node="edge-7",version="${packageVersion()}"} 1`,
    ];
    expect(lines).toEqual(expect.arrayContaining(expected));
  });

  it('declares counter and gauge types', async () => {
    const text = await createAgentMetrics(snapshot).registry.metrics();
    expect(text).toContain('# TYPE factorylm_agent_samples_read_total counter');
    expect(text).toContain('# TYPE factorylm_agent_device_errors_total counter');
    expect(text).toContain('# TYPE factorylm_agent_outbox_bytes gauge');
    expect(text).toContain('# TYPE factorylm_agent_poll_latency_seconds histogram');
  });

  it('includes default process metrics on its own registry, not the global one', async () => {
    const metrics = createAgentMetrics(snapshot);
    const lines = await scrape(metrics);
    expect(lines.some((l) => l.startsWith('factorylm_agent_process_resident_memory_bytes '))).toBe(
      true,
    );
    expect(lines.some((l) => l.startsWith('factorylm_agent_nodejs_heap_size_used_bytes '))).toBe(
      true,
    );
    expect(globalRegistry.getSingleMetric('factorylm_agent_samples_read_total')).toBeUndefined();
    // A second instance (a test, a restart in-process) must not collide with the first.
    expect(() => createAgentMetrics(snapshot)).not.toThrow();
  });

  it('reads the snapshot once per scrape and follows it between scrapes', async () => {
    let calls = 0;
    let current = snapshot();
    const metrics = createAgentMetrics(() => {
      calls += 1;
      return current;
    });
    await scrape(metrics);
    expect(calls).toBe(1);

    current = { ...snapshot(), samplesRead: 2_000_000, brokerConnected: false };
    current.devices = current.devices.filter((d) => d.name !== 'oven');
    const lines = await scrape(metrics);
    expect(calls).toBe(2);
    expect(lines).toContain('factorylm_agent_samples_read_total 2000000');
    expect(lines).toContain('factorylm_agent_broker_connected 0');
    expect(lines.filter((l) => l.includes('device="oven"'))).toEqual([]);
  });

  it('puts a poll duration into the right bucket', async () => {
    const metrics = createAgentMetrics(snapshot);
    metrics.observePoll('press-1', 7);
    metrics.observePoll('press-1', 1500);
    const lines = await scrape(metrics);
    const bucket = (le: string) =>
      lines.find((l) =>
        l.startsWith(`factorylm_agent_poll_latency_seconds_bucket{le="${le}",device="press-1"} `),
      );
    expect(bucket('0.005')).toMatch(/ 0$/);
    expect(bucket('0.01')).toMatch(/ 1$/);
    expect(bucket('1')).toMatch(/ 1$/);
    expect(bucket('2.5')).toMatch(/ 2$/);
    expect(bucket('+Inf')).toMatch(/ 2$/);
    expect(lines).toContain('factorylm_agent_poll_latency_seconds_count{device="press-1"} 2');
    expect(lines).toContain('factorylm_agent_poll_latency_seconds_sum{device="press-1"} 1.507');
    expect(bucket('0.001')).toMatch(/ 0$/);
    expect(bucket('10')).toMatch(/ 2$/);
  });

  it('drops the poll latency of a device removed from the snapshot', async () => {
    let devices = snapshot().devices;
    const metrics = createAgentMetrics(() => ({ ...snapshot(), devices }));
    metrics.observePoll('oven', 30);
    expect((await scrape(metrics)).some((l) => l.includes('device="oven"'))).toBe(true);
    devices = devices.filter((d) => d.name !== 'oven');
    expect((await scrape(metrics)).some((l) => l.includes('device="oven"'))).toBe(false);
  });
});
