import { describe, expect, it } from 'vitest';
import type { Quality, TagValue } from '../types.js';
import {
  AssetBatchWriter,
  decodeAssetPayload,
  decodeTagManifest,
  decodeTagPayload,
  encodeTagPayload,
  markHistorical,
} from './payload.js';

const TS = 1732480000123;

describe('tag payload', () => {
  it.each([
    [{ v: 42.1, ts: TS, q: 'good' as const }, '{"v":42.1,"ts":1732480000123,"q":"good"}'],
    [{ v: true, ts: TS, q: 'good' as const }, '{"v":true,"ts":1732480000123,"q":"good"}'],
    [
      { v: null, ts: TS, q: 'bad' as const, r: 'timeout' },
      '{"v":null,"ts":1732480000123,"q":"bad","r":"timeout"}',
    ],
    [
      { v: 1, ts: TS, q: 'good' as const, hist: true },
      '{"v":1,"ts":1732480000123,"q":"good","hist":true}',
    ],
  ])('encodes %j and decodes it back', (payload, json) => {
    expect(encodeTagPayload(payload)).toBe(json);
    expect(JSON.parse(json)).toEqual(payload);
    expect(decodeTagPayload(Buffer.from(json))).toEqual({ ok: true, value: payload });
  });

  it('defaults a missing quality to good', () => {
    expect(decodeTagPayload('{"v":1,"ts":1732480000123}')).toEqual({
      ok: true,
      value: { v: 1, ts: TS, q: 'good' },
    });
  });

  it.each([
    ['not json', 'not-json'],
    ['[1,2]', 'not-object'],
    ['null', 'not-object'],
    ['{"v":[12],"ts":1732480000123}', 'bad-value'],
    ['{"v":{"a":1},"ts":1732480000123}', 'bad-value'],
    ['{"ts":1732480000123}', 'bad-value'],
    ['{"v":null,"ts":1732480000123,"q":"good"}', 'bad-value'],
    ['{"v":1,"ts":1732480000}', 'bad-timestamp'],
    ['{"v":1,"ts":"2024-01-01"}', 'bad-timestamp'],
    ['{"v":1,"ts":1732480000123.5}', 'bad-timestamp'],
    ['{"v":1,"ts":1732480000123,"q":"ok"}', 'bad-quality'],
  ])('rejects %s as %s', (text, reason) => {
    const decoded = decodeTagPayload(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe(reason);
      expect(decoded.detail.length).toBeGreaterThan(0);
    }
  });
});

describe('asset payload', () => {
  it('decodes values and non-good qualities', () => {
    expect(
      decodeAssetPayload(
        '{"ts":1732480000123,"v":{"speed":1750,"running":true,"temp":null},"q":{"temp":"bad"}}',
      ),
    ).toEqual({
      ok: true,
      value: { ts: TS, v: { speed: 1750, running: true, temp: null }, q: { temp: 'bad' } },
    });
  });

  it.each([
    ['{"ts":1732480000123,"v":[1]}', 'bad-value'],
    ['{"ts":1732480000123,"v":{"a":[1]}}', 'bad-value'],
    ['{"ts":1732480000123,"v":{"a":1},"q":{"a":"meh"}}', 'bad-quality'],
    ['{"ts":1,"v":{"a":1}}', 'bad-timestamp'],
  ])('rejects %s as %s', (text, reason) => {
    expect(decodeAssetPayload(text)).toMatchObject({ ok: false, reason });
  });
});

describe('tag manifest', () => {
  it('decodes the topics a node publishes', () => {
    const text = JSON.stringify({
      node: 'edge-01',
      ts: TS,
      tags: [{ topic: 'factorylm/a/b/c/d/e', device: 'plc', unit: 'rpm', writable: true }],
    });
    expect(decodeTagManifest(text)).toEqual({
      ok: true,
      value: {
        node: 'edge-01',
        ts: TS,
        tags: [{ topic: 'factorylm/a/b/c/d/e', device: 'plc', unit: 'rpm', writable: true }],
      },
    });
  });
  it('rejects a manifest without topics', () => {
    expect(decodeTagManifest('{"node":"x","tags":[{}]}')).toMatchObject({
      ok: false,
      reason: 'bad-manifest',
    });
  });
});

describe('AssetBatchWriter', () => {
  it.each([
    ['all good', [['speed', 42.1, 'good']], '{"ts":1732480000123,"v":{"speed":42.1}}'],
    [
      'bad tag with reason',
      [
        ['speed', 42.1, 'good'],
        ['temp', null, 'bad', 'timeout'],
      ],
      '{"ts":1732480000123,"v":{"speed":42.1,"temp":null},"q":{"temp":"bad"},"r":{"temp":"timeout"}}',
    ],
    [
      'bool, string and escaped name',
      [
        ['run', true, 'good'],
        ['mode "x"', 'AUTO', 'uncertain'],
      ],
      '{"ts":1732480000123,"v":{"run":true,"mode \\"x\\"":"AUTO"},"q":{"mode \\"x\\"":"uncertain"}}',
    ],
  ] as const)('%s', (_name, tags, expected) => {
    const w = new AssetBatchWriter(1732480000123);
    for (const [name, v, q, r] of tags as unknown as [string, TagValue | null, Quality, string?][])
      w.add(JSON.stringify(name) + ':', v, q, r);
    const body = w.encode();
    expect(body).toBe(expected);
    const decoded = decodeAssetPayload(markHistorical(body));
    expect(decoded.ok && decoded.value.hist).toBe(true);
    expect(decoded.ok && Object.keys(decoded.value.v)).toEqual(tags.map((t) => t[0]));
  });
});
