import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** System services the integration tests run for real, and the Debian packages that ship them. */
const REQUIRED: { binary: string; pkg: string }[] = [
  { binary: 'mosquitto', pkg: 'mosquitto' },
  { binary: 'victoria-metrics', pkg: 'victoria-metrics' },
  { binary: 'influxd', pkg: 'influxdb' },
  { binary: 'socat', pkg: 'socat' },
  // The live page test drives it headless through playwright-core (no browser download).
  { binary: 'chromium', pkg: 'chromium' },
];

function has(binary: string): boolean {
  return (
    spawnSync('sh', ['-c', `command -v ${binary} || test -x /usr/sbin/${binary}`], {
      stdio: 'ignore',
    }).status === 0
  );
}

/**
 * Installs the services the suite needs when running as root, or stops with the exact command
 * to run. The suite never skips an integration test because a service is missing.
 */
export default function setup(): void {
  if (!existsSync('dist/cli/main.js')) {
    throw new Error(
      'dist/cli/main.js is missing: run `npm run build` (npm test does it for you) before vitest',
    );
  }
  const missing = REQUIRED.filter((r) => !has(r.binary));
  if (missing.length === 0) return;
  const pkgs = missing.map((m) => m.pkg);
  if (process.getuid?.() !== 0) {
    throw new Error(
      `integration tests need ${pkgs.join(', ')}; install them with: sudo apt-get install -y ${pkgs.join(' ')}`,
    );
  }
  console.log(`installing ${pkgs.join(', ')} with apt-get for the integration tests…`);
  execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', ...pkgs], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const still = REQUIRED.filter((r) => !has(r.binary));
  if (still.length)
    throw new Error(
      `apt-get finished but ${still.map((s) => s.binary).join(', ')} is still missing`,
    );
}
