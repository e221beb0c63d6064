import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqlite, pragma } from './sqlite.js';

/** A full garbage collection; vitest's workers run without --expose-gc. */
function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('openSqlite', () => {
  it('keeps every statement from garbage collection, where a plain database lets it go', async () => {
    // WeakRefs hold their target until the job that made them ends: check in a later turn.
    const plain = new WeakRef(new Database(':memory:').prepare('SELECT 1'));
    const db = openSqlite(':memory:');
    const held = [new WeakRef(db.prepare('SELECT 1')), new WeakRef(pragma(db, 'page_size'))];
    await nextTurn();
    gc();
    expect(plain.deref()).toBeUndefined();
    for (const ref of held) expect(ref.deref()).toBeDefined();
    expect(pragma(db, 'page_size').pluck().get()).toBeGreaterThan(0);
  });
});
