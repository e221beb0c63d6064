import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { offlineBundle } from './support/bundle.js';
import { freePort, startCli, type Running } from './support/processes.js';
import { startMosquitto, startVictoriaMetrics, type Service } from './support/services.js';
import { makeFakeSystemctl, makeThrowawayRoot } from './support/throwaway-root.js';

/**
 * deploy/ansible/site.yml for real with Debian's ansible-playbook: three nodes on this machine
 * (`connection: local`), each installing into its own throwaway root through install.sh, one
 * node per batch, with the /health gate pointed at a real gateway's /health (or at a closed port
 * for a node that must fail it). Runs as root (CI does).
 */
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const HOSTS = ['edge-01', 'edge-02', 'edge-03'];
const TOKEN = 'ansible-health-token-0123';

let work: string;
let mosquitto: Service;
let vm: Service;
let gateway: Running;
let goodHealth: string;
let badHealth: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'flm-ansible-'));
  const tar = await offlineBundle('linux-x64');
  const bundles = join(work, 'bundles');
  mkdirSync(bundles);
  copyFileSync(tar, join(bundles, basename(tar)));
  copyFileSync(`${tar}.sha256`, join(bundles, `${basename(tar)}.sha256`));
  makeFakeSystemctl(join(work, 'bin'));
  for (const host of HOSTS) {
    makeThrowawayRoot(join(work, host));
    mkdirSync(join(work, 'configs', host), { recursive: true });
    copyFileSync('deploy/examples/micro820.yaml', join(work, 'configs', host, 'agent.yaml'));
  }
  // A real /health for the gate: a gateway with its HTTP token.
  mosquitto = await startMosquitto();
  vm = await startVictoriaMetrics();
  const port = await freePort();
  const config = join(work, 'gateway.yaml');
  writeFileSync(
    config,
    stringify({
      name: 'ansible-gate',
      mqtt: { url: mosquitto.url },
      influx: { api: 'v2', url: vm.url, token: 'x', org: 'factorylm', bucket: 'sensors' },
      http: { host: '127.0.0.1', port, token: TOKEN },
    }),
  );
  gateway = startCli(['gateway', '--config', config], { STATE_DIRECTORY: work });
  await gateway.waitForOutput(/gateway http listening/, 60_000);
  goodHealth = `http://127.0.0.1:${port}/health`;
  badHealth = `http://127.0.0.1:${await freePort()}/health`;
}, 900_000);

afterAll(async () => {
  await gateway?.stop();
  await mosquitto?.stop();
  await vm?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

function playbook(healthOf: (host: string) => string) {
  const hosts = Object.fromEntries(
    HOSTS.map((host) => [
      host,
      {
        factorylm_prefix: join(work, host),
        factorylm_health_url: healthOf(host),
        factorylm_install_env: {
          PATH: `${join(work, 'bin')}:${process.env.PATH}`,
          SYSTEMCTL_LOG: join(work, `${host}.systemctl.log`),
        },
      },
    ]),
  );
  const inventory = {
    all: {
      vars: {
        ansible_connection: 'local',
        ansible_python_interpreter: '/usr/bin/python3',
        factorylm_become: false,
        factorylm_version: VERSION,
        factorylm_bundle_dir: join(work, 'bundles'),
        factorylm_config_dir: join(work, 'configs'),
        factorylm_roles: ['agent'],
        factorylm_batch: 1,
        factorylm_health_token: TOKEN,
        factorylm_health_retries: 3,
        factorylm_health_delay: 1,
      },
      children: { factorylm: { hosts } },
    },
  };
  const file = join(work, 'inventory.yml');
  writeFileSync(file, stringify(inventory));
  const r = spawnSync('ansible-playbook', ['-i', file, resolve('deploy/ansible/site.yml')], {
    encoding: 'utf8',
    env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOST_KEY_CHECKING: 'False' },
    timeout: 600_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

const current = (host: string) => {
  const link = join(work, host, 'opt/factorylm/current');
  return existsSync(link) ? readlinkSync(link) : undefined;
};
const recap = (out: string, host: string) => {
  const m = new RegExp(
    `^${host}\\s+: ok=(\\d+)\\s+changed=(\\d+)\\s+unreachable=(\\d+)\\s+failed=(\\d+)`,
    'm',
  ).exec(out);
  return m && { ok: Number(m[1]), changed: Number(m[2]), failed: Number(m[4]) };
};

// Each run unpacks or checks a 300 MB bundle per node: minutes on a loaded 2-core machine.
describe('ansible rollout (site.yml)', { timeout: 900_000 }, () => {
  it('stops at the batch whose node fails the /health gate; later nodes are untouched', () => {
    const r = playbook((host) => (host === 'edge-02' ? badHealth : goodHealth));
    expect(r.code, r.out).not.toBe(0);
    expect(current('edge-01')).toBe(VERSION);
    expect(recap(r.out, 'edge-01')).toMatchObject({ failed: 0 });
    // edge-02 installed, then failed its gate; edge-03's batch never ran.
    expect(current('edge-02')).toBe(VERSION);
    expect(recap(r.out, 'edge-02')).toMatchObject({ failed: 1 });
    expect(r.out).toMatch(/Wait until \/health says ok[\s\S]*FAILED - RETRYING/);
    expect(recap(r.out, 'edge-03')).toBeNull();
    expect(existsSync(join(work, 'edge-03/opt/factorylm'))).toBe(false);
    const log = readFileSync(join(work, 'edge-01.systemctl.log'), 'utf8');
    expect(log).toContain('restart factorylm-agent.service');
  });

  it('goes on once the node is healthy, pushing the config and installing in batches', () => {
    const r = playbook(() => goodHealth);
    expect(r.code, r.out).toBe(0);
    for (const host of HOSTS) {
      expect(current(host), host).toBe(VERSION);
      expect(readFileSync(join(work, host, 'etc/factorylm/agent.yaml'), 'utf8')).toBe(
        readFileSync('deploy/examples/micro820.yaml', 'utf8'),
      );
      expect(existsSync(join(work, host, 'var/cache/factorylm/install.sh'))).toBe(true);
    }
    expect(recap(r.out, 'edge-03')).toMatchObject({ failed: 0 });
    // One node a batch: edge-01's play finished before edge-03's started.
    expect(r.out.indexOf('[edge-01]')).toBeLessThan(r.out.indexOf('[edge-03]'));
  });

  it('is idempotent: nothing changes on a second run, and a config change reinstalls that node only', () => {
    let r = playbook(() => goodHealth);
    expect(r.code, r.out).toBe(0);
    for (const host of HOSTS)
      expect(recap(r.out, host), host).toMatchObject({ changed: 0, failed: 0 });
    writeFileSync(
      join(work, 'configs/edge-02/agent.yaml'),
      readFileSync('deploy/examples/micro820.yaml', 'utf8') + '# changed\n',
    );
    rmSync(join(work, 'edge-02.systemctl.log'), { force: true });
    r = playbook(() => goodHealth);
    expect(r.code, r.out).toBe(0);
    expect(recap(r.out, 'edge-01')).toMatchObject({ changed: 0 });
    expect(recap(r.out, 'edge-02')!.changed).toBeGreaterThan(0);
    expect(readFileSync(join(work, 'edge-02.systemctl.log'), 'utf8')).toContain(
      'restart factorylm-agent.service',
    );
  });
});
