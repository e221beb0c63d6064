import { InvalidArgumentError } from 'commander';
import { ConfigError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * Keeps a long-running component up until SIGINT/SIGTERM, then stops it once. A stray rejected
 * promise is logged, never fatal: one bad message must not take a plant's data path down.
 */
export async function runUntilSignal(log: Logger, stop: () => Promise<void>): Promise<void> {
  process.on('unhandledRejection', (reason) =>
    log.error({ err: errorMessage(reason) }, 'unhandled rejection (bug): please report it'),
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      stop()
        .catch((err) => log.error({ err: errorMessage(err) }, 'error while stopping'))
        .finally(resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/** Prints a config or usage error the way a user can act on, then exits non-zero. */
export function exitWithError(err: unknown): never {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(`error: ${errorMessage(err)}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

export function parseIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}
