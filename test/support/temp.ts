import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/**
 * A fresh folder under the system's temp dir, removed after the test file (remove-test-dirs.ts):
 * suites that start agents and gateways leave configs and SQLite files in it, which otherwise
 * pile up in /tmp on every run.
 */
export function testDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTestDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
