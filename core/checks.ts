/**
 * The checks `factorylm doctor` runs that know nothing of PLCs or brokers: Node version, clock,
 * folders and disk, ports. Each returns a Check with the fix in words; none throws.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { errorMessage } from './errors.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** What was checked, short: `Node.js`, `broker mqtt://10.0.0.2:1883`. */
  name: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about it, when not ok. */
  fix?: string;
}

export const ok = (name: string, detail: string): Check => ({ name, status: 'ok', detail });
export const fail = (name: string, detail: string, fix?: string): Check => ({
  name,
  status: 'fail',
  detail,
  ...(fix ? { fix } : {}),
});
export const warn = (name: string, detail: string, fix?: string): Check => ({
  name,
  status: 'warn',
  detail,
  ...(fix ? { fix } : {}),
});

/** Node 24 is the LTS plants should run; 20 and 22 work (20 is end of life); older do not. */
export function nodeVersionCheck(version: string): Check {
  const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
  const name = 'Node.js';
  if (major >= 24) return ok(name, version);
  if (major >= 20)
    return warn(
      name,
      `${version} works${major === 20 ? ' but is end of life' : ''}; 24 LTS is recommended`,
      'install Node.js 24 LTS (README, "Install")',
    );
  return fail(name, `${version} is too old: at least 20 is needed`, 'install Node.js 24 LTS');
}

function run(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : stdout)),
  );
}

/**
 * Clock synchronised: timestamps are the data. Asks systemd (timedatectl) first, then chrony;
 * when neither can tell, says so as a warning rather than guessing.
 */
export async function clockCheck(
  ask: (file: string, args: string[]) => Promise<string | undefined> = run,
): Promise<Check> {
  const name = 'clock';
  const timedatectl = await ask('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  if (timedatectl?.trim() === 'yes') return ok(name, 'synchronised (systemd-timesyncd/NTP)');
  const chrony = await ask('chronyc', ['tracking']);
  const leap = chrony && /^Leap status\s*:\s*(.+)$/m.exec(chrony)?.[1]?.trim();
  if (leap === 'Normal') return ok(name, 'synchronised (chrony)');
  if (timedatectl?.trim() === 'no' || leap)
    return fail(
      name,
      `not synchronised${leap ? ` (chrony: ${leap})` : ''}: sample timestamps will be wrong`,
      'enable NTP: sudo timedatectl set-ntp true, or configure chrony with a reachable server',
    );
  return warn(
    name,
    'cannot tell whether the clock is synchronised (no timedatectl or chronyc answer)',
    'install chrony or systemd-timesyncd and point it at the plant NTP server',
  );
}

/**
 * The folder of `file` can take a new file and has `needBytes` free (a queue's maxBytes). Writes
 * and removes a probe file: permissions alone do not say what a read-only mount refuses.
 */
export function folderCheck(what: string, file: string, needBytes: number): Check {
  const dir = dirname(file);
  const name = `${what} folder ${dir}`;
  if (!existsSync(dir))
    return fail(name, 'does not exist', `create it: sudo install -d -o factorylm ${dir}`);
  const probe = join(dir, `.factorylm-doctor-${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(probe, 'probe');
    unlinkSync(probe);
  } catch (err) {
    return fail(
      name,
      `not writable: ${errorMessage(err)}`,
      `make it writable for this user (${process.env.USER ?? process.getuid?.()}), or set the path to a writable folder`,
    );
  }
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  if (free < needBytes)
    return fail(
      name,
      `${mib(free)} free, less than the configured maxBytes ${mib(needBytes)}`,
      'free disk space or lower maxBytes',
    );
  return ok(name, `writable, ${mib(free)} free (maxBytes ${mib(needBytes)})`);
}

/** Nothing else listens on host:port, so the service can. Port 0 (off or any) always passes. */
export function portCheck(what: string, host: string, port: number): Promise<Check> {
  const name = `${what} port ${host}:${port}`;
  if (port === 0) return Promise.resolve(ok(`${what} port`, 'off or any free port'));
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      resolve(
        err.code === 'EADDRINUSE'
          ? fail(
              name,
              'in use by another process',
              `find it with: ss -ltnp 'sport = :${port}' (a second instance?), or change the port`,
            )
          : fail(name, errorMessage(err), 'check the host address and port in the config'),
      ),
    );
    server.listen(port, host, () => server.close(() => resolve(ok(name, 'free'))));
  });
}

const MARK: Record<CheckStatus, string> = { ok: '✔', warn: '▲', fail: '✖' };

/** One screen: a line per check, its fix below when not ok, and the count at the end. Pure. */
export function formatChecks(title: string, checks: Check[]): string {
  const out = [title, ''];
  for (const c of checks) {
    out.push(`${MARK[c.status]} ${c.name}: ${c.detail}`);
    if (c.fix && c.status !== 'ok') out.push(`    → ${c.fix}`);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  out.push('');
  out.push(
    failed === 0
      ? `All ${checks.length} checks passed${warned ? ` (${warned} with a warning)` : ''}.`
      : `${failed} of ${checks.length} checks failed${warned ? `, ${warned} warnings` : ''}.`,
  );
  return out.join('\n');
}
