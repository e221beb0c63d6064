import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { silentLogger, type Logger } from './logger.js';

export interface WatchdogOptions {
  /** Event-loop lag p99 above which the node is degraded, ms. */
  maxEventLoopLagMs: number;
  /** Resident memory above which the node is degraded, MB. */
  maxRssMb: number;
  /** How often memory is read and the status re-evaluated, ms. Default 10 000. */
  sampleIntervalMs?: number;
  /** Event-loop lag statistics cover roughly this long, ms. Default 60 000. */
  windowMs?: number;
  /** Memory reading in bytes; tests inject one. Default `process.memoryUsage`. */
  readMemory?: () => { rss: number; heapUsed: number };
  /** Clock, ms; tests inject one. Default `Date.now`. */
  now?: () => number;
}

export interface ResourceReport {
  status: 'ok' | 'degraded';
  /** What is wrong and what to do about it; empty when ok. */
  reasons: string[];
  /** Delay of the event loop beyond its scheduled timers over the last window. */
  eventLoopLagMs: { p50: number; p99: number; max: number };
  rssMb: number;
  heapUsedMb: number;
  /** Least-squares slope of RSS over the last hour; 0 until two samples exist. */
  rssGrowthMbPerHour: number;
}

interface LagEntry {
  h: IntervalHistogram;
  since: number;
}

interface MemorySample {
  at: number;
  rssMb: number;
}

const RESOLUTION_MS = 20;
const HOUR_MS = 3_600_000;
/** Growth samples are at least this far apart, so an hour fits in a small fixed buffer. */
const GROWTH_SPACING_MS = 10_000;
const GROWTH_CAPACITY = HOUR_MS / GROWTH_SPACING_MS + 1;
const MB = 1024 * 1024;

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Two event-loop delay histograms reset in turn, half a window apart: reading the older one gives
 * exact percentiles over the last half to full window, which slices of one histogram cannot
 * (Node cannot merge event-loop histograms).
 */
class LagWindow {
  private readonly histograms: [LagEntry, LagEntry] = [this.entry(), this.entry()];

  constructor(private readonly windowMs: number) {}

  private entry(): LagEntry {
    return { h: monitorEventLoopDelay({ resolution: RESOLUTION_MS }), since: 0 };
  }

  enable(now: number): void {
    for (const entry of this.histograms) {
      entry.h.reset();
      entry.h.enable();
      entry.since = now;
    }
  }

  disable(): void {
    for (const { h } of this.histograms) h.disable();
  }

  /**
   * Statistics of the older histogram. Once the younger one covers half a window, the older is
   * reset and becomes the younger; one reset per read keeps them apart after a stalled loop.
   */
  read(now: number): ResourceReport['eventLoopLagMs'] {
    const [a, b] = this.histograms;
    const [older, younger] = a.since <= b.since ? [a, b] : [b, a];
    const stats = lagStats(older.h);
    if (now - younger.since >= this.windowMs / 2) {
      older.h.reset();
      older.since = now;
    }
    return stats;
  }
}

/** Node records the whole interval between timer ticks; lag is what exceeds the resolution. */
function lagStats(h: IntervalHistogram): ResourceReport['eventLoopLagMs'] {
  if (h.count === 0) return { p50: 0, p99: 0, max: 0 };
  const lag = (ns: number) => round(Math.max(0, ns / 1e6 - RESOLUTION_MS));
  return { p50: lag(h.percentile(50)), p99: lag(h.percentile(99)), max: lag(h.max) };
}

function growthPerHour(samples: MemorySample[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanT = samples.reduce((s, x) => s + x.at, 0) / n;
  const meanR = samples.reduce((s, x) => s + x.rssMb, 0) / n;
  let cov = 0;
  let varT = 0;
  for (const { at, rssMb } of samples) {
    cov += (at - meanT) * (rssMb - meanR);
    varT += (at - meanT) ** 2;
  }
  return varT === 0 ? 0 : round((cov / varT) * HOUR_MS);
}

/**
 * Watches event-loop lag and memory so health can say the node is overloaded or leaking before
 * the kernel or the plant notices. Logs only on changes of status, not on every sample.
 */
export class ResourceWatchdog {
  private readonly sampleIntervalMs: number;
  private readonly readMemory: () => { rss: number; heapUsed: number };
  private readonly now: () => number;
  private readonly lag: LagWindow;
  private readonly growth: MemorySample[] = [];
  private timer?: NodeJS.Timeout;
  private last?: ResourceReport;

  constructor(
    private readonly options: WatchdogOptions,
    private readonly log: Logger = silentLogger,
  ) {
    this.sampleIntervalMs = options.sampleIntervalMs ?? 10_000;
    this.readMemory = options.readMemory ?? (() => process.memoryUsage());
    this.now = options.now ?? Date.now;
    this.lag = new LagWindow(options.windowMs ?? 60_000);
  }

  start(): void {
    if (this.timer) return;
    this.lag.enable(this.now());
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleIntervalMs);
    // Monitoring alone must never keep the process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.lag.disable();
  }

  /** The latest report; takes a first sample when none exists yet. */
  report(): ResourceReport {
    return this.last ?? this.sample();
  }

  /** Reads lag and memory, re-evaluates the status and logs a change. The timer calls it. */
  sample(): ResourceReport {
    const now = this.now();
    const memory = this.readMemory();
    const rssMb = round(memory.rss / MB);
    this.recordGrowth(now, rssMb);
    const eventLoopLagMs = this.lag.read(now);
    const reasons = this.reasons(eventLoopLagMs.p99, rssMb);
    const report: ResourceReport = {
      status: reasons.length ? 'degraded' : 'ok',
      reasons,
      eventLoopLagMs,
      rssMb,
      heapUsedMb: round(memory.heapUsed / MB),
      rssGrowthMbPerHour: growthPerHour(this.growth),
    };
    this.logChange(report);
    this.last = report;
    return report;
  }

  private recordGrowth(now: number, rssMb: number): void {
    const latest = this.growth.at(-1);
    if (latest && now - latest.at < GROWTH_SPACING_MS) return;
    this.growth.push({ at: now, rssMb });
    while (
      this.growth.length > GROWTH_CAPACITY ||
      (this.growth[0] && now - this.growth[0].at > HOUR_MS)
    ) {
      this.growth.shift();
    }
  }

  private reasons(lagP99: number, rssMb: number): string[] {
    const { maxEventLoopLagMs, maxRssMb } = this.options;
    const reasons: string[] = [];
    if (lagP99 > maxEventLoopLagMs) {
      reasons.push(
        `event-loop lag p99 ${Math.round(lagP99)} ms > ${maxEventLoopLagMs} ms: the node is overloaded; poll fewer tags or raise pollIntervalMs`,
      );
    }
    if (rssMb > maxRssMb) {
      reasons.push(
        `resident memory ${Math.round(rssMb)} MB > ${maxRssMb} MB: lower outbox.maxMemoryMessages or publish.maxInflight, poll fewer tags, or raise health.maxRssMb if the host has memory to spare`,
      );
    }
    return reasons;
  }

  private logChange(report: ResourceReport): void {
    const before = this.last?.status ?? 'ok';
    if (report.status === before) return;
    const { status, reasons, eventLoopLagMs, rssMb } = report;
    if (status === 'degraded') {
      this.log.warn(
        { reasons, eventLoopLagMs, rssMb },
        `resources degraded: ${reasons.join('; ')}`,
      );
    } else {
      this.log.info({ eventLoopLagMs, rssMb }, 'resources ok again');
    }
  }
}
