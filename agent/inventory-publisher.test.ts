import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanInChild } from './inventory-publisher.js';

const dir = mkdtempSync(join(tmpdir(), 'factorylm-scan-child-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The scan process is dist/inventory/scan-process.js: the suite runs after `npm run build`.
describe('scanInChild', () => {
  it('returns the report the scan process printed', async () => {
    writeFileSync(join(dir, 'tool.py'), 'print(1)\n');
    const report = await scanInChild(
      { roots: [dir], node: 'edge-09', unitDirs: [] },
      new AbortController().signal,
    );
    expect(report.node.name).toBe('edge-09');
    expect(report.projects.map((p) => [p.path, p.kinds, p.files])).toEqual([[dir, ['scripts'], 1]]);
  });

  it('rejects with the reason the scan process gave', async () => {
    await expect(
      scanInChild({ roots: [join(dir, 'missing')] }, new AbortController().signal),
    ).rejects.toThrow(/^scan process ended with exit code 1: .*cannot scan .*missing: ENOENT/);
  });

  it('is killed when the agent stops', async () => {
    const abort = new AbortController();
    const scan = scanInChild({ roots: [dir] }, abort.signal);
    abort.abort();
    await expect(scan).rejects.toThrow(/aborted/i);
  });
});
