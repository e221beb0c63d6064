import { isatty } from 'node:tty';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { z } from 'zod';
import { formatLogLine } from './pretty-log.js';

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
  /**
   * `json` (one object per line: systemd, journald, pipes, log shippers), `pretty` (lines for
   * people) or `auto`: pretty when `fd` is a terminal. Default `LOG_FORMAT`, else `auto`.
   */
  format?: LogFormat;
  /** Pretty lines go here instead of `fd` (the demo prints them above its live summary). */
  sink?: (text: string) => void;
}

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

function logFormat(requested: string | undefined): LogFormat {
  if (requested === undefined || requested === '') return 'auto';
  if ((LOG_FORMATS as readonly string[]).includes(requested)) return requested as LogFormat;
  // A typo in an environment variable must not stop a plant's agent: say so once, carry on.
  process.stderr.write(
    `LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, not "${requested}"; using auto\n`,
  );
  return 'auto';
}

/** A pino destination that prints each line for people; synchronous, so no line is lost at exit. */
function prettyDestination(
  fd: number,
  sink: ((text: string) => void) | undefined,
): DestinationStream {
  const colour = sink === undefined && isatty(fd) && !process.env.NO_COLOR;
  const out = sink ? undefined : pino.destination({ fd, sync: true });
  return {
    write(line: string) {
      const text = formatLogLine(line, { colour });
      if (sink) sink(text);
      else out!.write(text);
    },
  };
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
  const fd = options.fd ?? 2;
  const format = options.format ?? logFormat(process.env.LOG_FORMAT);
  const pretty =
    format === 'pretty' || (format === 'auto' && (options.sink !== undefined || isatty(fd)));
  if (pretty) return pino(config, prettyDestination(fd, options.sink));
  return pino(config, pino.destination({ fd, sync: false }));
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
