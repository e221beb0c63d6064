import { describe, expect, it } from 'vitest';
import { gatewayHealthLine, healthLines } from './health-points.js';

const source = { site: 'plant1', node: 'edge-01' };
const TS = 1732480000123;

/** An agent health as the agent publishes it (AgentHealth), trimmed to what matters here. */
function health(change: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status: 'degraded',
    reasons: ['device rtu failing: timeout'],
    node: 'edge-01',
    site: 'plant1',
    version: '0.1.0',
    uptimeSec: 42,
    ts: TS,
    broker: { connected: true, reconnects: 0 },
    devices: [
      {
        name: 'micro820',
        status: 'connected',
        requests: 120,
        errors: 0,
        timeouts: 0,
        cycles: 60,
        missedCycles: 0,
        latencyMs: 1.25,
      },
      {
        name: 'rtu',
        status: 'failing',
        reason: 'timeout',
        requests: 10,
        errors: 10,
        timeouts: 10,
        cycles: 5,
        missedCycles: 1,
      },
    ],
    samples: { read: 1440, accepted: 1440, published: 1400 },
    pollLatencyMs: { p50: 1.1, p99: 3.5, max: 7, count: 60 },
    outbox: {
      durable: true,
      path: '/var/lib/factorylm/outbox-edge-01.db',
      accepted: { messages: 1440, samples: 1440 },
      published: { messages: 1400, samples: 1400 },
      dropped: { messages: 2, samples: 3 },
      depth: { messages: 40, samples: 40, bytes: 4096 },
      inflight: 0,
      replaying: false,
      replayed: 0,
      failedPublishes: 0,
    },
    reloads: { applied: 0, rejected: 0 },
    writes: { enabled: false, accepted: 0, refused: 0, failed: 0 },
    resources: {
      status: 'ok',
      reasons: [],
      eventLoopLagMs: { p50: 0, p99: 2.5, max: 4 },
      rssMb: 95.3,
      heapUsedMb: 20.1,
      rssGrowthMbPerHour: 0,
    },
    ...change,
  };
}

