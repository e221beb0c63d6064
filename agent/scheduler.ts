import { sleep } from '../core/backoff.js';
import { errorMessage } from '../core/errors.js';
import { LatencyHistogram } from '../core/histogram.js';
import type { Logger } from '../core/logger.js';
import type { SampleFrame } from '../protocols/sample-frame.js';
import type { DeviceRuntime } from './device-runtime.js';

/** Handles one device's samples of one cycle; returns how many it read. */
export type CycleHandler = (device: DeviceRuntime, frame: SampleFrame, tookMs: number) => number;

export interface PollWindow {
  cycles: number;
  samplesRead: number;
  missedCycles: number;
  pollLatencyMs: ReturnType<LatencyHistogram['summary']>;
}

/**
 * Polls every device on its own schedule, one loop per device, so one failing device never
 * delays another. A cycle longer than the interval skips the missed slots (counted) rather than
 * polling back to back.
 */
export class PollScheduler {
  /** Duration of one device's read cycle, ms, over all devices since start. */
  readonly latency = new LatencyHistogram();
  private window = emptyWindow();
  private polling = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly onCycle: CycleHandler,
    private readonly log: Logger,
  ) {}

  start(devices: readonly DeviceRuntime[]): void {
    this.polling = new AbortController();
    const signal = this.polling.signal;
    this.loops = devices.map((d) =>
      this.loop(d, signal).catch((err) =>
        this.log.error({ device: d.config.name, err: errorMessage(err) }, 'poll loop stopped'),
      ),
    );
  }

  /** Stops the loops after their current cycle. */
  async stop(): Promise<void> {
    this.polling.abort();
    await Promise.all(this.loops);
  }

  /** Figures since the previous call, then starts a new window. */
  takeWindow(): PollWindow {
    const w = this.window;
    this.window = emptyWindow();
    return {
      cycles: w.cycles,
      samplesRead: w.samplesRead,
      missedCycles: w.missedCycles,
      pollLatencyMs: w.latency.summary(),
    };
  }

  private async loop(device: DeviceRuntime, signal: AbortSignal): Promise<void> {
    const interval = device.config.pollIntervalMs;
    let due = Date.now();
    while (!signal.aborted) {
      const started = performance.now();
      const frame = await device.source.read();
      const took = performance.now() - started;
      this.latency.record(took);
      this.window.latency.record(took);
      this.window.cycles += 1;
      device.cycles += 1;
      this.window.samplesRead += this.onCycle(device, frame, took);
      due += interval;
      const now = Date.now();
      if (due < now) {
        const missed = Math.ceil((now - due) / interval);
        device.missedCycles += missed;
        this.window.missedCycles += missed;
        due += missed * interval;
      }
      await sleep(due - now, signal);
    }
  }
}

function emptyWindow() {
  return { latency: new LatencyHistogram(), samplesRead: 0, missedCycles: 0, cycles: 0 };
}
