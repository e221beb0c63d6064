import { pino, type Logger, type LoggerOptions } from 'pino';
import { z } from 'zod';

export type { Logger };

/** Fields that may carry credentials; pino replaces their values before anything is written. */
export const REDACTED_PATHS = [
  'password',
  'token',
  '*.password',
  '*.token',
  '*.*.password',
  '*.*.token',
  'headers.authorization',
];

export interface RootLoggerOptions {
  /** pino level: trace|debug|info|warn|error|fatal|silent. Default `info`, or `LOG_LEVEL`. */
  level?: string;
  /** File descriptor logs go to. Default 2 (stderr), so stdout stays clean for command output. */
  fd?: number;
}

/**
 * The process-wide root logger. Components never create their own root: they receive
 * `root.child({ component })` so every line says which part of the system wrote it.
 */
export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return pino(config, pino.destination({ fd: options.fd ?? 2, sync: false }));
}

/** A logger that drops everything, for library use without a caller-supplied logger. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The `log:` section every config file has. */
export const logConfigSchema = z
  .strictObject({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info')
      .describe('Log level'),
  })
  .prefault({});
