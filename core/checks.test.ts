import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  clockCheck,
  folderCheck,
  formatChecks,
  nodeVersionCheck,
  ok,
  portCheck,
  warn,
  fail,
} from './checks.js';
import { testDir } from '../test/support/temp.js';

describe('nodeVersionCheck', () => {
  it.each([
    ['v24.1.0', 'ok'],
    ['v26.0.0', 'ok'],
    ['v22.12.0', 'warn'],
    ['v20.20.2', 'warn'],
    ['v18.20.0', 'fail'],
  ])('%s is %s', (version, status) => {
    expect(nodeVersionCheck(version).status).toBe(status);
  });
});

describe('clockCheck', () => {
  const answers = (map: Record<string, string | undefined>) => async (file: string) => map[file];
  it.each([
    [{ timedatectl: 'yes\n' }, 'ok', /systemd/],
    [{ timedatectl: 'no\n', chronyc: 'Leap status     : Normal\n' }, 'ok', /chrony/],
    [{ timedatectl: 'no\n' }, 'fail', /not synchronised/],
    [{ chronyc: 'Leap status     : Not synchronised\n' }, 'fail', /chrony: Not synchronised/],
    [{}, 'warn', /cannot tell/],
  ])('%o → %s', async (map, status, detail) => {
    const c = await clockCheck(answers(map));
    expect(c.status).toBe(status);
    expect(c.detail).toMatch(detail);
  });
});

describe('folderCheck', () => {
  it.each([
    {
      file: join(testDir('fc-'), 'q.db'),
      need: 1,
      status: 'ok',
      detail: /^writable, \d+ MiB free/,
    },
    {
      file: join(testDir('fc-'), 'q.db'),
      need: 2 ** 60,
      status: 'fail',
      detail: /less than the configured maxBytes/,
    },
    { file: '/nonexistent-factorylm/q.db', need: 1, status: 'fail', detail: /does not exist/ },
    // sysfs refuses new files even to root, as a read-only mount does.
    { file: '/sys/kernel/q.db', need: 1, status: 'fail', detail: /^not writable/ },
  ])('$file needing $need bytes: $status', ({ file, need, status, detail }) => {
    const c = folderCheck('outbox', file, need);
    expect(c.status).toBe(status);
    expect(c.detail).toMatch(detail);
  });
});

describe('portCheck', () => {
  it('passes a free port and port 0, fails one in use', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    expect(await portCheck('health', '127.0.0.1', port)).toMatchObject({
      status: 'fail',
      detail: 'in use by another process',
    });
    await new Promise((resolve) => server.close(resolve));
    expect((await portCheck('health', '127.0.0.1', port)).status).toBe('ok');
    expect((await portCheck('health', '127.0.0.1', 0)).status).toBe('ok');
  });
});

describe('formatChecks', () => {
  it.each([
    {
      checks: [ok('a', 'fine'), warn('b', 'meh', 'do b')],
      last: 'All 2 checks passed (1 with a warning).',
    },
    { checks: [ok('a', 'fine'), fail('c', 'broken', 'fix c')], last: '1 of 2 checks failed.' },
  ])('ends with $last', ({ checks, last }) => {
    const lines = formatChecks('title', checks).split('\n');
    expect(lines.at(-1)).toBe(last);
    expect(lines).toContain('✔ a: fine');
    for (const c of checks.filter((x) => x.status !== 'ok'))
      expect(lines).toContain(`    → ${c.fix}`);
  });
});
