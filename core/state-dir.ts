import { join } from 'node:path';

/** systemd's StateDirectory of the unit (the first, when it names several), if it runs under one. */
export function stateDirectory(): string | undefined {
  return process.env.STATE_DIRECTORY?.split(':')[0];
}

/** `file` in the StateDirectory under systemd, else in the working directory. */
export function stateFile(file: string): string {
  return join(stateDirectory() ?? '.', file);
}
