import { openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from './logger.js';

describe('createRootLogger', () => {
  it('prints lines for people to a sink, with secrets redacted as in JSON', () => {
    const lines: string[] = [];
    const log = createRootLogger({ level: 'info', sink: (t) => lines.push(t) });
    log.child({ component: 'mqtt' }).warn({ password: 'hunter2', url: 'mqtt://x' }, 'refused');
    log.debug('below the level');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}mqtt {5}refused {2}/);
    expect(lines[0]).toContain('password=[redacted]');
    expect(lines[0]).not.toContain('hunter2');
  });

  it.each([
    { format: 'json' as const, pretty: false },
    { format: 'pretty' as const, pretty: true },
  ])('format $format to a sink: pretty $pretty', ({ format, pretty }) => {
    const lines: string[] = [];
    const log = createRootLogger({
      format,
      sink: (t) => lines.push(t),
      fd: openSync('/dev/null', 'w'),
    });
    // JSON goes to the file descriptor, not the sink: only pretty output uses the sink.
    log.info('hello');
    expect(lines.length === 1).toBe(pretty);
  });
});
