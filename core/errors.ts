/** One problem found in a config file, located by its YAML path (`devices[0].tags[3].address`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A config that cannot be used. The message lists every issue, one per line, path first. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `${file}: invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'})\n` +
        issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** `err.message` for anything thrown, without assuming it is an Error (some libraries reject with plain objects). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (
    err !== null &&
    typeof err === 'object' &&
    typeof (err as { message?: unknown }).message === 'string'
  ) {
    return (err as { message: string }).message;
  }
  return String(err);
}
