import { describe, expect, it } from 'vitest';
import { formatLogLine } from './pretty-log.js';

// 2026-12-02 17:20:01.234 in this process's time zone.
const time = new Date(2026, 11, 2, 17, 20, 1, 234).getTime();
const line = (o: Record<string, unknown>) => JSON.stringify({ level: 30, time, pid: 7, ...o });

describe('formatLogLine', () => {
  it.each([
    {
      name: 'level, component, message and fields',
      input: line({
        level: 40,
        component: 'modbus',
        line: 'tcp://127.0.0.1:502',
        reason: 'closed',
        msg: 'Modbus line lost',
      }),
      out: '17:20:01.234 WARN  modbus   Modbus line lost  line=tcp://127.0.0.1:502 reason=closed\n',
    },
    {
      name: 'no component, no fields',
      input: line({ msg: 'stopping' }),
      out: '17:20:01.234 INFO  stopping\n',
    },
    {
      name: 'text with spaces is quoted, objects are JSON',
      input: line({
        component: 'agent',
        msg: 'agent started',
        why: 'a b',
        devices: [{ name: 'plc', tags: 3 }],
      }),
      out: '17:20:01.234 INFO  agent    agent started  why="a b" devices=[{"name":"plc","tags":3}]\n',
    },
    {
      name: 'an error: message inline, stack below, indented',
      input: line({
        level: 50,
        err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' },
        msg: 'failed',
      }),
      out: '17:20:01.234 ERROR failed  err=boom\n    Error: boom\n        at x\n',
    },
    {
      name: 'an unknown level is shown as it is',
      input: line({ level: 35, msg: 'custom' }),
      out: '17:20:01.234 35    custom\n',
    },
    {
      name: 'a line that is not JSON passes through',
      input: 'plain text',
      out: 'plain text\n',
    },
  ])('$name', ({ input, out }) => {
    expect(formatLogLine(input, { colour: false })).toBe(out);
  });

  it('colours the level and dims the rest on a colour terminal', () => {
    const text = formatLogLine(line({ level: 50, msg: 'x', a: 1 }), { colour: true });
    expect(text).toContain('\x1b[31mERROR\x1b[0m');
    expect(text).toContain('\x1b[2ma=1\x1b[0m');
  });
});
