/**
 * At most `max` log lines per key in each `intervalMs` window; the lines skipped meanwhile are
 * counted and handed to the next line that may be logged, so a flood (refused clients, a full
 * spool, a disk that refuses writes) costs a few lines, and the log still says how many.
 * Time is passed in (ms) so tests need no clock.
 */
export class LogLimiter<Key extends string = string> {
  private readonly windows = new Map<Key, { start: number; lines: number; skipped: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly max = 1,
  ) {}

  /** Whether to log this line of `key`; `suppressed`: how many of its lines were skipped since the last one logged. */
  take(key: Key, now = Date.now()): { log: boolean; suppressed: number } {
    let w = this.windows.get(key);
    if (!w) {
      w = { start: now, lines: 0, skipped: 0 };
      this.windows.set(key, w);
    } else if (now - w.start >= this.intervalMs) {
      w.start = now;
      w.lines = 0;
    }
    if (w.lines >= this.max) {
      w.skipped += 1;
      return { log: false, suppressed: 0 };
    }
    w.lines += 1;
    const suppressed = w.skipped;
    w.skipped = 0;
    return { log: true, suppressed };
  }

  /** A line of `key` was logged outside the limiter (a state change always logs): a new window starts with it. */
  logged(key: Key, now = Date.now()): void {
    this.windows.set(key, { start: now, lines: 1, skipped: this.windows.get(key)?.skipped ?? 0 });
  }
}
