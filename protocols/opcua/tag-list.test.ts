import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { BrowsedNode } from './browse.js';
import { deviceYaml, tagEntries, topicSafe } from './tag-list.js';

const variable = (
  path: string[],
  nodeId: string,
  dataType = 'Double',
  writable = false,
): BrowsedNode => ({
  name: path.at(-1)!,
  nodeId,
  nodeClass: 'Variable',
  path,
  dataType,
  writable,
  children: [],
});
const object = (path: string[], children: BrowsedNode[]): BrowsedNode => ({
  name: path.at(-1)!,
  nodeId: `ns=2;s=${path.join('.')}`,
  nodeClass: 'Object',
  path,
  children,
});

describe('topicSafe', () => {
  it.each([
    ['MotorSpeed', 'MotorSpeed'],
    ['Motor Speed (rpm)', 'Motor_Speed_rpm'],
    ['a/b+c#', 'a_b_c'],
    ['°C', 'C'],
    ['///', 'unnamed'],
  ])('%j → %j', (name, safe) => expect(topicSafe(name)).toBe(safe));
});

describe('tagEntries', () => {
  const tree = [
    object(
      ['Plant'],
      [
        object(
          ['Plant', 'Conveyor'],
          [
            variable(['Plant', 'Conveyor', 'Speed'], 'ns=2;s=C.Speed'),
            object(
              ['Plant', 'Conveyor', 'Motor'],
              [
                variable(['Plant', 'Conveyor', 'Motor', 'Speed'], 'ns=2;s=C.M.Speed'),
                variable(
                  ['Plant', 'Conveyor', 'Motor', 'Running'],
                  'ns=2;s=C.M.Running',
                  'Boolean',
                  true,
                ),
              ],
            ),
          ],
        ),
        object(['Plant', 'Motor'], [variable(['Plant', 'Motor', 'Speed'], 'ns=2;s=P.M.Speed')]),
      ],
    ),
  ];

  it('names tags after variables, assets after their parent, and resolves collisions', () => {
    expect(tagEntries(tree, 'plc').map((e) => [e.asset, e.name, e.node, e.type])).toEqual([
      ['Conveyor', 'Speed', 'ns=2;s=C.Speed', 'number'],
      ['Motor', 'Speed', 'ns=2;s=C.M.Speed', 'number'],
      ['Motor', 'Running', 'ns=2;s=C.M.Running', 'boolean'],
      ['Motor', 'Plant_Speed', 'ns=2;s=P.M.Speed', 'number'],
    ]);
  });

  it('describes each tag with its path and type', () => {
    const running = tagEntries(tree, 'plc')[2]!;
    expect(running.description).toBe(
      '/Plant/Conveyor/Motor/Running (Boolean, writable on the server)',
    );
  });

  it.each([
    ['String', 'string'],
    ['LocalizedText', 'string'],
    ['UInt16', 'number'],
    ['Int64', 'number'],
    ['ExtensionObject', undefined],
    ['Null', undefined],
  ])('a %s variable gets type %s', (dataType, type) => {
    expect(tagEntries([variable(['X'], 'i=1', dataType)], 'plc')[0]!.type).toBe(type);
  });

  it('uses the default asset for variables directly under the root', () => {
    expect(tagEntries([variable(['Speed'], 'i=1')], 'plc')[0]!.asset).toBe('plc');
  });
});

describe('deviceYaml', () => {
  it('is an agent devices entry with writes off', () => {
    const text = deviceYaml('opc.tcp://h:4840', 'plc1', [
      {
        name: 'Speed',
        asset: 'Motor',
        node: 'ns=2;s=S',
        type: 'number',
        description: '/Motor/Speed (Double)',
      },
    ]);
    expect(text).toMatch(/^# 1 variables browsed from opc\.tcp:\/\/h:4840/);
    expect(parse(text)).toEqual({
      devices: [
        {
          name: 'plc1',
          protocol: 'opcua',
          endpoint: 'opc.tcp://h:4840',
          securityMode: 'None',
          securityPolicy: 'None',
          asset: 'Motor',
          tags: [
            {
              name: 'Speed',
              asset: 'Motor',
              node: 'ns=2;s=S',
              type: 'number',
              description: '/Motor/Speed (Double)',
            },
          ],
        },
      ],
    });
  });
});
