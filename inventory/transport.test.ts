import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import type { InventoryReport } from './report.js';
import {
  COMPRESS_ABOVE_BYTES,
  contentType,
  decodeReport,
  encodeReport,
  isGzip,
} from './transport.js';

function report(files: number): InventoryReport {
  return {
    schema: 1,
    node: { name: 'edge-01', hostname: 'h', os: 'Linux', arch: 'x64', version: '0.1.0' },
    scannedAt: 1,
    durationMs: 2,
    roots: ['/opt'],
    maxFileBytes: 100,
    projects: [
      {
        path: '/opt/a',
        name: 'a',
        kinds: ['scripts'],
        files,
        bytes: files,
        languages: {},
        fingerprint: 'f',
        entries: Array.from({ length: files }, (_, i) => [`f${i}.py`, `${i}`.padStart(32, '0'), 1]),
        secrets: [],
        tooLarge: 0,
        unreadable: [],
        modifiedAt: 0,
      },
    ],
    services: [],
    systemd: 'ok',
    containers: [],
    images: [],
    docker: 'absent',
    stats: {
      files,
      bytes: files,
      hashed: files,
      cached: 0,
      tooLarge: 0,
      unreadable: 0,
      ignored: 0,
      symlinks: 0,
      outsideProjects: 0,
    },
  };
}

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
