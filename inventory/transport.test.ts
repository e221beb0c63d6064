import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { sampleReport } from '../test/support/sample-report.js';
import {
  COMPRESS_ABOVE_BYTES,
  contentType,
  decodeReport,
  encodeReport,
  isGzip,
} from './transport.js';

const report = (files: number) => sampleReport('edge-01', { files });

describe('inventory payloads', () => {
  it.each([
    ['small: plain JSON', 10, false],
    ['large: gzip', 2000, true],
  ])('%s', (_name, files, gzip) => {
    const payload = encodeReport(report(files));
    expect(isGzip(payload)).toBe(gzip);
    expect(contentType(payload)).toBe(gzip ? 'application/gzip' : 'application/json');
    expect(payload.length < COMPRESS_ABOVE_BYTES || gzip).toBe(true);
    expect(decodeReport(payload)).toEqual({ ok: true, value: report(files) });
  });

  it.each([
    ['not JSON', Buffer.from('{nope'), 'not-json'],
    ['broken gzip', Buffer.from([0x1f, 0x8b, 1, 2, 3]), 'bad-gzip'],
    ['wrong shape', Buffer.from('{"schema":1}'), 'bad-inventory'],
    ['a future schema', Buffer.from(JSON.stringify({ ...report(1), schema: 2 })), 'bad-inventory'],
    ['gzip of garbage', gzipSync('garbage'), 'not-json'],
  ])('refuses %s', (_name, payload, reason) => {
    expect(decodeReport(payload)).toMatchObject({ ok: false, reason });
  });

  it('names the field that is wrong', () => {
    const bad = { ...report(1), stats: { ...report(1).stats, files: 'many' } };
    expect(decodeReport(Buffer.from(JSON.stringify(bad)))).toMatchObject({
      detail: expect.stringMatching(/^stats\.files: /),
    });
  });
});
