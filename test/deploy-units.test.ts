import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The systemd units as installed: `systemd-analyze verify` and the offline security exposure
 * (target ≤ 2.0), in a throwaway root laid out as install.sh leaves it. No systemd runs in this
 * container, so this is the static analysis only; the units' runtime (notify, watchdog) is
 * covered by core/sd-notify.test.ts and test/deploy-sd-notify.test.ts.
 */
const UNITS = resolve('deploy/systemd');
let root: string;

function exposure(unit: string, rootDir: string): number {
  const out = execFileSync(
    'systemd-analyze',
    ['security', '--offline=true', `--root=${rootDir}`, '--no-pager', unit],
    { encoding: 'utf8' },
  );
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(out);
  expect(m, out).toBeTruthy();
  return Number(m![1]);
}

/** A root with systemd's own units, /bin/kill, the launcher and the given units. */
function makeRoot(withSerial: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'flm-units-'));
  const sys = join(dir, 'etc/systemd/system');
  mkdirSync(join(dir, 'usr/lib/systemd'), { recursive: true });
  execFileSync('cp', ['-a', '/usr/lib/systemd/system', join(dir, 'usr/lib/systemd/')]);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync('/bin/kill', join(dir, 'bin/kill'));
  const launcher = join(dir, 'opt/factorylm/current/bin/factorylm');
  mkdirSync(join(launcher, '..'), { recursive: true });
  writeFileSync(launcher, '#!/bin/sh\n');
  chmodSync(launcher, 0o755);
  mkdirSync(sys, { recursive: true });
  for (const u of ['factorylm-agent.service', 'factorylm-gateway.service'])
    copyFileSync(join(UNITS, u), join(sys, u));
  if (withSerial) {
    mkdirSync(join(sys, 'factorylm-agent.service.d'));
    copyFileSync(
      join(UNITS, 'factorylm-agent.service.d/serial.conf'),
      join(sys, 'factorylm-agent.service.d/serial.conf'),
    );
  }
  return dir;
}

let serialRoot: string;
beforeAll(() => {
  root = makeRoot(false);
  serialRoot = makeRoot(true);
});
afterAll(() => {
  for (const d of [root, serialRoot]) rmSync(d, { recursive: true, force: true });
});

describe('systemd units', () => {
  it.each([
    ['plain', () => root],
    ['with the serial drop-in', () => serialRoot],
  ])('systemd-analyze verify is clean (%s)', (_what, dir) => {
    const r = spawnSync(
      'systemd-analyze',
      ['verify', `--root=${dir()}`, 'factorylm-agent.service', 'factorylm-gateway.service'],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each([
    ['factorylm-agent.service', () => root],
    ['factorylm-agent.service', () => serialRoot],
    ['factorylm-gateway.service', () => root],
  ])('%s exposure is at most 2.0', (unit, dir) => {
    expect(exposure(unit, dir())).toBeLessThanOrEqual(2.0);
  });

  it('the serial drop-in opens serial devices only, through group dialout', () => {
    const show = (dir: string) =>
      execFileSync(
        'systemd-analyze',
        ['security', '--offline=true', `--root=${dir}`, '--no-pager', 'factorylm-agent.service'],
        { encoding: 'utf8' },
      );
    expect(show(root)).not.toMatch(/ttyUSB/);
    expect(show(serialRoot)).toMatch(/char-ttyUSB:rw/);
    expect(show(serialRoot)).toMatch(
      /SupplementaryGroups=\s+Service runs with supplementary groups/,
    );
  });
});
