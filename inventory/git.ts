import { execFile } from 'node:child_process';
import { errorMessage } from '../core/errors.js';
import type { GitInfo } from './report.js';

/**
 * A remote URL with no credentials: `https://user:token@host/x.git` → `https://host/x.git`;
 * query strings and fragments (where some tools put tokens) go too. scp-like `git@host:org/x`
 * carries no secret and stays.
 */
export function stripCredentials(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)/i.exec(url.trim());
  if (!m) return url.trim();
  const [, scheme, authority, path] = m as unknown as [string, string, string, string];
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return `${scheme}${host}${path}`;
}

/** `git status --porcelain=v2 --branch`: HEAD, branch, ahead/behind, changed file count. */
export function parseStatus(text: string): Omit<GitInfo, 'remote' | 'lastCommitAt'> {
  const info: Omit<GitInfo, 'remote' | 'lastCommitAt'> = { dirty: 0 };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (!line.startsWith('# ')) {
      info.dirty += 1;
      continue;
    }
    const [, key, ...rest] = line.split(' ');
    if (key === 'branch.oid' && rest[0] !== '(initial)') info.head = rest[0];
    else if (key === 'branch.head' && rest[0] !== '(detached)') info.branch = rest[0];
    else if (key === 'branch.ab') {
      info.ahead = Math.abs(Number(rest[0]));
      info.behind = Math.abs(Number(rest[1]));
    }
  }
  return info;
}

/** `git config --get-regexp ^remote\..*\.url$` lines → origin's URL, else the first one. */
export function pickRemote(text: string): string | undefined {
  const remotes = text
    .split('\n')
    .map((l) => /^remote\.(.+)\.url (.+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null);
  const chosen = remotes.find((m) => m[1] === 'origin') ?? remotes[0];
  return chosen ? stripCredentials(chosen[2]!) : undefined;
}

/** Bounds one git call: a repository on a dead network mount must not stall the scan. */
const GIT_TIMEOUT_MS = 20_000;

function git(dir: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      // safe.directory: as root, git refuses repositories owned by other users; we only read.
      // fsmonitor off: never start a daemon in someone else's repository.
      ['-c', 'safe.directory=*', '-c', 'core.fsmonitor=false', '-C', dir, ...args],
      {
        timeout: GIT_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
        // No index.lock and no index refresh written: a scan must not modify what it inspects.
        env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(stderr.trim().split('\n')[0] || errorMessage(err)));
        else resolve(stdout);
      },
    );
  });
}

/** What git says about the repository at `dir`; an error is reported, never thrown. */
export async function gitInfo(dir: string): Promise<GitInfo> {
  let status;
  try {
    status = parseStatus(await git(dir, ['status', '--porcelain=v2', '--branch']));
  } catch (err) {
    return { dirty: 0, error: errorMessage(err) };
  }
  const [remotes, last] = await Promise.all([
    // Exit 1 means "no remote configured", not a failure.
    git(dir, ['config', '--get-regexp', '^remote\\..*\\.url$']).catch(() => ''),
    status.head ? git(dir, ['log', '-1', '--format=%ct']).catch(() => '') : Promise.resolve(''),
  ]);
  const remote = pickRemote(remotes);
  const seconds = Number(last.trim());
  return {
    ...status,
    ...(remote ? { remote } : {}),
    ...(last.trim() !== '' && Number.isFinite(seconds) ? { lastCommitAt: seconds * 1000 } : {}),
  };
}
