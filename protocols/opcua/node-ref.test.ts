import { describe, expect, it } from 'vitest';
import { formatBrowsePath, parseBrowsePath, parseNodeId, parseNodeRef } from './node-ref.js';

describe('parseNodeId', () => {
  it.each([
    'ns=2;s=Line1.Motor.Speed',
    'ns=3;i=1001',
    'i=85',
    's=plain string',
    'ns=1;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63',
    'ns=4;b=M/RbKBsRVkePCePcx24oRA==',
    'nsu=urn:factorylm:simulator;s=Line1.Conveyor.Speed',
    'ns=2;s=a;b=c',
  ])('accepts %s', (text) => {
    expect(parseNodeId(text)).toBe(text);
  });

  it.each([
    ['Line1.Motor.Speed', /not a node id/],
    ['ns=2;x=1', /not a node id/],
    ['ns=2;i=abc', /not a node id/],
    ['ns=70000;i=1', /above 65535/],
    ['i=4294967296', /above 4294967295/],
    ['ns=1;g=not-a-guid', /not a node id/],
    ['', /not a node id/],
  ])('refuses %j', (text, message) => {
    expect(() => parseNodeId(text)).toThrow(message);
  });
});

describe('parseBrowsePath', () => {
  it.each([
    ['/Objects/Plant/Line1', [{ name: 'Objects' }, { name: 'Plant' }, { name: 'Line1' }]],
    ['Objects/Plant', [{ name: 'Objects' }, { name: 'Plant' }]],
    ['/Objects/2:Plant', [{ name: 'Objects' }, { namespaceIndex: 2, name: 'Plant' }]],
    ['/Objects/a\\/b', [{ name: 'Objects' }, { name: 'a/b' }]],
    ['/Objects/12\\:00', [{ name: 'Objects' }, { name: '12:00' }]],
    ['/Objects/Tank 1', [{ name: 'Objects' }, { name: 'Tank 1' }]],
  ])('parses %s', (text, elements) => {
    expect(parseBrowsePath(text)).toEqual(elements);
  });

  it.each([['/'], ['/Objects//Plant'], [''], ['/Objects/70000:Plant']])('refuses %j', (text) => {
    expect(() => parseBrowsePath(text)).toThrow();
  });

  it.each(['/Objects/2:Plant/Line1', '/Objects/a\\/b/c\\:d'])('round-trips %s', (text) => {
    expect(formatBrowsePath(parseBrowsePath(text))).toBe(text);
  });
});

describe('parseNodeRef', () => {
  it('takes a node id or a browse path', () => {
    expect(parseNodeRef({ node: 'ns=3;i=1001' })).toEqual({
      kind: 'nodeId',
      nodeId: 'ns=3;i=1001',
    });
    expect(parseNodeRef({ path: '/Objects/Plant' })).toEqual({
      kind: 'browsePath',
      elements: [{ name: 'Objects' }, { name: 'Plant' }],
    });
  });

  it('wants exactly one of them', () => {
    expect(() => parseNodeRef({})).toThrow(/needs node/);
    expect(() => parseNodeRef({ node: 'i=85', path: '/Objects' })).toThrow(/not both/);
  });
});
