import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { SerialSettings } from '../protocols/modbus/transport.js';
import { FaultInjector } from './faults.js';
import { ModbusResponder, ModbusServer, serveStream, type ModbusDevice } from './modbus-server.js';

/** A simulated device whose state moves with time. */
export interface SteppingDevice extends ModbusDevice {
  step(dtMs: number): void;
}

export interface SimulatorOptions {
  host: string;
  /** TCP port; 0 picks a free one; null serves no TCP (serial only). */
  port: number | null;
  /** Framing on the TCP port: Modbus TCP, or RTU frames over TCP. */
  framing: 'tcp' | 'rtu';
  /** Also serve RTU on this serial device (a socat pty works). */
  serial?: SerialSettings;
  /** Simulation step, ms of wall time. */
  tickMs: number;
  faultSeed: number;
}

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorOptions = {
  host: '127.0.0.1',
  port: 502,
  framing: 'tcp',
  tickMs: 50,
  faultSeed: 1,
};

/** Devices on a clock, served over TCP and/or a serial line, with fault injection. */
export class SimulatorRuntime<D extends SteppingDevice = SteppingDevice> {
  readonly options: SimulatorOptions;
  readonly responder: ModbusResponder;
  readonly faults: FaultInjector;
  port = 0;
  private server?: ModbusServer;
  private serialClose?: () => Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly devices: Map<number, D>,
    options: Partial<SimulatorOptions>,
    protected readonly log: Logger = silentLogger,
  ) {
    this.options = { ...DEFAULT_SIMULATOR_OPTIONS, ...options };
    this.faults = new FaultInjector(this.options.faultSeed);
    this.responder = new ModbusResponder(devices, this.faults, log);
  }

  get stats() {
    return this.responder.stats;
  }

  async start(): Promise<number> {
    if (this.options.port !== null) {
      this.server = new ModbusServer(
        { host: this.options.host, port: this.options.port, framing: this.options.framing },
        this.responder,
        this.log,
      );
      this.port = await this.server.listen();
    }
    if (this.options.serial) await this.openSerial(this.options.serial);
    let last = Date.now();
    this.onTick(last);
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const d of this.devices.values()) d.step(now - last);
      last = now;
      this.onTick(now);
    }, this.options.tickMs);
    return this.port;
  }

  /** Hook for subclasses that record what they served. */
  protected onTick(_now: number): void {}

  /** Closes every TCP client connection, as a PLC reboot would. */
  dropConnections(): number {
    return this.server?.dropConnections() ?? 0;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.server?.close();
    await this.serialClose?.();
  }

  private async openSerial(settings: SerialSettings): Promise<void> {
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({
      path: settings.path,
      baudRate: settings.baudRate,
      parity: settings.parity,
      dataBits: settings.dataBits,
      stopBits: settings.stopBits,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) =>
      port.open((err) =>
        err ? reject(new Error(`cannot open ${settings.path}: ${err.message}`)) : resolve(),
      ),
    );
    serveStream(port, 'rtu', this.responder, this.log);
    this.log.info(
      { path: settings.path, baudRate: settings.baudRate },
      'Modbus RTU serving on serial line',
    );
    this.serialClose = () =>
      new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  }
}
