import type { Logger } from '../../core/logger.js';
import { SimulatorRuntime, type SimulatorOptions } from '../runtime.js';
import { Micro820Model, type Snapshot } from './model.js';

export interface Micro820SimulatorOptions extends SimulatorOptions {
  /** Unit ids served; each is its own Micro 820. Default [1]. */
  unitIds: number[];
  seed: number;
  /** How much served history to keep, ms, for tests that compare what was served with what arrived. */
  historyMs: number;
  /** Inject this error code into every unit after `afterMs`. */
  fault?: { code: number; afterMs: number };
}

export interface TimedSnapshot extends Snapshot {
  at: number;
}

/** The plant's Micro 820 (one per unit id) on a clock, served over Modbus TCP, RTU over TCP or serial RTU. */
export class Micro820Simulator extends SimulatorRuntime<Micro820Model> {
  private readonly history: TimedSnapshot[] = [];
  private readonly historyMs: number;
  private faultTimer?: NodeJS.Timeout;
  private readonly fault?: { code: number; afterMs: number };

  constructor(options: Partial<Micro820SimulatorOptions & { unitId: number }>, log?: Logger) {
    const unitIds = options.unitIds ?? [options.unitId ?? 1];
    const seed = options.seed ?? 820;
    super(new Map(unitIds.map((u, i) => [u, new Micro820Model(seed + i)])), options, log);
    this.historyMs = options.historyMs ?? 0;
    this.fault = options.fault;
  }

  /** The first unit's machine. */
  get model(): Micro820Model {
    return this.devices.values().next().value!;
  }

  override async start(): Promise<number> {
    const port = await super.start();
    const fault = this.fault;
    if (fault)
      this.faultTimer = setTimeout(
        () => this.devices.forEach((d) => d.injectFault(fault.code)),
        fault.afterMs,
      );
    return port;
  }

  override async stop(): Promise<void> {
    clearTimeout(this.faultTimer);
    await super.stop();
  }

  /** Snapshots of the first unit between `from` and `to` (inclusive), plus the one in force at `from`. */
  servedBetween(from: number, to: number): TimedSnapshot[] {
    const out: TimedSnapshot[] = [];
    for (let i = this.history.length - 1; i >= 0; i--) {
      const s = this.history[i]!;
      if (s.at > to) continue;
      out.push(s);
      if (s.at <= from) break;
    }
    return out;
  }

  protected override onTick(now: number): void {
    if (this.historyMs <= 0) return;
    this.history.push({ at: now, ...this.model.snapshot() });
    while (this.history.length > 0 && this.history[0]!.at < now - this.historyMs)
      this.history.shift();
  }
}
