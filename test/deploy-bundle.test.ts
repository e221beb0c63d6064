import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offlineBundle, type BundlePlatform } from './support/bundle.js';
import { freePort, start, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * The offline bundles (deploy/bundle/bundle.sh) for both platforms: contents, checksums, the CPU
 * of every native binary, and a real round trip on emulated arm64 (qemu-user) with the arm64
 * bundle's own Node 24 and addons: simulator, `read`, and an agent with its SQLite outbox
 * publishing to a local Mosquitto.
 */
const ELF_MACHINE: Record<BundlePlatform, number> = { 'linux-x64': 62, 'linux-arm64': 183 };
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
/** Debian's arm64 C library root (libc6-dev-arm64-cross), for qemu-aarch64 -L. */
const ARM64_ROOT = '/usr/aarch64-linux-gnu';

function elfMachine(file: string): number {
  const fd = openSync(file, 'r');
  const header = Buffer.alloc(20);
  readSync(fd, header, 0, 20, 0);
  closeSync(fd);
  expect(header.subarray(0, 4).toString('latin1'), file).toBe('\x7fELF');
  return header.readUInt16LE(18);
}

/** Runs a command to completion without blocking the event loop. */
function spawnAsync(command: string, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: 300_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const extracted: Partial<Record<BundlePlatform, { tar: string; dir: string }>> = {};
const work = mkdtempSync(join(tmpdir(), 'flm-bundle-'));

beforeAll(async () => {
  // Both at once: the two addon compilations are the long part and use one core each.
  const platforms: BundlePlatform[] = ['linux-x64', 'linux-arm64'];
  const tars = await Promise.all(platforms.map((p) => offlineBundle(p)));
  platforms.forEach((platform, i) => {
    const dest = join(work, platform);
    execFileSync('mkdir', ['-p', dest]);
    execFileSync('tar', ['xzf', tars[i]!, '-C', dest, '--strip-components=1']);
    extracted[platform] = { tar: tars[i]!, dir: dest };
  });
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }), 300_000);

describe.each(['linux-x64', 'linux-arm64'] as const)(
  '%s bundle',
  { timeout: 300_000 },
  (platform) => {
    const b = () => extracted[platform]!;

    it('is named for its version and platform and matches its .sha256 and MANIFEST.sha256', () => {
      const { tar, dir } = b();
      expect(tar).toMatch(new RegExp(`factorylm-edge-${VERSION}-${platform}\\.tar\\.gz$`));
      execFileSync('sha256sum', ['--quiet', '-c', `${tar.split('/').at(-1)}.sha256`], {
        cwd: join(tar, '..'),
      });
      execFileSync('sha256sum', ['--quiet', '-c', 'MANIFEST.sha256'], { cwd: dir });
      // install.sh reads these two without unpacking the rest.
      const head = execFileSync('bash', ['-c', `tar tzf "${tar}" | head -2`], { encoding: 'utf8' });
      expect(
        head
          .split('\n')
          .slice(0, 2)
          .map((f) => f.split('/').slice(1).join('/')),
      ).toEqual(['BUNDLE.json', 'MANIFEST.sha256']);
      const manifest = readFileSync(join(dir, 'MANIFEST.sha256'), 'utf8');
      for (const f of ['bin/factorylm', 'runtime/bin/node', 'install.sh', 'app/dist/cli/main.js'])
        expect(manifest).toContain(`  ${f}\n`);
      const info = JSON.parse(readFileSync(join(dir, 'BUNDLE.json'), 'utf8')) as Record<
        string,
        string
      >;
      expect(info).toMatchObject({
        name: 'factorylm-edge',
        version: VERSION,
        platform,
        dpkgArchitecture: platform === 'linux-x64' ? 'amd64' : 'arm64',
      });
      expect(info.node).toMatch(/^24\./);
    });

    it('holds Node, better-sqlite3 and the serial binding built for its CPU only', () => {
      const { dir } = b();
      const want = ELF_MACHINE[platform];
      expect(elfMachine(join(dir, 'runtime/bin/node'))).toBe(want);
      expect(
        elfMachine(join(dir, 'app/node_modules/better-sqlite3/build/Release/better_sqlite3.node')),
      ).toBe(want);
      const prebuilds = join(dir, 'app/node_modules/@serialport/bindings-cpp/prebuilds');
      expect(readdirSync(prebuilds)).toEqual([platform]);
      for (const f of readdirSync(join(prebuilds, platform)))
        expect(elfMachine(join(prebuilds, platform, f)), f).toBe(want);
    });

    it('ships the units, examples, Grafana files and no tests or dev dependencies', () => {
      const { dir } = b();
      const ls = (p: string) => readdirSync(join(dir, p));
      expect(ls('deploy/systemd')).toEqual(
        expect.arrayContaining(['factorylm-agent.service', 'factorylm-gateway.service']),
      );
      expect(ls('deploy/examples')).toContain('micro820.yaml');
      expect(ls('deploy/grafana')).toEqual(expect.arrayContaining(['dashboards', 'provisioning']));
      expect(ls('app/dist')).not.toContain('test');
      expect(ls('app/node_modules')).not.toContain('vitest');
      expect(ls('app/node_modules')).not.toContain('typescript');
    });
  },
);

describe('linux-x64 bundle on this machine', { timeout: 300_000 }, () => {
  it('runs its own Node 24 with its better-sqlite3', () => {
    const { dir } = extracted['linux-x64']!;
    expect(
      execFileSync(join(dir, 'bin/factorylm'), ['--version'], { encoding: 'utf8' }).trim(),
    ).toBe(VERSION);
    const out = execFileSync(
      join(dir, 'runtime/bin/node'),
      [
        '-e',
        "const D = require('./app/node_modules/better-sqlite3'); const d = new D(':memory:'); console.log(process.version, d.prepare('select 6*7 x').get().x)",
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(out).toMatch(/^v24\.\d+\.\d+ 42$/m);
  });
});

describe('linux-arm64 bundle under qemu-user', { timeout: 300_000 }, () => {
  let mosquitto: Service | undefined;
  const running: Running[] = [];
  afterAll(async () => {
    for (const r of running.reverse()) await r.stop();
    await mosquitto?.stop();
  });

  /** The arm64 bundle's Node on emulated arm64. */
  const arm64 = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const { dir } = extracted['linux-arm64']!;
    const r = start(
      'qemu-aarch64',
      ['-L', ARM64_ROOT, join(dir, 'runtime/bin/node'), join(dir, 'app/dist/cli/main.js'), ...args],
      env,
    );
    running.push(r);
    return r;
  };

  it('is really arm64: its Node reports arm64 and loads the arm64 addon', () => {
    const { dir } = extracted['linux-arm64']!;
    const r = spawnSync(
      'qemu-aarch64',
      [
        '-L',
        ARM64_ROOT,
        join(dir, 'runtime/bin/node'),
        '-e',
        "const D = require('./app/node_modules/better-sqlite3'); console.log(process.arch, process.version, new D(':memory:').prepare('select 6*7 x').get().x)",
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^arm64 v24\.\d+\.\d+ 42$/);
  });

  it('simulator, read and an agent with its SQLite outbox deliver samples to Mosquitto', async () => {
    mosquitto = await startMosquitto();
    const plcPort = await freePort();
    const sim = arm64(['sim', 'modbus', '--port', String(plcPort)]);
    await sim.waitForOutput(/listening|started|serving/i, 120_000);

    // read: one request/response on emulated arm64 (while the agent starts, below).
    const reading = spawnAsync('qemu-aarch64', [
      '-L',
      ARM64_ROOT,
      join(extracted['linux-arm64']!.dir, 'runtime/bin/node'),
      join(extracted['linux-arm64']!.dir, 'app/dist/cli/main.js'),
      'read',
      `modbus://127.0.0.1:${plcPort}/1`,
      'hr:100..105',
      'coil:0',
    ]);

    const samples: { topic: string; v: unknown; q: string }[] = [];
    const sub = await mqtt.connectAsync(mosquitto.url);
    await sub.subscribeAsync('factorylm/plant1/#', { qos: 1 });
    sub.on('message', (topic, payload) => {
      if (topic.includes('/_nodes/')) return;
      const m = JSON.parse(payload.toString()) as { v: unknown; q: string };
      samples.push({ topic, v: m.v, q: m.q });
    });
    const outbox = join(work, 'outbox-arm64.db');
    const agent = arm64(['agent', '--config', 'deploy/examples/micro820.yaml'], {
      MQTT_URL: mosquitto.url,
      PLC_PORT: String(plcPort),
      FACTORYLM_OUTBOX: outbox,
      HEALTH_PORT: String(await freePort()),
    });
    try {
      await waitFor(
        'motor_speed and motor_running samples from the arm64 agent',
        () =>
          samples.some((s) => s.topic.endsWith('/motor_speed') && typeof s.v === 'number') &&
          samples.some((s) => s.topic.endsWith('/motor_running')),
        180_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${agent.output().slice(-3000)}`, { cause: err });
    } finally {
      await sub.endAsync();
    }
    // Under emulation a poll can time out ("bad"); good samples must come through all the same.
    const speed = samples.find((s) => s.topic.endsWith('/motor_speed') && s.q === 'good')!;
    expect(speed.topic).toBe('factorylm/plant1/packaging/line1/conveyor1/motor_speed');
    expect(speed.v).toBeGreaterThan(0);
    await agent.stop();
    const read = await reading;
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toMatch(/^hr:100\s+\d+$/m);
    expect(read.stdout).toMatch(/^coil:0\s+(true|false)$/m);
    // The outbox is a real SQLite file written by the arm64 addon, readable here.
    const check = join(work, 'check.cjs');
    writeFileSync(
      check,
      `const D = require(${JSON.stringify(join(process.cwd(), 'node_modules/better-sqlite3'))});
       const d = new D(process.argv[2], { readonly: true });
       console.log(d.prepare("select count(*) n from sqlite_master where type = 'table'").get().n);`,
    );
    const tables = execFileSync(process.execPath, [check, outbox], { encoding: 'utf8' });
    expect(Number(tables)).toBeGreaterThan(0);
  }, 420_000);
});
