// Specifies device commands (DCMD): which metric writes reach the write handler, by alias or
// name, and which are refused as a whole.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TagValue } from '../protocols/types.js';
import {
  ALIAS,
  type Node,
  startNode,
  command,
  rawCommand,
  send,
  dcmdTopic,
  lastRefusal,
  useSparkplugBroker,
} from '../test/support/sparkplug-session-harness.js';
import { waitFor } from '../test/support/wait.js';

useSparkplugBroker();

describe('DCMD', () => {
  let node: Node;

  beforeAll(async () => {
    node = await startNode({ keep: true });
  });

  afterEach(() => {
    node.writes.length = 0;
  });

  it.each<[string, string, Buffer, [string, string, TagValue][]]>([
    [
      'by alias',
      'press1',
      command([{ alias: 1, type: 'Double', value: 12.5 }]),
      [['press1', 'press1/temperature', 12.5]],
    ],
    [
      'by name',
      'press1',
      command([{ name: 'press1/running', type: 'Boolean', value: true }]),
      [['press1', 'press1/running', true]],
    ],
    [
      'by alias and name',
      'press1',
      command([{ name: 'press1/mode', alias: 3, type: 'String', value: 'manual' }]),
      [['press1', 'press1/mode', 'manual']],
    ],
    [
      'without datatype, by alias',
      'press1',
      rawCommand([{ alias: 2, booleanValue: false }]),
      [['press1', 'press1/running', false]],
    ],
    [
      'without datatype, a double',
      'press2',
      rawCommand([{ alias: 4, doubleValue: 3.5 }]),
      [['press2', 'press2/pressure', 3.5]],
    ],
    [
      'an Int64 to a number',
      'press2',
      command([{ alias: 4, type: 'Int64', value: -7 }]),
      [['press2', 'press2/pressure', -7]],
    ],
    [
      'an Int32 to a number',
      'press2',
      command([{ alias: 4, type: 'Int32', value: 0 }]),
      [['press2', 'press2/pressure', 0]],
    ],
    [
      'an empty string',
      'press1',
      command([{ alias: 3, type: 'String', value: '' }]),
      [['press1', 'press1/mode', '']],
    ],
    [
      'several metrics, in order',
      'press1',
      command([
        { alias: 3, type: 'String', value: 'auto' },
        { name: 'press1/temperature', type: 'Double', value: -1 },
        { alias: 2, type: 'Boolean', value: true },
      ]),
      [
        ['press1', 'press1/mode', 'auto'],
        ['press1', 'press1/temperature', -1],
        ['press1', 'press1/running', true],
      ],
    ],
  ])('writes %s', async (_what, device, payload, writes) => {
    expect(await send(node, dcmdTopic(node, device), payload)).toEqual({
      births: 0,
      commands: 1,
      invalidCommands: 0,
    });
    expect(node.writes).toEqual(writes);
  });

  it.each<[string, string, Buffer, RegExp]>([
    [
      'an alias of another device',
      'press1',
      command([{ alias: 4, type: 'Double', value: 1 }]),
      /no metric with alias 4 on this device/,
    ],
    [
      'the alias of bdSeq',
      'press1',
      command([{ alias: ALIAS.bdSeq, type: 'Int64', value: 1 }]),
      /no metric with alias 5/,
    ],
    [
      'an unknown alias',
      'press1',
      command([{ alias: 99, type: 'Double', value: 1 }]),
      /no metric with alias 99/,
    ],
    [
      'an unknown name',
      'press1',
      command([{ name: 'press1/speed', type: 'Double', value: 1 }]),
      /no metric "press1\/speed"/,
    ],
    [
      'a name of another device',
      'press2',
      command([{ name: 'press1/temperature', type: 'Double', value: 1 }]),
      /no metric "press1\/temperature"/,
    ],
    [
      'alias and name of different metrics',
      'press1',
      command([{ name: 'press1/temperature', alias: 2, type: 'Double', value: 1 }]),
      /alias 2 is "press1\/running", not "press1\/temperature"/,
    ],
    [
      'neither name nor alias',
      'press1',
      command([{ type: 'Double', value: 1 }]),
      /neither name nor alias/,
    ],
    [
      'a string to a number',
      'press1',
      command([{ alias: 1, type: 'String', value: '12' }]),
      /"press1\/temperature" takes a finite number, got "12"/,
    ],
    [
      'a boolean to a number',
      'press1',
      command([{ alias: 1, type: 'Boolean', value: true }]),
      /takes a finite number, got true/,
    ],
    ['NaN', 'press1', command([{ alias: 1, type: 'Double', value: NaN }]), /takes a finite number/],
    [
      'Infinity',
      'press1',
      command([{ alias: 1, type: 'Double', value: Infinity }]),
      /takes a finite number/,
    ],
    [
      'is_null',
      'press1',
      command([{ alias: 1, type: 'Double', value: null }]),
      /takes a finite number, got null/,
    ],
    [
      'a typed value without a value',
      'press1',
      rawCommand([{ alias: 1, datatype: 3 }]),
      /takes a finite number, got null/,
    ],
    [
      'an Int64 beyond 2^53',
      'press1',
      rawCommand([{ alias: 1, datatype: 4, longValue: '9007199254740993' }]),
      /64-bit integer beyond 2\^53/,
    ],
    [
      'a number to a boolean',
      'press1',
      command([{ alias: 2, type: 'Int32', value: 1 }]),
      /"press1\/running" takes a boolean, got 1/,
    ],
    [
      'a string to a boolean',
      'press1',
      command([{ alias: 2, type: 'String', value: 'true' }]),
      /takes a boolean, got "true"/,
    ],
    [
      'a number to a string',
      'press1',
      command([{ alias: 3, type: 'Double', value: 1 }]),
      /"press1\/mode" takes a string, got 1/,
    ],
    [
      'one bad metric among good ones',
      'press1',
      command([
        { alias: 2, type: 'Boolean', value: false },
        { alias: 1, type: 'String', value: 'hot' },
        { alias: 3, type: 'String', value: 'auto' },
      ]),
      /takes a finite number, got "hot"/,
    ],
    [
      'an unknown device',
      'press9',
      command([{ alias: 1, type: 'Double', value: 1 }]),
      /no such device/,
    ],
    ['no metrics', 'press1', command([]), /no metrics/],
    [
      'bytes that are not Sparkplug',
      'press1',
      Buffer.from([0x0a, 0xff]),
      /not a Sparkplug B protobuf payload/,
    ],
    [
      'a DataSet value',
      'press1',
      rawCommand([
        {
          alias: 1,
          datatype: 16,
          datasetValue: { numOfColumns: 0, columns: [], types: [], rows: [] },
        },
      ]),
      /not a scalar/,
    ],
  ])('refuses %s as a whole and writes nothing', async (_what, device, payload, reason) => {
    expect(await send(node, dcmdTopic(node, device), payload)).toEqual({
      births: 0,
      commands: 0,
      invalidCommands: 1,
    });
    expect(node.writes).toEqual([]);
    expect(lastRefusal(node)).toMatch(reason);
  });

  it('logs a write handler that throws or rejects and goes on', async () => {
    const calls: TagValue[] = [];
    const failing = await startNode({
      onWrite: (_d, _m, value) => {
        calls.push(value);
        if (value === 1) throw new Error('PLC said no');
        if (value === 2) return Promise.reject(new Error('PLC timed out'));
      },
    });
    for (const value of [1, 2, 3])
      expect(
        await send(
          failing,
          dcmdTopic(failing, 'press2'),
          command([{ alias: 4, type: 'Double', value }]),
        ),
      ).toEqual({
        births: 0,
        commands: 1,
        invalidCommands: 0,
      });
    expect(calls).toEqual([1, 2, 3]);
    await waitFor(
      'both failures logged',
      () => failing.lines.filter((l) => l.msg === 'Sparkplug onWrite callback failed').length === 2,
      5_000,
      5,
    );
    expect(
      failing.lines.filter((l) => l.msg === 'Sparkplug onWrite callback failed').map((l) => l.err),
    ).toEqual(['PLC said no', 'PLC timed out']);
  });
});
