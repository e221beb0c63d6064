import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../core/sqlite.js';
import { AlarmStateStore, type StoredAlarm } from './state-store.js';

const dir = mkdtempSync(join(tmpdir(), 'alarm-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alarm = (key: string, patch: Partial<StoredAlarm> = {}): StoredAlarm => ({
  key,
  site: 'plant1',
  area: 'a',
  line: 'l',
  asset: 'm1',
  rule: 'r',
  cond: true,
  condSince: 1,
  active: true,
  announced: true,
  acked: false,
  occurrences: 1,
  lastTs: 5,
  lastValue: 3,
  raisedAt: 2,
  shelved: null,
  activations: [2],
  suppressNotified: false,
  text: 't',
  ts: 2,
  ...patch,
});

describe('AlarmStateStore', () => {
  it('keeps alarms and asset mappings across reopening, one row per alarm', () => {
    const path = join(dir, 'nested', 'alarms.db');
    const store = new AlarmStateStore(path);
    store.save([alarm('plant1/m1/r'), alarm('plant1/m2/r')]);
    store.save([alarm('plant1/m1/r', { acked: true, ts: 9 })]);
    store.save(
      [],
      [
        { site: 'plant1', asset: 'm1', node: 'edge-01', device: 'plc' },
        { site: 'plant1', asset: 'm2', node: 'edge-02' },
      ],
    );
    store.delete('plant1/m2/r');
    store.close();

    const again = new AlarmStateStore(path);
    expect(again.load()).toEqual({
      alarms: [alarm('plant1/m1/r', { acked: true, ts: 9 })],
      bad: [],
    });
    expect(again.loadAssets()).toEqual([
      { site: 'plant1', asset: 'm1', node: 'edge-01', device: 'plc' },
      { site: 'plant1', asset: 'm2', node: 'edge-02' },
    ]);
    again.close();
  });

  it('skips a row that does not parse and reports it', () => {
    const path = join(dir, 'bad.db');
    new AlarmStateStore(path).close();
    const db = openSqlite(path);
    db.prepare('INSERT INTO alarms (key, body, updated_at) VALUES (?, ?, 0)').run('k', '{not json');
    db.close();
    const store = new AlarmStateStore(path);
    expect(store.load()).toEqual({ alarms: [], bad: ['{not json'] });
    store.close();
  });

  it('works in memory', () => {
    const store = new AlarmStateStore(':memory:');
    store.save([alarm('k')]);
    expect(store.load().alarms).toHaveLength(1);
    store.close();
  });
});
