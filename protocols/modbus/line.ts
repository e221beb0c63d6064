import modbusSerial from 'modbus-serial';
import type { ModbusRTU as ModbusClient } from 'modbus-serial/ModbusRTU.js';
import { Backoff, sleep } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { EXCEPTION_NAMES } from './pdu.js';
import { describeTransport, type LineTransport } from './transport.js';

// modbus-serial's typings declare an ES default export, but the module is CommonJS `module.exports = ModbusRTU`.
const ModbusRTU = modbusSerial as unknown as new () => ModbusClient;

export type { ModbusClient };

/** Consecutive timeouts, with no answer in between from any unit, after which the connection is renewed. */
const STALL_TIMEOUTS = 3;

export interface LineOptions {
  transport: LineTransport;
  /** Response timeout per request, ms. */
  timeoutMs: number;
  /** Requests in flight at once. Always 1 on a serial line (RTU has no transaction ids). */
  maxInflight: number;
  /** Pause after each response before the next request, for slow devices, ms. */
  interRequestDelayMs: number;
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number };
}

/** Why a request failed, and whether the connection itself is suspect. */
export class ModbusRequestError extends Error {
  override name = 'ModbusRequestError';
  constructor(
    message: string,
    /** Modbus exception code when the device answered with one. */
    readonly exceptionCode: number | undefined,
    /** Timeout or broken connection (as opposed to an answer the device gave). */
    readonly transport: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get reason(): string {
    return this.message;
  }
}

export function classify(err: unknown): ModbusRequestError {
  if (err instanceof ModbusRequestError) return err;
  const code = (err as { modbusCode?: number }).modbusCode;
  if (typeof code === 'number') {
    return new ModbusRequestError(
      `exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown'})`,
      code,
      false,
      { cause: err },
    );
  }
  const message = errorMessage(err);
  if (/timed out/i.test(message))
    return new ModbusRequestError('timeout', undefined, true, { cause: err });
  return new ModbusRequestError(`disconnected: ${message}`, undefined, true, { cause: err });
}

/**
 * One connection to a Modbus network: a TCP socket, a serial port, or RTU frames over TCP.
 * Several devices (unit ids) share a line; the line serialises their requests (or allows
 * `maxInflight` at once on TCP), reconnects on a capped, jittered backoff, and never lets one
 * device's requests starve another's: waiting requests are served first come, first served.
 */
export class ModbusLine {
  readonly key: string;
  connected = false;
  reconnects = 0;
  lastError?: string;
  private client?: ModbusClient;
  private connecting?: Promise<ModbusClient | undefined>;
  private nextConnectAt = 0;
  private inflight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly backoff: Backoff;
  private readonly maxInflight: number;
  private closed = false;
  private timeoutsInRow = 0;

  constructor(
    private readonly options: LineOptions,
    private readonly log: Logger = silentLogger,
  ) {
    this.key = describeTransport(options.transport);
    this.maxInflight = options.transport.kind === 'tcp' ? Math.max(1, options.maxInflight) : 1;
    this.backoff = new Backoff({ initialMs: 500, maxMs: 10_000, ...options.backoff });
  }

  /** Requests this line runs at once. */
  get concurrency(): number {
    return this.maxInflight;
  }

  /**
   * Runs one request for `unitId`. Throws ModbusRequestError: with an exception code when the
   * device refused it, `transport` when it timed out or the line is down (the line then
   * reconnects on its own schedule; this call does not wait for that).
   */
  async request<T>(unitId: number, run: (client: ModbusClient) => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      const client = await this.connection();
      if (!client) throw new ModbusRequestError(this.lastError ?? 'disconnected', undefined, true);
      client.setID(unitId);
      try {
        // Our own guard as well as modbus-serial's: a transaction it forgets (its destroy() clears
        // timers without settling promises) must not hold the line forever.
        const result = await withTimeout(
          run(client),
          this.options.timeoutMs * 2 + 100,
          'Timed out',
        );
        this.timeoutsInRow = 0;
        return result;
      } catch (err) {
        const e = classify(err);
        if (e.reason === 'timeout') this.timeoutsInRow += 1;
        if (e.transport && !client.isOpen) this.drop(e.message);
        else if (this.timeoutsInRow >= STALL_TIMEOUTS) {
          // Nothing on the line has answered for a while: after garbage a TCP stream can be out of
          // step for good (a bogus length field), so start a fresh connection.
          this.timeoutsInRow = 0;
          this.drop(`${STALL_TIMEOUTS} timeouts in a row`);
        }
        throw e;
      }
    } finally {
      if (this.options.interRequestDelayMs > 0) await sleep(this.options.interRequestDelayMs);
      this.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop('closed');
  }

  private acquire(): Promise<void> {
    if (this.inflight < this.maxInflight) {
      this.inflight += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inflight -= 1;
  }

  private async connection(): Promise<ModbusClient | undefined> {
    if (this.client?.isOpen) return this.client;
    if (this.client) this.drop('the device closed the connection');
    if (this.closed || Date.now() < this.nextConnectAt) return undefined;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<ModbusClient | undefined> {
    const client = new ModbusRTU();
    const t = this.options.transport;
    try {
      const opening =
        t.kind === 'tcp'
          ? client.connectTCP(t.host, { port: t.port })
          : t.kind === 'rtu-over-tcp'
            ? // modbus-serial's "Telnet" port is raw RTU frames over TCP (its TcpRTUBuffered speaks MBAP).
              client.connectTelnet(t.host, { port: t.port })
            : client.connectRTUBuffered(t.path, {
                baudRate: t.baudRate,
                parity: t.parity,
                dataBits: t.dataBits,
                stopBits: t.stopBits,
              });
      await withTimeout(
        opening,
        this.options.timeoutMs,
        `opening ${this.key} timed out after ${this.options.timeoutMs} ms`,
      );
      client.setTimeout(this.options.timeoutMs);
      this.client = client;
      if (this.backoff.failures > 0 || this.reconnects > 0) this.reconnects += 1;
      this.connected = true;
      delete this.lastError;
      this.backoff.success();
      this.log.info({ line: this.key }, 'Modbus line connected');
      return client;
    } catch (err) {
      closeQuietly(client);
      const delay = this.backoff.nextDelay();
      this.nextConnectAt = Date.now() + delay;
      this.lastError = `disconnected: ${errorMessage(err)}`;
      if (this.backoff.failures === 1 || this.backoff.failures % 20 === 0) {
        this.log.warn(
          {
            line: this.key,
            err: errorMessage(err),
            retryInMs: delay,
            failures: this.backoff.failures,
          },
          'cannot open Modbus line; check the device is powered and reachable, and host/port or serial path in the config',
        );
      }
      return undefined;
    }
  }

  /** Forgets the connection; the next request reconnects after the backoff delay. */
  drop(reason: string): void {
    if (this.client) closeQuietly(this.client);
    this.client = undefined;
    // Our own close() at shutdown is not a lost line: no warning, no reconnect.
    if (this.closed) {
      if (this.connected) this.log.debug({ line: this.key }, 'Modbus line closed');
    } else if (this.connected) {
      this.nextConnectAt = Date.now() + this.backoff.nextDelay();
      this.lastError = `disconnected: ${reason}`;
      this.log.warn({ line: this.key, reason }, 'Modbus line lost; reconnecting with backoff');
    }
    this.connected = false;
  }
}

function closeQuietly(client: ModbusClient): void {
  try {
    client.destroy(() => undefined);
    // modbus-serial's serial ports have no destroy(); only close() releases them.
    if (client.isOpen) client.close(() => undefined);
  } catch {
    // A port that never opened has nothing to release.
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