describe('healthLines', () => {
  it('writes one edge_agent_health line and one edge_device_health line per device', () => {
    const out = healthLines(source, JSON.stringify(health()));
    expect(out).toEqual({
      ok: true,
      value: [
        'edge_agent_health,node=edge-01,site=plant1 broker_connected=1,devices=2,devices_connected=1,dropped=3,event_loop_lag_ms=2.5,poll_latency_max_ms=7,poll_latency_ms=3.5,poll_latency_p50_ms=1.1,queue_bytes=4096,queue_depth=40,rss=95.3,samples_published=1400,samples_read=1440,status="degraded",up=1,uptime_sec=42 1732480000123',
        'edge_device_health,device=micro820,node=edge-01,site=plant1 connected=1,cycles=60,errors=0,latency_ms=1.25,missed_cycles=0,requests=120,status="connected",timeouts=0 1732480000123',
        'edge_device_health,device=rtu,node=edge-01,site=plant1 connected=0,cycles=5,errors=10,missed_cycles=1,requests=10,status="failing",timeouts=10 1732480000123',
      ],
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'no outbox, resources or broker section: only what is there',
      { outbox: undefined, resources: undefined, broker: undefined, devices: [] },
      'edge_agent_health,node=edge-01,site=plant1 devices=0,devices_connected=0,poll_latency_max_ms=7,poll_latency_ms=3.5,poll_latency_p50_ms=1.1,samples_published=1400,samples_read=1440,status="degraded",up=1,uptime_sec=42 1732480000123',
    ],
    [
      'a payload without "node" takes the topic node',
      { node: undefined, devices: [], outbox: undefined, resources: undefined },
      'edge_agent_health,node=edge-01,site=plant1 broker_connected=1,devices=0,devices_connected=0,poll_latency_max_ms=7,poll_latency_ms=3.5,poll_latency_p50_ms=1.1,samples_published=1400,samples_read=1440,status="degraded",up=1,uptime_sec=42 1732480000123',
    ],
  ])('%s', (_name, change, line) => {
    expect(healthLines(source, JSON.stringify(health(change)))).toEqual({
      ok: true,
      value: [line],
    });
  });

  it('escapes tag values', () => {
    const out = healthLines(
      { site: 'plant 1', node: 'edge,01' },
      JSON.stringify(health({ node: 'edge,01', devices: [] })),
    );
    expect(out.ok && out.value[0]).toMatch(/^edge_agent_health,node=edge\\,01,site=plant\\ 1 /);
  });

  it.each<[string, string | Buffer, string, RegExp]>([
    ['not JSON', '{"status":', 'not-json', /JSON/],
    ['an array', '[1,2]', 'not-object', /not a JSON object/],
    ['null', 'null', 'not-object', /not a JSON object/],
    [
      'no ts',
      JSON.stringify(health({ ts: undefined })),
      'bad-health',
      /"ts" must be epoch milliseconds, got undefined/,
    ],
    [
      'ts in seconds',
      JSON.stringify(health({ ts: 1732480000 })),
      'bad-health',
      /"ts" must be epoch milliseconds, got 1732480000/,
    ],
    [
      'another node than the topic',
      JSON.stringify(health({ node: 'edge-02' })),
      'bad-health',
      /"node" is "edge-02" but the topic is _nodes\/edge-01\/health/,
    ],
    [
      'an unknown status',
      JSON.stringify(health({ status: 'fine' })),
      'bad-health',
      /"status" must be ok\|degraded\|down, got "fine"/,
    ],
    [
      'devices not an array',
      JSON.stringify(health({ devices: {} })),
      'bad-health',
      /"devices" must be an array/,
    ],
    [
      'a device that is not an object',
      JSON.stringify(health({ devices: [3] })),
      'bad-health',
      /"devices\[0\]" must be an object/,
    ],
    [
      'a device without a name',
      JSON.stringify(health({ devices: [{ status: 'connected', requests: 1, errors: 0 }] })),
      'bad-health',
      /"devices\[0\]\.name" must be a non-empty string/,
    ],
    [
      'a device with an unknown status',
      JSON.stringify(health({ devices: [{ name: 'a', status: 'up', requests: 1, errors: 0 }] })),
      'bad-health',
      /"devices\[0\]\.status" must be connected\|disconnected\|failing, got "up"/,
    ],
    [
      'a device with a string count',
      JSON.stringify(
        health({ devices: [{ name: 'a', status: 'connected', requests: '1', errors: 0 }] }),
      ),
      'bad-health',
      /"devices\[0\]\.requests" must be a number, got "1"/,
    ],
    [
      'a device with a non-numeric latency',
      JSON.stringify(
        health({
          devices: [{ name: 'a', status: 'connected', requests: 1, errors: 0, latencyMs: 'fast' }],
        }),
      ),
      'bad-health',
      /"devices\[0\]\.latencyMs" must be a number when present/,
    ],
    ['a Buffer that is not JSON', Buffer.from([0xff, 0xfe]), 'not-json', /JSON/],
  ])('refuses %s with a reason', (_name, payload, reason, detail) => {
    const out = healthLines(source, payload);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.reason).toBe(reason);
    expect(out.detail).toMatch(detail);
  });

  it('ignores numeric fields of the wrong type rather than writing a type conflict', () => {
    const out = healthLines(
      source,
      JSON.stringify(health({ uptimeSec: '42', pollLatencyMs: null, devices: [] })),
    );
    expect(out.ok).toBe(true);
    if (out.ok) {
      expect(out.value[0]).not.toMatch(/uptime_sec|poll_latency/);
      expect(out.value[0]).toMatch(/,rss=95\.3,/);
    }
  });
});

describe('gatewayHealthLine', () => {
  it.each<[string, Parameters<typeof gatewayHealthLine>[1], string]>([
    [
      'with a sink',
      {
        messages: 100,
        points: 90,
        invalid: { 'not-json': 3, 'bad-health': 2 },
        nodes: { 'edge-01': 'online', 'edge-02': 'offline', 'edge-03': 'online' },
        sink: { written: 80, dropped: 1, pending: 9, writeErrors: 2 },
      },
      'gateway_health,gateway=gw1 dropped=1,invalid=5,messages=100,nodes_online=2,pending=9,points=90,write_errors=2,written=80 1732480000123',
    ],
    [
      'without a sink',
      { messages: 0, points: 0, invalid: {}, nodes: {} },
      'gateway_health,gateway=gw1 invalid=0,messages=0,nodes_online=0,points=0 1732480000123',
    ],
  ])('%s', (_name, stats, line) => {
    expect(gatewayHealthLine('gw1', stats, TS)).toBe(line);
  });
});
