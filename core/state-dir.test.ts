import { afterEach, describe, expect, it } from 'vitest';
import { stateFile } from './state-dir.js';

const saved = process.env.STATE_DIRECTORY;
afterEach(() => {
  if (saved === undefined) delete process.env.STATE_DIRECTORY;
  else process.env.STATE_DIRECTORY = saved;
});

describe('stateFile', () => {
  it.each<[string | undefined, string]>([
    [undefined, 'spool-g1.db'],
    ['/var/lib/factorylm-gateway', '/var/lib/factorylm-gateway/spool-g1.db'],
    ['/var/lib/a:/var/lib/b', '/var/lib/a/spool-g1.db'],
  ])('STATE_DIRECTORY=%s', (dir, path) => {
    if (dir === undefined) delete process.env.STATE_DIRECTORY;
    else process.env.STATE_DIRECTORY = dir;
    expect(stateFile('spool-g1.db')).toBe(path);
  });
});
