import { homedir } from 'node:os';
import { join } from 'node:path';
import { stateDirectory } from '../core/state-dir.js';

/**
 * The scan's hash cache: `$STATE_DIRECTORY` under systemd, else `$XDG_CACHE_HOME/factorylm` or
 * `~/.cache/factorylm`. A module of its own: the agent needs the path, not the scanner (which runs
 * in a child process).
 */
export function defaultCacheFile(): string {
  const dir =
    stateDirectory() ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'factorylm');
  return join(dir, 'inventory-cache.db');
}
