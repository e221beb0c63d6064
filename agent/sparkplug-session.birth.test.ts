// Specifies the birth sequence: subscribe to commands first, then NBIRTH and one DBIRTH per
// device with every metric, alias and current value, seq numbers, and a birth that cannot be built.
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { commandFilters, parseSparkplugTopic } from '../protocols/mqtt/sparkplug.js';
import {
  GROUP,
  TS,
  type Devices,
  ALIAS,
  startNode,
  birthSeen,
  decoded,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';
import { waitFor } from '../test/support/wait.js';
import { type SparkplugSample } from './sparkplug-session.js';

useSparkplugBroker();

describe('birth sequence', () => {
  it('subscribes to NCMD and DCMD/+ at QoS 1 and publishes the births only after the SUBACK', async () => {
    const order: string[] = [];
    const node = await startNode({ connect: false });
    const { client } = node;
    const subscribe = client.subscribeAsync.bind(client) as (
      topics: string[],
      opts: { qos: number },
    ) => Promise<unknown>;
    const publish = client.publish.bind(client) as (
      topic: string,
      payload: Buffer,
      opts: { qos: number; retain: boolean },
    ) => MqttClient;
    const subscriptions: unknown[] = [];
    Object.assign(client, {
      subscribeAsync: async (topics: string[], opts: { qos: number }) => {
        subscriptions.push([topics, opts]);
        order.push('SUBSCRIBE');
        const granted = await subscribe(topics, opts);
        order.push('SUBACK');
        return granted;
      },
      publish: (topic: string, payload: Buffer, opts: { qos: number; retain: boolean }) => {
        order.push(`${parseSparkplugTopic(topic)?.verb} qos ${opts.qos} retain ${opts.retain}`);
        return publish(topic, payload, opts);
      },
    });
    client.connect();
    await birthSeen(node, 1, 2);
    expect(subscriptions).toEqual([[commandFilters(GROUP, node.id), { qos: 1 }]]);
    expect(order).toEqual([
      'SUBSCRIBE',
      'SUBACK',
      'NBIRTH qos 0 retain false',
      'DBIRTH qos 0 retain false',
      'DBIRTH qos 0 retain false',
    ]);
  });

  it('births the node and each device with every metric, alias and current value', async () => {
    const samples: Record<string, SparkplugSample> = {
      'press1/temperature': { name: 'press1/temperature', value: 21.5, quality: 'good', ts: TS },
      'press1/running': { name: 'press1/running', value: true, quality: 'good', ts: TS + 1 },
      'press2/pressure': { name: 'press2/pressure', value: 6.25, quality: 'good', ts: TS + 2 },
    };
    const asked: string[] = [];
    const node = await startNode({
      current: (device, name) => {
        asked.push(`${device}:${name}`);
        return samples[name];
      },
    });
    expect(asked).toEqual([
      'press1:press1/temperature',
      'press1:press1/running',
      'press1:press1/mode',
      'press2:press2/pressure',
    ]);
    const [nbirth, press1, press2, ...rest] = node.seen();
    expect(rest).toEqual([]);
    expect(nbirth).toMatchObject({
      topic: `spBv1.0/${GROUP}/NBIRTH/${node.id}`,
      payload: { seq: 0 },
    });
    const now = nbirth!.payload.timestamp!;
    expect(nbirth!.payload.metrics).toEqual([
      {
        name: 'bdSeq',
        alias: ALIAS.bdSeq,
        timestamp: now,
        type: 'Int64',
        value: 0,
        isHistorical: false,
        properties: {},
      },
      // Sparkplug forbids an alias on the rebirth metric.
      {
        name: 'Node Control/Rebirth',
        timestamp: now,
        type: 'Boolean',
        value: false,
        isHistorical: false,
        properties: {},
      },
    ]);
    expect(press1).toMatchObject({
      topic: `spBv1.0/${GROUP}/DBIRTH/${node.id}/press1`,
      payload: { seq: 1 },
    });
    expect(press1!.payload.metrics).toEqual([
      {
        name: 'press1/temperature',
        alias: 1,
        timestamp: TS,
        type: 'Double',
        value: 21.5,
        isHistorical: false,
        properties: {},
      },
      {
        name: 'press1/running',
        alias: 2,
        timestamp: TS + 1,
        type: 'Boolean',
        value: true,
        isHistorical: false,
        properties: {},
      },
      // Never read: born null and BAD, stamped with the birth.
      {
        name: 'press1/mode',
        alias: 3,
        timestamp: press1!.payload.timestamp,
        type: 'String',
        value: null,
        isHistorical: false,
        properties: { Quality: { type: 'Int32', value: 0 } },
      },
    ]);
    expect(press2).toMatchObject({
      topic: `spBv1.0/${GROUP}/DBIRTH/${node.id}/press2`,
      payload: { seq: 2 },
    });
    expect(press2!.payload.metrics).toEqual([
      {
        name: 'press2/pressure',
        alias: 4,
        timestamp: TS + 2,
        type: 'Double',
        value: 6.25,
        isHistorical: false,
        properties: {},
      },
    ]);
    expect(node.birthed).toBe(1);
    expect(node.session.stats).toEqual({ births: 1, commands: 0, invalidCommands: 0 });
  });

  it('keeps every seq of a birth sequence of more than 255 devices within 0-255', async () => {
    const devices: Devices = Array.from({ length: 300 }, (_, i) => ({
      name: `d${i}`,
      metrics: [{ name: `d${i}/v`, type: 'number' }],
    }));
    const node = await startNode({ devices });
    const seqs = node.seen().map((s) => s.payload.seq);
    expect(seqs).toEqual(Array.from({ length: 301 }, (_, i) => i % 256));
    const next = node.session.data(
      'd0',
      [{ name: 'd0/v', value: 1, quality: 'good', ts: TS }],
      false,
    );
    expect(decoded(next!.payload).seq).toBe(301 % 256);
  });

  it('does not call onBirthed when the birth cannot be built, and logs why', async () => {
    const node = await startNode({
      connect: false,
      current: (_device, name) => ({ name, value: 'not a number', quality: 'good', ts: TS }),
    });
    node.client.connect();
    await waitFor(
      'the error',
      () => node.lines.some((l) => l.msg === 'could not build the Sparkplug birth sequence'),
      5_000,
      5,
    );
    expect(node.birthed).toBe(0);
    expect(node.seen()).toEqual([]);
    expect(node.session.stats.births).toBe(0);
    // No birth is current, so no DATA either.
    expect(
      node.session.data(
        'press2',
        [{ name: 'press2/pressure', value: 1, quality: 'good', ts: TS }],
        false,
      ),
    ).toBeUndefined();
  });
});
