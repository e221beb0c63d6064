import type { Logger } from '../../core/logger.js';
import { ModbusTcpServer } from '../modbus-tcp-server.js';
import { Micro820Model, type Snapshot } from './model.js';

export interface Micro820SimulatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  unitId: number;
  /** Simulation step, ms of wall time. Default 50. */
  tickMs: number;
  seed: number;
  /** How much served history to keep, ms, for tests that compare what was served with what arrived. */
  historyMs: number;
  /** Inject this error code after `faultAfterMs`. */
  fault?: { code: number; afterMs: number };
}

export const DEFAULT_MICRO820_OPTIONS: Micro820SimulatorOptions = {
  host: '127.0.0.1',
  port: 502,
  unitId: 1,
  tickMs: 50,
  seed: 820,
  historyMs: 0,
};

export interface TimedSnapshot extends Snapshot {
  at: number;
}

/** The Micro 820 model on a clock, served over Modbus TCP. */
export class Micro820Simulator {
  readonly model: Micro820Model;
  readonly options: Micro820SimulatorOptions;
  private readonly server: ModbusTcpServer;
  private timer?: NodeJS.Timeout;
  private faultTimer?: NodeJS.Timeout;
  private readonly history: TimedSnapshot[] = [];
  port = 0;

  constructor(options: Partial<Micro820SimulatorOptions>, log?: Logger) {
    this.options = { ...DEFAULT_MICRO820_OPTIONS, ...options };
    this.model = new Micro820Model(this.options.seed);
    this.server = new ModbusTcpServer(
      {
        host: this.options.host,
        port: this.options.port,
        devices: new Map([[this.options.unitId, this.model]]),
      },
      log,
    );
  }

  get stats() {
    return this.server.stats;
  }

  async start(): Promise<number> {
    this.port = await this.server.listen();
    let last = Date.now();
    this.record(last);
    this.timer = setInterval(() => {
      const now = Date.now();
      this.model.step(now - last);
      last = now;
      this.record(now);
    }, this.options.tickMs);
    const fault = this.options.fault;
    if (fault)
      this.faultTimer = setTimeout(() => this.model.injectFault(fault.code), fault.afterMs);
    return this.port;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.faultTimer);
    await this.server.close();
  }

  /** Snapshots the simulator held between `from` and `to` (inclusive), plus the one in force at `from`. */
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

  private record(at: number): void {
    if (this.options.historyMs <= 0) return;
    this.history.push({ at, ...this.model.snapshot() });
    while (this.history.length > 0 && this.history[0]!.at < at - this.options.historyMs)
      this.history.shift();
  }
}
