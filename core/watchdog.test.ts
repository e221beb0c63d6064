import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from './backoff.js';
import { ResourceWatchdog, type WatchdogOptions } from './watchdog.js';

const MB = 1024 * 1024;

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

describe('ResourceWatchdog', () => {
  let watchdog: ResourceWatchdog | undefined;
  afterEach(() => watchdog?.stop());

  it('detects a blocked event loop, warns once, and reports ok again after the window', async () => {
    const { log, lines } = capturingLogger();
    watchdog = new ResourceWatchdog(
      { maxEventLoopLagMs: 150, maxRssMb: 1e6, sampleIntervalMs: 100, windowMs: 400 },
      log,
    );
    watchdog.start();
    await sleep(100);
    expect(watchdog.sample().status).toBe('ok');

    busyFor(300);
    await sleep(50);
    const blocked = watchdog.sample();
    expect(blocked.status).toBe('degraded');
    expect(blocked.eventLoopLagMs.max).toBeGreaterThanOrEqual(250);
    expect(blocked.eventLoopLagMs.p99).toBeGreaterThanOrEqual(250);
    expect(blocked.eventLoopLagMs.p50).toBeLessThan(150);
    expect(blocked.reasons).toEqual([
      expect.stringMatching(
        /^event-loop lag p99 \d+ ms > 150 ms: the node is overloaded; poll fewer tags or raise pollIntervalMs$/,
      ),
    ]);

    const deadline = Date.now() + 3000;
    while (watchdog.report().status !== 'ok' && Date.now() < deadline) await sleep(50);
    expect(watchdog.report()).toMatchObject({ status: 'ok', reasons: [] });
    expect(watchdog.report().eventLoopLagMs.max).toBeLessThan(150);

    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^resources degraded: event-loop lag p99/),
    ]);
    expect(lines.filter((l) => l.level === 30).map((l) => l.msg)).toEqual(['resources ok again']);
  });

  describe('with injected memory samples', () => {
    function injected(rssMb: number[], stepMs: number, options: Partial<WatchdogOptions> = {}) {
      let t = 0;
      let i = 0;
      const w = new ResourceWatchdog({
        maxEventLoopLagMs: 500,
        maxRssMb: 400,
        now: () => t,
        readMemory: () => ({ rss: rssMb[i]! * MB, heapUsed: 50 * MB }),
        ...options,
      });
      const reports = rssMb.map(() => {
        const r = w.sample();
        t += stepMs;
        i += 1;
        return r;
      });
      return reports;
    }

    it('computes RSS growth per hour as the slope of the samples', () => {
      // 5 MB every 10 minutes: 30 MB/h.
      const reports = injected([100, 105, 110, 115, 120, 125, 130], 600_000);
      expect(reports[0]!.rssGrowthMbPerHour).toBe(0);
      expect(reports.at(-1)).toMatchObject({
        rssMb: 130,
        heapUsedMb: 50,
        rssGrowthMbPerHour: 30,
        status: 'ok',
      });
    });

    it('forgets samples older than an hour', () => {
      // Two flat hours, then one hour growing 10 MB every 10 minutes: 60 MB/h.
      const flat = Array.from({ length: 13 }, () => 200);
      const growing = [210, 220, 230, 240, 250, 260];
      const reports = injected([...flat, ...growing], 600_000);
      expect(reports[12]!.rssGrowthMbPerHour).toBe(0);
      expect(reports.at(-1)!.rssGrowthMbPerHour).toBe(60);
    });

    it('ignores samples closer together than 10 s for growth', () => {
      // Noise every second must not dominate the hourly slope.
      const noise = Array.from({ length: 9 }, () => 300);
      const reports = injected([100, ...noise, 120], 1000);
      // Only t=0 s (100 MB) and t=10 s (120 MB) count: 20 MB per 10 s.
      expect(reports.at(-1)!.rssGrowthMbPerHour).toBe(7200);
    });

    it('is degraded above maxRssMb with advice, and logs only on changes', () => {
      const { log, lines } = capturingLogger();
      let rss = 300;
      const w = new ResourceWatchdog(
        {
          maxEventLoopLagMs: 500,
          maxRssMb: 400,
          readMemory: () => ({ rss: rss * MB, heapUsed: 0 }),
        },
        log,
      );
      expect(w.sample().status).toBe('ok');
      rss = 512;
      const high = w.sample();
      expect(high.status).toBe('degraded');
      expect(high.reasons).toEqual([
        'resident memory 512 MB > 400 MB: lower outbox.maxMemoryMessages or publish.maxInflight, poll fewer tags, or raise health.maxRssMb if the host has memory to spare',
      ]);
      w.sample();
      w.sample();
      rss = 350;
      expect(w.sample().status).toBe('ok');
      w.sample();
      expect(lines.map((l) => [l.level, l.msg.split(':')[0]])).toEqual([
        [40, 'resources degraded'],
        [30, 'resources ok again'],
      ]);
    });
  });
});
