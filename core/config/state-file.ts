import { z } from 'zod';

/**
 * A config field naming a SQLite file, whose default `file` goes where core/state-dir.ts puts it:
 * systemd's StateDirectory, else the working directory. `what` says what the file holds; `more`
 * is appended to the description.
 */
export function stateFileField(what: string, file: string, more = '') {
  return z
    .string()
    .min(1)
    .optional()
    .describe(
      `SQLite file ${what}; default: ${file} in $STATE_DIRECTORY (systemd) or the working directory${more}`,
    );
}
