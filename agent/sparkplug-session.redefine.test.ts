// Specifies redefine(): new devices and metrics take effect with a new birth that keeps bdSeq;
// invalid definitions are refused and the old ones kept.
import { describe, expect, it } from 'vitest';
import {
  TS,
  type Devices,
  ALIAS,
  startNode,
  birthSeen,
  metric,
  bdSeqOf,
  decoded,
  command,
  REBIRTH,
  send,
  ncmdTopic,
  dcmdTopic,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';

useSparkplugBroker();

describe('redefine()', () => {
  const NEW: Devices = [
    {
      name: 'press2',
      metrics: [
        { name: 'press2/pressure', type: 'number' },
        { name: 'press2/alarm', type: 'boolean' },
      ],
    },
    { name: 'press3', metrics: [{ name: 'press3/speed', type: 'number' }] },
  ];

  it('births again with the new devices, metrics and aliases, keeping bdSeq', async () => {
    const node = await startNode();
    const first = node.seen('NBIRTH')[0]!;
    node.session.redefine(NEW);
    const second = await birthSeen(node, 2, 2);
    expect(second.payload.seq).toBe(0);
    expect(bdSeqOf(second)).toBe(bdSeqOf(first));
    expect(metric(second, 'bdSeq').alias).toBe(4);
    const dbirths = node.seen().slice(node.seen().indexOf(second) + 1);
    expect(dbirths.map((s) => [s.verb, s.device, s.payload.seq])).toEqual([
      ['DBIRTH', 'press2', 1],
      ['DBIRTH', 'press3', 2],
    ]);
    expect(dbirths.map((s) => s.payload.metrics.map((m) => [m.name, m.alias, m.type]))).toEqual([
      [
        ['press2/pressure', 1, 'Double'],
        ['press2/alarm', 2, 'Boolean'],
      ],
      [['press3/speed', 3, 'Double']],
    ]);
    expect(node.birthed).toBe(2);
    expect(() =>
      node.session.data(
        'press1',
        [{ name: 'press1/temperature', value: 1, quality: 'good', ts: TS }],
        false,
      ),
    ).toThrow(/unknown Sparkplug device "press1"/);
    const m = node.session.data(
      'press3',
      [{ name: 'press3/speed', value: 9, quality: 'good', ts: TS }],
      false,
    )!;
    expect(decoded(m.payload)).toMatchObject({ seq: 3, metrics: [{ alias: 3, value: 9 }] });
    // Commands go by the new aliases.
    expect(
      await send(
        node,
        dcmdTopic(node, 'press2'),
        command([{ alias: 2, type: 'Boolean', value: true }]),
      ),
    ).toMatchObject({ commands: 1 });
    expect(node.writes).toEqual([['press2', 'press2/alarm', true]]);
    expect(
      await send(
        node,
        dcmdTopic(node, 'press1'),
        command([{ alias: 1, type: 'Double', value: 1 }]),
      ),
    ).toMatchObject({ invalidCommands: 1 });
  });

  it('refuses invalid definitions and keeps the old ones, without a birth', async () => {
    const node = await startNode();
    expect(() =>
      node.session.redefine([
        { name: 'press1', metrics: [{ name: 'press1/temperature', type: 'number' }] },
        { name: 'press1', metrics: [] },
      ]),
    ).toThrow(/device "press1" appears twice/);
    expect(() => node.session.redefine([{ name: 'a+b', metrics: [] }])).toThrow(/must not contain/);
    expect(node.session.stats.births).toBe(1);
    const m = node.session.data(
      'press1',
      [{ name: 'press1/mode', value: 'x', quality: 'good', ts: TS }],
      false,
    )!;
    expect(decoded(m.payload).metrics.map((x) => x.alias)).toEqual([ALIAS['press1/mode']]);
    // The next birth still carries the old definitions.
    await send(node, ncmdTopic(node), command([REBIRTH]));
    const second = await birthSeen(node, 2, 2);
    expect(metric(second, 'bdSeq').alias).toBe(ALIAS.bdSeq);
  });

  it('before the first birth, the birth carries the new definitions', async () => {
    const node = await startNode({ connect: false });
    node.session.redefine(NEW);
    node.client.connect();
    await birthSeen(node, 1, 2);
    expect(node.seen('DBIRTH').map((s) => s.device)).toEqual(['press2', 'press3']);
    expect(node.session.stats.births).toBe(1);
  });
});
