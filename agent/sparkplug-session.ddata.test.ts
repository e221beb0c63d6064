// Specifies data(): the DDATA messages built from samples, their seq numbers, is_historical,
// and the samples it refuses.
import { describe, expect, it } from 'vitest';
import type { Quality, TagValue } from '../protocols/types.js';
import {
  GROUP,
  TS,
  startNode,
  birthSeen,
  decoded,
  command,
  REBIRTH,
  send,
  ncmdTopic,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';
import { type SparkplugSample } from './sparkplug-session.js';

useSparkplugBroker();

describe('data()', () => {
  const sample = (
    name: string,
    value: TagValue | null,
    quality: Quality = 'good',
  ): SparkplugSample => ({
    name,
    value,
    quality,
    ts: TS,
  });

  it('returns undefined before the birth without taking a seq, and nothing for no samples', async () => {
    const node = await startNode({ connect: false });
    expect(node.session.data('press1', [sample('press1/temperature', 1)], false)).toBeUndefined();
    node.client.connect();
    await birthSeen(node, 1, 2);
    expect(node.session.data('press1', [], false)).toBeUndefined();
    const m = node.session.data(
      'press1',
      [sample('press1/temperature', 1), sample('press1/mode', 'auto')],
      false,
    )!;
    expect(m.topic).toBe(`spBv1.0/${GROUP}/DDATA/${node.id}/press1`);
    const p = decoded(m.payload);
    expect(p.seq).toBe(3);
    expect(p.metrics.map((x) => [x.alias, x.value, x.isHistorical])).toEqual([
      [1, 1, false],
      [3, 'auto', false],
    ]);
  });

  it('marks every metric is_historical when asked', async () => {
    const node = await startNode();
    const m = node.session.data(
      'press1',
      [sample('press1/running', true), sample('press1/temperature', null, 'bad')],
      true,
    )!;
    expect(decoded(m.payload).metrics.map((x) => x.isHistorical)).toEqual([true, true]);
  });

  it('numbers DATA 0-255 after the births, wrapping to 0, and restarts after a rebirth', async () => {
    const node = await startNode();
    const seqs = Array.from({ length: 600 }, () => {
      const m = node.session.data('press2', [sample('press2/pressure', 1)], false)!;
      return decoded(m.payload).seq;
    });
    expect(seqs).toEqual(Array.from({ length: 600 }, (_, i) => (3 + i) % 256));
    expect(await send(node, ncmdTopic(node), command([REBIRTH]))).toEqual({
      births: 1,
      commands: 1,
      invalidCommands: 0,
    });
    const rebirth = await birthSeen(node, 2, 2);
    const after = node.seen().slice(node.seen().indexOf(rebirth));
    expect(after.slice(0, 3).map((s) => [s.verb, s.payload.seq])).toEqual([
      ['NBIRTH', 0],
      ['DBIRTH', 1],
      ['DBIRTH', 2],
    ]);
    const m = node.session.data('press2', [sample('press2/pressure', 1)], false)!;
    expect(decoded(m.payload).seq).toBe(3);
  });

  it.each<[string, string, SparkplugSample, RegExp]>([
    ['an unknown device', 'press9', sample('press9/x', 1), /unknown Sparkplug device "press9"/],
    [
      'an unknown metric',
      'press1',
      sample('press1/nope', 1),
      /unknown Sparkplug metric "press1\/nope"/,
    ],
    [
      'a metric of another device',
      'press1',
      sample('press2/pressure', 1),
      /unknown Sparkplug metric "press2\/pressure" on device "press1"/,
    ],
    [
      'a string for a number',
      'press1',
      sample('press1/temperature', '21.5'),
      /is number, got string/,
    ],
    [
      'a boolean for a number',
      'press1',
      sample('press1/temperature', true),
      /is number, got boolean/,
    ],
    ['a number for a boolean', 'press1', sample('press1/running', 1), /is boolean, got number/],
    [
      'a string for a boolean',
      'press1',
      sample('press1/running', 'true'),
      /is boolean, got string/,
    ],
    ['a number for a string', 'press1', sample('press1/mode', 2), /is string, got number/],
    [
      'an uncertain value of the wrong type',
      'press1',
      sample('press1/running', 'on', 'uncertain'),
      /is boolean, got string/,
    ],
  ])(
    'throws on %s, before and after the birth, without taking a seq',
    async (_what, device, bad, error) => {
      const node = await startNode({ connect: false });
      expect(() => node.session.data(device, [bad], false)).toThrow(error);
      node.client.connect();
      await birthSeen(node, 1, 2);
      expect(() =>
        node.session.data(device, [sample('press1/temperature', 1), bad], false),
      ).toThrow(error);
      const m = node.session.data('press2', [sample('press2/pressure', 1)], false)!;
      expect(decoded(m.payload).seq).toBe(3);
    },
  );

  it('returns undefined once the connection is gone', async () => {
    const node = await startNode();
    const closed = new Promise<void>((resolve) => node.client.once('close', () => resolve()));
    node.client.stream.destroy();
    await closed;
    expect(node.session.data('press2', [sample('press2/pressure', 1)], false)).toBeUndefined();
  });
});
