// Specifies what a SparkplugSession accepts before it connects: its options (group, edge node,
// device and metric ids), its Will (the NDEATH) and the MQTT client it attaches to.
import mqtt, { type IClientOptions } from 'mqtt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  GROUP,
  DEVICES,
  broker,
  clients,
  decoded,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';
import { SparkplugSession, type SparkplugSessionOptions } from './sparkplug-session.js';

useSparkplugBroker();

describe('SparkplugSession options', () => {
  it.each<[string, Partial<SparkplugSessionOptions>, RegExp]>([
    ['an empty group id', { groupId: '' }, /group id "" must not be empty/],
    ['a group id with /', { groupId: 'plant/1' }, /group id "plant\/1" must not contain/],
    ['an edge node id with +', { edgeNode: 'edge+1' }, /edge node id "edge\+1" must not contain/],
    ['an edge node id with #', { edgeNode: '#' }, /edge node id "#" must not contain/],
    [
      'a device id with /',
      { devices: [{ name: 'a/b', metrics: [] }] },
      /device "a\/b" must not contain/,
    ],
    ['an empty device id', { devices: [{ name: '', metrics: [] }] }, /device "" must not be empty/],
    [
      'a device twice',
      {
        devices: [
          { name: 'd', metrics: [] },
          { name: 'd', metrics: [{ name: 'm', type: 'number' }] },
        ],
      },
      /device "d" appears twice/,
    ],
    [
      'a metric twice on one device',
      {
        devices: [
          {
            name: 'd',
            metrics: [
              { name: 'm', type: 'number' },
              { name: 'm', type: 'string' },
            ],
          },
        ],
      },
      /device "d" has metric "m" twice/,
    ],
    [
      'a metric without a name',
      { devices: [{ name: 'd', metrics: [{ name: '', type: 'boolean' }] }] },
      /device "d" has a metric without a name/,
    ],
  ])('refuses %s', (_what, options, message) => {
    const make = () =>
      new SparkplugSession(
        { groupId: 'g', edgeNode: 'n', devices: DEVICES, ...options },
        pino({ level: 'silent' }),
      );
    expect(make).toThrow(message);
    expect(make).toThrow(/^invalid Sparkplug session options: /);
  });

  it('lists every problem at once', () => {
    expect(
      () =>
        new SparkplugSession(
          {
            groupId: '',
            edgeNode: 'a/b',
            devices: [
              { name: 'x', metrics: [] },
              { name: 'x', metrics: [] },
            ],
          },
          pino({ level: 'silent' }),
        ),
    ).toThrow(/group id "" .*; edge node id "a\/b" .*; device "x" appears twice/);
  });

  it('accepts the same metric name on two devices, metric names with / and no devices', () => {
    const log = pino({ level: 'silent' });
    const same = [
      { name: 'a', metrics: [{ name: 'line/speed', type: 'number' as const }] },
      { name: 'b', metrics: [{ name: 'line/speed', type: 'number' as const }] },
    ];
    expect(
      () => new SparkplugSession({ groupId: 'g', edgeNode: 'n', devices: same }, log),
    ).not.toThrow();
    expect(
      () => new SparkplugSession({ groupId: 'g', edgeNode: 'n', devices: [] }, log),
    ).not.toThrow();
  });
});

describe('will()', () => {
  it('is the NDEATH: QoS 1, not retained, bdSeq 0 as Int64, no seq', () => {
    const session = new SparkplugSession(
      { groupId: GROUP, edgeNode: 'edge-will', devices: DEVICES },
      pino({ level: 'silent' }),
    );
    const before = Date.now();
    const will = session.will();
    expect(will).toMatchObject({
      topic: `spBv1.0/${GROUP}/NDEATH/edge-will`,
      qos: 1,
      retain: false,
    });
    const p = decoded(will.payload);
    expect(p.seq).toBeUndefined();
    expect(p.timestamp).toBeGreaterThanOrEqual(before);
    expect(p.metrics).toEqual([
      {
        name: 'bdSeq',
        timestamp: p.timestamp,
        type: 'Int64',
        value: 0,
        isHistorical: false,
        properties: {},
      },
    ]);
  });
});

describe('attach()', () => {
  const make = (edgeNode = 'edge-attach') =>
    new SparkplugSession({ groupId: GROUP, edgeNode, devices: DEVICES }, pino({ level: 'silent' }));
  const noop = () => undefined;

  it.each<[string, (s: SparkplugSession) => IClientOptions]>([
    ['no Will', () => ({})],
    ['the Will of another edge node', () => ({ will: make('edge-other').will() })],
    [
      'a status Will',
      () => ({
        will: {
          topic: 'factorylm/plant1/_nodes/x/status',
          payload: Buffer.from('offline'),
          qos: 1,
          retain: true,
        },
      }),
    ],
  ])('refuses a client created with %s', (_what, options) => {
    const session = make();
    // Never connected, so never ended (mqtt.js cannot end a client that never had a stream).
    const client = mqtt.connect(broker.url, { manualConnect: true, ...options(session) });
    expect(() => session.attach(client, noop, noop, noop)).toThrow(/will: session\.will\(\)/);
    // Still free to attach to a proper client.
    const good = mqtt.connect(broker.url, { manualConnect: true, will: session.will() });
    expect(() => session.attach(good, noop, noop, noop)).not.toThrow();
  });

  it('refuses a client that is already connected', async () => {
    const session = make();
    const client = await mqtt.connectAsync(broker.url, { will: session.will() });
    clients.push(client);
    expect(() => session.attach(client, noop, noop, noop)).toThrow(/before the client connects/);
  });

  it('refuses a second client', () => {
    const session = make();
    const a = mqtt.connect(broker.url, { manualConnect: true, will: session.will() });
    const b = mqtt.connect(broker.url, { manualConnect: true, will: session.will() });
    session.attach(a, noop, noop, noop);
    expect(() => session.attach(b, noop, noop, noop)).toThrow(/already attached/);
    expect(() => session.attach(a, noop, noop, noop)).toThrow(/already attached/);
  });
});
