import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleReport } from '../test/support/sample-report.js';
import { encodeReport } from '../inventory/transport.js';
import { TwinStore } from './twin-store.js';

const report = (node: string, scannedAt: number, fingerprint = 'f') =>
  sampleReport(node, { scannedAt, fingerprint });

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(historyPerNode = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'factorylm-twin-store-'));
  dirs.push(dir);
  const path = join(dir, 'twin.db');
  return { path, store: new TwinStore({ path, historyPerNode, forkThreshold: 0.6 }) };
}

describe('TwinStore', () => {
  it('keeps the latest per node and a bounded history, and stores a repeat once', () => {
    const { store } = open(3);
    for (let t = 1; t <= 5; t++)
      expect(store.receive('s', 'edge-01', encodeReport(report('edge-01', t)), t)).toEqual({
        ok: true,
        stored: true,
      });
    expect(store.receive('s', 'edge-01', encodeReport(report('edge-01', 5)))).toEqual({
      ok: true,
      stored: false,
    });
    store.receive('s', 'edge-02', encodeReport(report('edge-02', 1)));
    expect(store.history('edge-01').map((h) => h.scannedAt)).toEqual([5, 4, 3]);
    expect(store.history().map((h) => h.node)).toEqual([
      'edge-02',
      'edge-01',
      'edge-01',
      'edge-01',
    ]);
    expect(store.reports().map((r) => [r.node.name, r.scannedAt])).toEqual([
      ['edge-01', 5],
      ['edge-02', 1],
    ]);
    const id = store.history('edge-01')[1]!.id;
    expect(store.report(id)?.scannedAt).toBe(4);
    store.close();
  });

  it('recomputes the audit when a report arrives', () => {
    const { store } = open();
    store.receive('s', 'edge-01', encodeReport(report('edge-01', 1)));
    store.receive('s', 'edge-02', encodeReport(report('edge-02', 1)));
    expect(store.twin().summary).toMatchObject({ nodes: 2, exactGroups: 1, toDelete: 1 });
    store.receive('s', 'edge-02', encodeReport(report('edge-02', 2, 'other')));
    expect(store.twin().summary).toMatchObject({ nodes: 2, exactGroups: 0, toDelete: 0 });
    store.close();
  });

  it.each([
    ['garbage', Buffer.from('nope'), 'not-json'],
    ['another node on this topic', encodeReport(report('edge-09', 1)), 'node-mismatch'],
  ])('refuses %s', (_name, payload, reason) => {
    const { store } = open();
    expect(store.receive('s', 'edge-01', payload)).toMatchObject({ ok: false, reason });
    expect(store.history()).toEqual([]);
    store.close();
  });

  it('reopens with what it stored', () => {
    const { store, path } = open();
    store.receive('s', 'edge-01', encodeReport(report('edge-01', 7)));
    store.close();
    const again = new TwinStore({ path, historyPerNode: 3, forkThreshold: 0.6 });
    expect(again.reports().map((r) => r.scannedAt)).toEqual([7]);
    expect(again.receive('s', 'edge-01', encodeReport(report('edge-01', 7)))).toEqual({
      ok: true,
      stored: false,
    });
    again.close();
  });
});
