/**
 * pino's JSON lines turned into lines for people, for a terminal:
 * `17:20:01.234 WARN  modbus  Modbus line lost; reconnecting with backoff  line=tcp://… reason=closed`.
 * A few lines of our own instead of pino-pretty: no worker thread and no extra dependency in the
 * agent, whose memory budget is tight, and only terminals pay for the JSON.parse.
 */

const LEVELS: Record<number, { label: string; colour: string }> = {
  10: { label: 'TRACE', colour: '\x1b[90m' },
  20: { label: 'DEBUG', colour: '\x1b[36m' },
  30: { label: 'INFO ', colour: '\x1b[32m' },
  40: { label: 'WARN ', colour: '\x1b[33m' },
  50: { label: 'ERROR', colour: '\x1b[31m' },
  60: { label: 'FATAL', colour: '\x1b[41m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
/** Fields every line has, shown in their own place or not at all. */
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'component', 'msg']);

export interface PrettyOptions {
  /** ANSI colours (a terminal that is not NO_COLOR). */
  colour: boolean;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** One pino JSON line as text for people, ending in a newline. Text that is not JSON passes through. */
export function formatLogLine(line: string, options: PrettyOptions): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = LEVELS[Number(o.level)] ?? { label: String(o.level).padEnd(5), colour: '' };
  const paint = (code: string, text: string) =>
    options.colour && code ? `${code}${text}${RESET}` : text;
  const parts = [
    paint(DIM, clock(typeof o.time === 'number' ? o.time : Date.now())),
    paint(level.colour, level.label),
  ];
  if (typeof o.component === 'string') parts.push(paint(DIM, o.component.padEnd(8)));
  parts.push(String(o.msg ?? ''));
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(o)) {
    if (SKIP.has(key) || value === undefined) continue;
    // A serialised Error: its message inline, its stack below.
    if (key === 'err' && value !== null && typeof value === 'object' && 'message' in value) {
      const err = value as { message: unknown; stack?: unknown };
      fields.push(`err=${fieldText(err.message)}`);
      if (typeof err.stack === 'string') stack = err.stack;
      continue;
    }
    fields.push(`${key}=${fieldText(value)}`);
  }
  let text = parts.join(' ');
  if (fields.length > 0) text += `  ${paint(DIM, fields.join(' '))}`;
  if (stack) text += `\n${stack.replace(/^/gm, '    ')}`;
  return `${text}\n`;
}
