/**
 * What the node scan skips: folders that hold installed or generated files rather than a
 * project's own code (dependencies, virtualenvs, caches, VCS internals), and the patterns of
 * `.factorylmignore` files (a gitignore subset: `name`, `*.log`, `dir/`, `/anchored`,
 * `a/**\/b`; no `!` negation).
 */

/** Folder names never descended into: installed dependencies, caches, VCS internals. */
export const IGNORED_DIRS = new Set([
  'node_modules',
  '.git',
  '.hg',
  '.svn',
  '__pycache__',
  '.mypy_cache',
  '.pytest_cache',
  '.ruff_cache',
  '.tox',
  '.nox',
  '.cache',
  '.npm',
  '.yarn',
  '.pnpm-store',
  '.gradle',
  '.venv',
  'venv',
  'site-packages',
  '.ipynb_checkpoints',
]);

/** A folder holding this file is a Python virtualenv, whatever its name (PEP 405). */
export const VIRTUALENV_MARKER = 'pyvenv.cfg';

export const IGNORE_FILE = '.factorylmignore';

/** Compiled bytecode and OS litter: regenerated, never a project's content. */
const IGNORED_FILE = /\.(pyc|pyo)$|^\.DS_Store$|^Thumbs\.db$/;

export interface IgnoreRule {
  /** Tested against the path relative to `base` (anchored) or against the name alone. */
  regex: RegExp;
  anchored: boolean;
  dirOnly: boolean;
}

/** A set of rules and the folder they are relative to. */
export interface IgnoreRules {
  base: string;
  rules: IgnoreRule[];
}

function globToRegex(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` matches any number of folders, a trailing `**` everything below.
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Parses `.factorylmignore` text (or `--ignore` patterns); blank lines and `#` comments skipped. */
export function parseIgnore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.slice(0, -1);
    // As in gitignore, a slash anywhere but at the end ties the pattern to the file's folder.
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    if (line === '') continue;
    rules.push({ regex: globToRegex(line), anchored, dirOnly });
  }
  return rules;
}

/** Whether a built-in rule skips this entry (`pyvenv.cfg` folders are checked by the walker). */
export function ignoredByDefault(name: string, isDir: boolean): boolean {
  return isDir ? IGNORED_DIRS.has(name) : IGNORED_FILE.test(name);
}

/**
 * Whether any rule set skips `path` (absolute, `/`-separated). Each set only applies below its
 * base folder.
 */
export function ignoredByRules(sets: IgnoreRules[], path: string, isDir: boolean): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  for (const set of sets) {
    const prefix = set.base === '/' ? '/' : `${set.base}/`;
    if (!path.startsWith(prefix)) continue;
    const rel = path.slice(prefix.length);
    for (const rule of set.rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(rule.anchored ? rel : name)) return true;
    }
  }
  return false;
}
