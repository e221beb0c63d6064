import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offlineBundle } from './support/bundle.js';
import { makeFakeSystemctl, makeThrowawayRoot } from './support/throwaway-root.js';

/**
 * deploy/install.sh for real, as root, into a throwaway root (`--prefix`): the bundle is unpacked,
 * verified and run (its `config validate`), the `factorylm` user is made by the real useradd in
 * the prefix's /etc/passwd, and systemctl is a stand-in first in PATH that records its calls
 * (no systemd runs in this container). Needs root: CI runs as root.
 */
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const NEXT = `${VERSION}-next`;
const INSTALL = resolve('deploy/install.sh');

let work: string;
let root: string;
let fakeBin: string;
let v1: string;
let v2: string;
let arm64: string;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function install(args: string[], env: NodeJS.ProcessEnv = {}): Result {
  const r = spawnSync('bash', [INSTALL, '--prefix', root, ...args], {
    env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const p = (path: string) => join(root, path);
const current = () => readlinkSync(p('opt/factorylm/current'));
const calls = () =>
  existsSync(join(fakeBin, 'systemctl.log'))
    ? readFileSync(join(fakeBin, 'systemctl.log'), 'utf8')
    : '';
const clearCalls = () => rmSync(join(fakeBin, 'systemctl.log'), { force: true });

/** The same bundle as another release: new version in BUNDLE.json, folder name and manifest. */
function repackAs(tar: string, version: string): string {
  const dir = join(work, 'repack');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  execFileSync('tar', ['xzf', tar, '-C', dir]);
  const [top] = readdirSync(dir);
  const name = `factorylm-edge-${version}-linux-x64`;
  execFileSync('mv', [join(dir, top!), join(dir, name)]);
  const b = join(dir, name);
  const info = readFileSync(join(b, 'BUNDLE.json'), 'utf8').replace(
    /"version": "[^"]+"/,
    `"version": "${version}"`,
  );
  writeFileSync(join(b, 'BUNDLE.json'), info);
  execFileSync(
    'bash',
    [
      '-c',
      "find . -type f ! -name MANIFEST.sha256 -printf '%P\\0' | sort -z | xargs -0 sha256sum > MANIFEST.sha256",
    ],
    { cwd: b },
  );
  const out = join(work, `${name}.tar.gz`);
  execFileSync('bash', [
    '-c',
    `tar cf - -C "${dir}" "${name}" | gzip -1 > "${out}" && cd "${work}" && sha256sum "${name}.tar.gz" > "${name}.tar.gz.sha256"`,
  ]);
  rmSync(dir, { recursive: true, force: true });
  return out;
}

beforeAll(async () => {
  expect(process.getuid?.(), 'install.sh needs root (CI runs as root)').toBe(0);
  work = mkdtempSync(join(tmpdir(), 'flm-install-'));
  root = join(work, 'root');
  fakeBin = join(work, 'bin');
  makeThrowawayRoot(root);
  makeFakeSystemctl(fakeBin);
  const [x64, arm] = await Promise.all([offlineBundle('linux-x64'), offlineBundle('linux-arm64')]);
  v1 = x64;
  arm64 = arm;
  v2 = repackAs(x64, NEXT);
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

// Each step unpacks or checks a 300 MB tree: minutes on a loaded 2-core machine.
describe('install.sh', { timeout: 300_000 }, () => {
  it('installs a bundle: version folder, current link, user, config, data, units, journald caps', () => {
    const r = install(['--agent', '--agent-config', 'deploy/examples/micro820.yaml', v1]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(current()).toBe(VERSION);
    expect(existsSync(p(`opt/factorylm/${VERSION}/runtime/bin/node`))).toBe(true);
    expect(readlinkSync(p('usr/local/bin/factorylm'))).toBe('/opt/factorylm/current/bin/factorylm');
    const user = readFileSync(p('etc/passwd'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('factorylm:'));
    expect(user).toMatch(/^factorylm:x:\d+:\d+::\/var\/lib\/factorylm:\/usr\/sbin\/nologin$/);
    const uid = Number(user!.split(':')[2]);
    expect(uid).toBeLessThan(1000); // a system user
    expect(readFileSync(p('etc/factorylm/agent.yaml'), 'utf8')).toBe(
      readFileSync('deploy/examples/micro820.yaml', 'utf8'),
    );
    expect(statSync(p('etc/factorylm/agent.env')).mode & 0o777).toBe(0o600);
    expect(statSync(p('var/lib/factorylm')).uid).toBe(uid);
    expect(readFileSync(p('etc/systemd/system/factorylm-agent.service'), 'utf8')).toBe(
      readFileSync('deploy/systemd/factorylm-agent.service', 'utf8'),
    );
    expect(existsSync(p('etc/systemd/system/factorylm-gateway.service'))).toBe(false);
    expect(existsSync(p('etc/systemd/system/factorylm-agent.service.d/serial.conf'))).toBe(false);
    expect(readFileSync(p('etc/systemd/journald.conf.d/factorylm.conf'), 'utf8')).toMatch(
      /^SystemMaxUse=200M$/m,
    );
    expect(calls()).toMatch(
      /^daemon-reload\nenable factorylm-agent.service\nrestart factorylm-agent.service$/m,
    );
  });

  it('passes systemd-analyze verify with the installed tree', () => {
    // What any Debian root has and this throwaway one lacks: systemd's own units, /bin/kill.
    mkdirSync(p('usr/lib/systemd'), { recursive: true });
    execFileSync('cp', ['-a', '/usr/lib/systemd/system', p('usr/lib/systemd/')]);
    mkdirSync(p('bin'), { recursive: true });
    copyFileSync('/bin/kill', p('bin/kill'));
    const r = spawnSync(
      'systemd-analyze',
      ['verify', `--root=${root}`, 'factorylm-agent.service'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('is idempotent: a re-install keeps the unpacked version and the edited config', () => {
    const edited = readFileSync(p('etc/factorylm/agent.yaml'), 'utf8') + '# edited on site\n';
    writeFileSync(p('etc/factorylm/agent.yaml'), edited);
    const before = statSync(p(`opt/factorylm/${VERSION}`)).ino;
    clearCalls();
    const r = install(['--agent', '--agent-config', 'deploy/examples/micro820.yaml', v1]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toContain('already unpacked and intact');
    expect(r.out).toContain('config is never overwritten');
    expect(statSync(p(`opt/factorylm/${VERSION}`)).ino).toBe(before);
    expect(readFileSync(p('etc/factorylm/agent.yaml'), 'utf8')).toBe(edited);
    expect(readFileSync(p('etc/passwd'), 'utf8').match(/^factorylm:/gm)).toHaveLength(1);
    expect(current()).toBe(VERSION);
    expect(existsSync(p('opt/factorylm/previous'))).toBe(false);
  });

  it('upgrades: a new folder, switch, restart of the services already installed; config kept', () => {
    const config = readFileSync(p('etc/factorylm/agent.yaml'), 'utf8');
    clearCalls();
    const r = install([v2]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(current()).toBe(NEXT);
    expect(readlinkSync(p('opt/factorylm/previous'))).toBe(VERSION);
    expect(existsSync(p(`opt/factorylm/${VERSION}/bin/factorylm`))).toBe(true);
    expect(readFileSync(p('etc/factorylm/agent.yaml'), 'utf8')).toBe(config);
    expect(calls()).toContain('restart factorylm-agent.service');
  });

  it('rolls back to the previous version and can roll forward again', () => {
    clearCalls();
    let r = install(['--rollback']);
    expect(r.code, r.err + r.out).toBe(0);
    expect(current()).toBe(VERSION);
    expect(readlinkSync(p('opt/factorylm/previous'))).toBe(NEXT);
    expect(calls()).toContain('restart factorylm-agent.service');
    r = install(['--rollback']);
    expect(r.code, r.err + r.out).toBe(0);
    expect(current()).toBe(NEXT);
  });

  it('a version that does not start is switched back to the one that ran', () => {
    install(['--rollback']);
    expect(current()).toBe(VERSION);
    const r = install([v2], { FAIL_RESTART: '1' });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/did not start .*switched back to 0\.1\.0/);
    expect(current()).toBe(VERSION);
  });

  describe('refuses, with one sentence, and leaves the running version untouched', () => {
    const refused = (args: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) => {
      const before = current();
      const r = install(args, env);
      expect(r.code).not.toBe(0);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(pattern);
      expect(current()).toBe(before);
    };

    it('a truncated copy (checksum file beside it, or gzip alone)', () => {
      const dir = join(work, 'broken');
      mkdirSync(dir, { recursive: true });
      const copy = join(dir, `factorylm-edge-${NEXT}-linux-x64.tar.gz`);
      copyFileSync(v2, copy);
      copyFileSync(`${v2}.sha256`, `${copy}.sha256`);
      truncateSync(copy, Math.floor(statSync(copy).size / 2));
      refused([copy], /does not match .*sha256 \(corrupt or truncated copy\)/);
      rmSync(`${copy}.sha256`);
      refused([copy], /corrupt or truncated \(gzip check failed\)/);
    });

    it('a bundle for another CPU', () => {
      refused([arm64], /is for arm64 but this machine is amd64/);
    });

    it('a 32-bit ARM system (dpkg says armhf, whatever uname says)', () => {
      writeFileSync(join(fakeBin, 'dpkg'), '#!/bin/sh\necho armhf\n');
      chmodSync(join(fakeBin, 'dpkg'), 0o755);
      try {
        refused([v2], /32-bit ARM system \(armhf\).*Raspberry Pi OS \(64-bit\)/);
      } finally {
        rmSync(join(fakeBin, 'dpkg'));
      }
    });

    it('no systemd', () => {
      // Everything on PATH but systemctl.
      const bin = join(work, 'no-systemd');
      mkdirSync(bin, { recursive: true });
      for (const dir of ['/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
        if (!existsSync(dir)) continue;
        for (const f of readdirSync(dir)) {
          if (f !== 'systemctl' && !existsSync(join(bin, f)))
            symlinkSync(join(dir, f), join(bin, f));
        }
      }
      const before = current();
      const r = spawnSync('bash', [INSTALL, '--prefix', root, v2], {
        env: { ...process.env, PATH: bin },
        encoding: 'utf8',
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(
        /^install\.sh: systemd is missing \(no systemctl\).*nothing was changed\n$/,
      );
      expect(current()).toBe(before);
    });

    it('a config that does not validate', () => {
      const file = p('etc/factorylm/agent.yaml');
      const good = readFileSync(file, 'utf8');
      writeFileSync(file, good.replace(/^site: plant1.*$/m, 'site: plant/1'));
      clearCalls();
      try {
        refused(
          [v2],
          /agent\.yaml does not validate, so nothing was switched or restarted: .*site/,
        );
        expect(calls()).not.toContain('restart');
      } finally {
        writeFileSync(file, good);
      }
    });
  });

  it('a serial port in agent.yaml puts the user in dialout and adds the serial drop-in', () => {
    copyFileSync('deploy/examples/modbus-rtu.yaml', p('etc/factorylm/agent.yaml'));
    const r = install([v1]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(readFileSync(p('etc/group'), 'utf8')).toMatch(/^dialout:x:20:factorylm$/m);
    expect(
      readFileSync(p('etc/systemd/system/factorylm-agent.service.d/serial.conf'), 'utf8'),
    ).toBe(readFileSync('deploy/systemd/factorylm-agent.service.d/serial.conf', 'utf8'));
  });

  it('uninstalls, keeping config and data; --purge removes them and the user', () => {
    clearCalls();
    let r = install(['--uninstall']);
    expect(r.code, r.err + r.out).toBe(0);
    expect(calls()).toContain('disable --now factorylm-agent.service');
    expect(existsSync(p('opt/factorylm'))).toBe(false);
    expect(existsSync(p('etc/systemd/system/factorylm-agent.service'))).toBe(false);
    expect(existsSync(p('etc/systemd/system/factorylm-agent.service.d'))).toBe(false);
    expect(existsSync(p('usr/local/bin/factorylm'))).toBe(false);
    expect(existsSync(p('etc/factorylm/agent.yaml'))).toBe(true);
    expect(existsSync(p('var/lib/factorylm'))).toBe(true);
    r = install(['--uninstall']);
    expect(r.code, r.err + r.out).toBe(0);
    r = install(['--uninstall', '--purge']);
    expect(r.code, r.err + r.out).toBe(0);
    expect(existsSync(p('etc/factorylm'))).toBe(false);
    expect(existsSync(p('var/lib/factorylm'))).toBe(false);
    expect(readFileSync(p('etc/passwd'), 'utf8')).not.toMatch(/^factorylm:/m);
  });
});
