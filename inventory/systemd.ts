import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { errorMessage } from '../core/errors.js';
import { stripCredentials } from './git.js';
import type { ServiceUnit } from './report.js';

/**
 * Where administrators install their own units. Distribution units under /lib/systemd are
 * left out: hundreds of them, none of them the plant's code.
 */
export const DEFAULT_UNIT_DIRS = ['/etc/systemd/system'];

/** `ExecStart=` and `WorkingDirectory=` of a unit file's [Service] section. */
export function parseUnitFile(text: string): Pick<ServiceUnit, 'execStart' | 'workingDirectory'> {
  const out: Pick<ServiceUnit, 'execStart' | 'workingDirectory'> = {};
  let section = '';
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    // A trailing backslash continues the line (systemd.syntax).
    const line = pending + raw.trim();
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1).trimEnd() + ' ';
      continue;
    }
    pending = '';
    if (line.startsWith('[')) section = line;
    if (section !== '[Service]') continue;
    const m = /^(ExecStart|WorkingDirectory)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    // Prefixes: `-` (failure ignored), `@`, `+`, `!`, `:` on ExecStart; `-` on WorkingDirectory.
    const value = m[2]!.replace(/^[-@+!:]+/, '').trim();
    if (m[1] === 'ExecStart') out.execStart ??= value;
    else out.workingDirectory = value;
  }
  return out;
}

/** Option names whose value is a credential, on a command line. */
const SECRET_OPTION =
  /^(--?[\w.-]*(pass(word)?|passwd|token|secret|api[-_]?key|auth|credentials?)[\w.-]*)(=.*)?$/i;

/**
 * A command line fit for a report: values of password/token/key options and credentials in URLs
 * replaced, since unit files often pass secrets as arguments (`--token abc`, `--password=x`).
 */
export function redactCommand(command: string): string {
  const words = command.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const m = SECRET_OPTION.exec(word);
    if (m && m[4] !== undefined) out.push(`${m[1]}=[redacted]`);
    else if (m && i + 1 < words.length && !words[i + 1]!.startsWith('-')) {
      out.push(word, '[redacted]');
      i += 1;
    } else out.push(word.includes('://') ? stripCredentials(word) : word);
  }
  return out.join(' ');
}

/** `systemctl show -p Id -p ActiveState a b …`: blocks of `Key=value` lines → state by unit. */
export function parseSystemctlShow(text: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const block of text.split(/\n\s*\n/)) {
    const id = /^Id=(.+)$/m.exec(block)?.[1];
    const state = /^ActiveState=(.+)$/m.exec(block)?.[1];
    if (id && state) states.set(id.trim(), state.trim());
  }
  return states;
}

function unitFiles(dirs: string[]): { name: string; file: string; text: string }[] {
  const out: { name: string; file: string; text: string }[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (!name.endsWith('.service')) continue;
      const file = `${dir}/${name}`;
      try {
        // A masked unit is a link to /dev/null; a template (`x@.service`) runs nothing itself.
        if (!statSync(file).isFile() || name.includes('@.')) continue;
        out.push({ name, file, text: readFileSync(file, 'utf8') });
      } catch {
        continue;
      }
    }
  }
  return out;
}

function systemctlStates(names: string[]): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    if (names.length === 0) return resolve(new Map());
    const args = ['show', '--no-pager', '-p', 'Id', '-p', 'ActiveState', ...names];
    execFile('systemctl', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr.trim().split('\n')[0] || errorMessage(err)));
      else resolve(parseSystemctlShow(stdout));
    });
  });
}

/**
 * The services installed in `dirs`, with their state from systemctl where systemd runs. Without
 * systemd (a container, a non-Linux host) units are still listed, state `unknown`, and the
 * reason goes in `status`.
 */
export async function systemdServices(
  dirs: string[],
): Promise<{ services: ServiceUnit[]; status: string }> {
  const files = unitFiles(dirs);
  let states = new Map<string, string>();
  let status = 'ok';
  try {
    states = await systemctlStates(files.map((f) => f.name));
  } catch (err) {
    status = `states unknown: ${errorMessage(err)}`;
  }
  const services = files.map(({ name, file, text }) => {
    const { execStart, workingDirectory } = parseUnitFile(text);
    return {
      name,
      state: states.get(name) ?? 'unknown',
      file,
      ...(execStart !== undefined ? { execStart: redactCommand(execStart) } : {}),
      ...(workingDirectory !== undefined ? { workingDirectory } : {}),
    };
  });
  return { services, status };
}
