// Specifies node commands (NCMD): Node Control/Rebirth births again, anything else is refused,
// other nodes' topics are ignored and commands queued before the birth are not replayed.
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { commandFilters } from '../protocols/mqtt/sparkplug.js';
import {
  GROUP,
  TS,
  ALIAS,
  broker,
  host,
  startNode,
  birthSeen,
  metric,
  bdSeqOf,
  command,
  rawCommand,
  REBIRTH,
  send,
  ncmdTopic,
  dcmdTopic,
  lastRefusal,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';
import { waitFor } from '../test/support/wait.js';

useSparkplugBroker();

describe('NCMD', () => {
  it('births again on Node Control/Rebirth = true with the same bdSeq and current values', async () => {
    let pressure = 1;
    const node = await startNode({
      current: (_d, name) =>
        name === 'press2/pressure' ? { name, value: pressure, quality: 'good', ts: TS } : undefined,
    });
    const first = node.seen('NBIRTH')[0]!;
    pressure = 2;
    expect(await send(node, ncmdTopic(node), command([REBIRTH]))).toEqual({
      births: 1,
      commands: 1,
      invalidCommands: 0,
    });
    const second = await birthSeen(node, 2, 2);
    expect(second.payload.seq).toBe(0);
    expect(bdSeqOf(second)).toBe(bdSeqOf(first));
    expect(metric(second, 'bdSeq').alias).toBe(ALIAS.bdSeq);
    const press2 = node.seen('DBIRTH').filter((s) => s.device === 'press2');
    expect(press2.map((s) => metric(s, 'press2/pressure').value)).toEqual([1, 2]);
    expect(node.birthed).toBe(2);
  });

  it('takes a rebirth request without datatype, as hosts may send it', async () => {
    const node = await startNode();
    const r = await send(
      node,
      ncmdTopic(node),
      rawCommand([{ name: 'Node Control/Rebirth', booleanValue: true }]),
    );
    expect(r).toEqual({ births: 1, commands: 1, invalidCommands: 0 });
  });

  it.each<[string, Buffer, RegExp]>([
    [
      'another node command',
      command([{ name: 'Node Control/Reboot', type: 'Boolean', value: true }]),
      /Node Control\/Reboot is not a node command/,
    ],
    [
      'rebirth = false',
      command([{ name: 'Node Control/Rebirth', type: 'Boolean', value: false }]),
      /must be true, got false/,
    ],
    [
      'rebirth = 1',
      command([{ name: 'Node Control/Rebirth', type: 'Int32', value: 1 }]),
      /must be true, got 1/,
    ],
    [
      'rebirth = "true"',
      command([{ name: 'Node Control/Rebirth', type: 'String', value: 'true' }]),
      /must be true, got true/,
    ],
    [
      'rebirth is_null',
      command([{ name: 'Node Control/Rebirth', type: 'Boolean', value: null }]),
      /must be true, got null/,
    ],
    [
      'rebirth without value',
      rawCommand([{ name: 'Node Control/Rebirth', datatype: 11 }]),
      /must be true, got null/,
    ],
    [
      'a metric by alias only',
      command([{ alias: ALIAS.bdSeq, type: 'Boolean', value: true }]),
      /alias 5 is not a node command/,
    ],
    [
      'rebirth along with another metric',
      command([REBIRTH, { name: 'bdSeq', type: 'Int64', value: 0 }]),
      /bdSeq is not a node command/,
    ],
    ['no metrics', command([]), /no metrics/],
    [
      'bytes that are not Sparkplug',
      Buffer.from('{"rebirth":true}'),
      /not a Sparkplug B protobuf payload/,
    ],
  ])('refuses %s as a whole', async (_what, payload, reason) => {
    const node = await startNode();
    expect(await send(node, ncmdTopic(node), payload)).toEqual({
      births: 0,
      commands: 0,
      invalidCommands: 1,
    });
    expect(lastRefusal(node)).toMatch(reason);
    expect(node.birthed).toBe(1);
  });

  it('ignores messages that are not its own commands', async () => {
    const node = await startNode();
    const others = [
      `spBv1.0/${GROUP}/NCMD/${node.id}-other`,
      `spBv1.0/${GROUP}/DCMD/${node.id}-other/press1`,
      `spBv1.0/plant2/NCMD/${node.id}`,
      `spBv1.0/${GROUP}/NDATA/${node.id}`,
      'spBv1.0/STATE/scada',
      'factorylm/plant1/x',
    ];
    await node.client.subscribeAsync(others, { qos: 1 });
    const before = node.session.stats;
    for (const topic of others) await host.publishAsync(topic, command([REBIRTH]), { qos: 1 });
    // Messages from one host reach the node in order: once this one is counted, so were those.
    await send(node, ncmdTopic(node), command([REBIRTH]));
    expect(node.session.stats).toEqual({
      births: before.births + 1,
      commands: before.commands + 1,
      invalidCommands: before.invalidCommands,
    });
  });

  it('refuses commands queued by the broker before the birth: an old write is not replayed', async () => {
    const id = `edge-${process.pid}-queued`;
    const clientId = `sp-${id}`;
    // An earlier session of the same client left its subscriptions behind.
    const earlier = await mqtt.connectAsync(broker.url, { clientId, clean: false });
    await earlier.subscribeAsync(commandFilters(GROUP, id), { qos: 1 });
    await earlier.endAsync();
    await host.publishAsync(
      `spBv1.0/${GROUP}/DCMD/${id}/press1`,
      command([{ alias: 2, type: 'Boolean', value: false }]),
      { qos: 1 },
    );
    await host.publishAsync(`spBv1.0/${GROUP}/NCMD/${id}`, command([REBIRTH]), { qos: 1 });
    const node = await startNode({ id, mqtt: { clientId, clean: false } });
    await waitFor('both refused', () => node.session.stats.invalidCommands === 2, 5_000, 5);
    expect(lastRefusal(node)).toMatch(/before this connection published its birth sequence/);
    expect(node.writes).toEqual([]);
    expect(node.session.stats).toEqual({ births: 1, commands: 0, invalidCommands: 2 });
    // The session works once born.
    expect(
      await send(
        node,
        dcmdTopic(node, 'press1'),
        command([{ alias: 2, type: 'Boolean', value: true }]),
      ),
    ).toEqual({
      births: 0,
      commands: 1,
      invalidCommands: 0,
    });
    expect(node.writes).toEqual([['press1', 'press1/running', true]]);
  });
});
