// Specifies bdSeq across reconnects and broker restarts, the NDEATH the broker sends as the Will,
// and close(), which publishes the NDEATH itself.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startMosquitto } from '../test/support/services.js';
import {
  GROUP,
  TS,
  DEVICES,
  type Seen,
  clients,
  startHost,
  startNode,
  birthSeen,
  bdSeqOf,
  willBdSeq,
  command,
  REBIRTH,
  ncmdTopic,
  endAll,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';
import { waitFor } from '../test/support/wait.js';
import { SparkplugSession } from './sparkplug-session.js';

useSparkplugBroker();

describe('bdSeq', () => {
  it('moves on with every reconnect, 255 wrapping to 0, and the Will follows it', async () => {
    const node = await startNode({ connect: false });
    const will = () => node.client.options.will;
    expect(willBdSeq(will())).toBe(0);
    for (let i = 1; i <= 256; i++) {
      node.client.emit('reconnect');
      expect(willBdSeq(will())).toBe(i % 256);
      expect(willBdSeq(node.session.will())).toBe(i % 256);
      expect(will()).toMatchObject({
        topic: `spBv1.0/${GROUP}/NDEATH/${node.id}`,
        qos: 1,
        retain: false,
      });
    }
    node.client.connect();
    const nbirth = await birthSeen(node, 1, 2);
    expect(bdSeqOf(nbirth)).toBe(0);
  });

  it('is new after the broker restarts, and the Will the broker sends carries it', async () => {
    let own = await startMosquitto();
    const into: Seen[] = [];
    try {
      const sparkplugHost = await startHost(own.url, into);
      const node = await startNode({ url: own.url, into });
      expect(bdSeqOf(node.seen('NBIRTH')[0]!)).toBe(0);
      await own.kill('SIGKILL');
      await waitFor('the node to notice', () => !node.client.connected, 5_000, 5);
      expect(
        node.session.data(
          'press2',
          [{ name: 'press2/pressure', value: 1, quality: 'good', ts: TS }],
          false,
        ),
      ).toBeUndefined();
      own = await startMosquitto({ port: own.port, dir: own.dir });
      await waitFor(
        'the birth after the restart',
        () => node.session.stats.births === 2,
        10_000,
        5,
      );
      await waitFor('the host back', () => sparkplugHost.connected, 10_000, 5);
      const bdSeq = willBdSeq(node.session.will());
      // One per CONNECT attempt while the broker was down, at least one.
      expect(bdSeq).toBeGreaterThanOrEqual(1);
      expect(willBdSeq(node.client.options.will)).toBe(bdSeq);
      // The host may have missed that birth while it reconnected; a rebirth shows it.
      const births = node.seen('NBIRTH').length;
      await sparkplugHost.publishAsync(ncmdTopic(node), command([REBIRTH]), { qos: 1 });
      const nbirth = await birthSeen(node, births + 1, 2);
      expect(bdSeqOf(nbirth)).toBe(bdSeq);
      // The connection dies without DISCONNECT: the broker publishes the Will.
      node.client.stream.destroy();
      const death = await waitFor('NDEATH', () => node.seen('NDEATH')[0], 10_000, 5);
      expect(death.payload.seq).toBeUndefined();
      expect(death.payload.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
        ['bdSeq', 'Int64', bdSeq],
      ]);
      // And the next connection is a new one.
      await waitFor('the next birth', () => node.session.stats.births === 4, 10_000, 5);
      expect(willBdSeq(node.session.will())).toBe((bdSeq as number) + 1);
    } finally {
      await endAll(clients);
      await own.stop();
    }
  });
});

describe('close()', () => {
  it('publishes NDEATH with the bdSeq of the birth, then disconnects', async () => {
    const node = await startNode();
    const bdSeq = bdSeqOf(node.seen('NBIRTH')[0]!);
    await node.session.close();
    expect(node.client.connected).toBe(false);
    expect(node.client.disconnected).toBe(true);
    const death = await waitFor('NDEATH', () => node.seen('NDEATH')[0], 5_000, 5);
    expect(death.topic).toBe(`spBv1.0/${GROUP}/NDEATH/${node.id}`);
    expect(death.payload.seq).toBeUndefined();
    expect(death.payload.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
      ['bdSeq', 'Int64', bdSeq],
    ]);
    expect(
      node.session.data(
        'press2',
        [{ name: 'press2/pressure', value: 1, quality: 'good', ts: TS }],
        false,
      ),
    ).toBeUndefined();
    await node.session.close();
    // A clean DISCONNECT discards the Will: one NDEATH only.
    await new Promise((r) => setTimeout(r, 200));
    expect(node.seen('NDEATH')).toHaveLength(1);
  });

  it('does nothing on a session never attached', async () => {
    const session = new SparkplugSession(
      { groupId: GROUP, edgeNode: 'edge-never', devices: DEVICES },
      pino({ level: 'silent' }),
    );
    await expect(session.close()).resolves.toBeUndefined();
  });
});
