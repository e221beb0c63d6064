import { execFileSync, spawnSync } from 'node:child_process';

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
 * Installs the given system services (all by default) when running as root, or stops with the
 * exact command to run. Nothing is ever skipped because a service is missing; the benches call
 * this too.
 */
export function ensureServices(binaries: string[] = REQUIRED.map((r) => r.binary)): void {
  const wanted = REQUIRED.filter((r) => binaries.includes(r.binary));
  const missing = wanted.filter((r) => !has(r.binary));
  if (missing.length === 0) return;
  const pkgs = missing.map((m) => m.pkg);
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${pkgs.join(', ')} needed; install with: sudo apt-get install -y ${pkgs.join(' ')}`,
    );
  }
  console.log(`installing ${pkgs.join(', ')} with apt-get…`);
  execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', ...pkgs], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const still = wanted.filter((r) => !has(r.binary));
  if (still.length)
    throw new Error(
      `apt-get finished but ${still.map((s) => s.binary).join(', ')} is still missing`,
    );
}
