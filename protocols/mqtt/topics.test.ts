import { describe, expect, it } from 'vitest';
import { assetTopic, nodeTopic, parseTopic, tagTopic, topicLevelProblem } from './topics.js';

const path = { site: 'plant1', area: 'packaging', line: 'line1', asset: 'conveyor1' };

describe('topics', () => {
  it('builds the unified-namespace topics', () => {
    expect(tagTopic({ ...path, tag: 'motor_speed' })).toBe(
      'factorylm/plant1/packaging/line1/conveyor1/motor_speed',
    );
    expect(assetTopic(path)).toBe('factorylm/plant1/packaging/line1/conveyor1');
    expect(nodeTopic('plant1', 'edge-01', 'status')).toBe('factorylm/plant1/_nodes/edge-01/status');
  });

  it.each([
    [
      'factorylm/plant1/packaging/line1/conveyor1/motor_speed',
      { kind: 'tag', ...path, tag: 'motor_speed' },
    ],
    ['factorylm/plant1/packaging/line1/conveyor1', { kind: 'asset', ...path }],
    [
      'factorylm/plant1/_nodes/edge-01/status',
      { kind: 'node', site: 'plant1', node: 'edge-01', rest: ['status'] },
    ],
    [
      'factorylm/plant1/_nodes/edge-01/write/conveyor1/motor_running',
      {
        kind: 'node',
        site: 'plant1',
        node: 'edge-01',
        rest: ['write', 'conveyor1', 'motor_running'],
      },
    ],
    [
      'factorylm/plant1/_nodes/edge-01',
      { kind: 'node', site: 'plant1', node: 'edge-01', rest: [] },
    ],
    ['factorylm/plant1/a/b/c/d/e', { kind: 'other' }],
    ['factorylm/plant1/a', { kind: 'other' }],
    ['other/plant1/a/b/c/d', { kind: 'other' }],
    ['spBv1.0/group/NDATA/node', { kind: 'other' }],
  ])('parses %s', (topic, expected) => {
    expect(parseTopic(topic)).toEqual(expected);
  });

  it.each([
    ['motor_speed', undefined],
    ['DI_00', undefined],
    ['', /empty/],
    ['a/b', /must not contain/],
    ['a+', /must not contain/],
    ['#', /must not contain/],
    ['_nodes', /reserved/],
    ['$SYS', /reserved by MQTT/],
  ])('topic level %j', (name, problem) => {
    const found = topicLevelProblem(name);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});
