import modbusSerial from 'modbus-serial';
import type { ModbusRTU as ModbusClient } from 'modbus-serial/ModbusRTU.js';
import { Backoff } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { Reading, SourceStatus, TagSource, TagValue } from '../types.js';
import { AREAS, formatAddress, type ModbusAddress } from './address.js';
import {
  CodecError,
  decodeRegisters,
  encodeRegisters,
  REGISTER_COUNT,
  type DataType,
  type WordOrder,
} from './codec.js';
import { EXCEPTION_NAMES } from './pdu.js';
import { planReads, type ReadRequest } from './planner.js';

export interface ModbusTagSpec {
  id: string;
  address: ModbusAddress;
  type: DataType;
  wordOrder: WordOrder;
}

export interface ModbusTcpOptions {
  name: string;
  host: string;
  port: number;
  unitId: number;
  /** Per-request response timeout, ms. */
  timeoutMs: number;
  /** Unused addresses a read may span to merge requests; see planReads. */
  maxGap: number;
  /** Reconnect delays after the device stops answering. */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number };
}

// modbus-serial's typings declare an ES default export, but the module is CommonJS `module.exports = ModbusRTU`.
const ModbusRTU = modbusSerial as unknown as new () => ModbusClient;

function describeError(err: unknown): { reason: string; transport: boolean } {
  const code = (err as { modbusCode?: number }).modbusCode;
  if (typeof code === 'number') {
    return {
      reason: `exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown'})`,
      transport: false,
    };
  }
  const message = errorMessage(err);
  if (/timed out/i.test(message)) return { reason: 'timeout', transport: true };
  return { reason: `disconnected: ${message}`, transport: true };
}

/**
 * Polls one Modbus TCP device. Reads are planned once at construction into as few requests as
 * the protocol allows. A transport failure closes the socket and marks every tag bad; the next
 * reconnect waits on a capped, jittered backoff, so a dead device costs nothing per poll.
 */
export class ModbusTcpSource implements TagSource {
  readonly status: SourceStatus = { connected: false, requests: 0, errors: 0 };
  private readonly plan: ReadRequest<ModbusTagSpec>[];
  private readonly byId = new Map<string, ModbusTagSpec>();
  private readonly backoff: Backoff;
  private client: ModbusClient | undefined;
  private nextConnectAt = 0;

  constructor(
    private readonly options: ModbusTcpOptions,
    tags: readonly ModbusTagSpec[],
    private readonly log: Logger = silentLogger,
  ) {
    for (const t of tags) this.byId.set(t.id, t);
    this.plan = planReads(
      tags.map((t) => ({
        key: t,
        area: t.address.area,
        offset: t.address.offset,
        count: AREAS[t.address.area].bits ? 1 : REGISTER_COUNT[t.type],
      })),
      { maxGap: options.maxGap },
    );
    this.backoff = new Backoff({ initialMs: 500, maxMs: 10_000, ...options.backoff });
  }

  get name(): string {
    return this.options.name;
  }

  get requestCount(): number {
    return this.plan.length;
  }

  async read(): Promise<Reading[]> {
    const started = Date.now();
    const client = await this.connection();
    if (!client) return this.allBad(this.status.lastError ?? 'disconnected', started);
    const out: Reading[] = [];
    for (let i = 0; i < this.plan.length; i++) {
      const request = this.plan[i]!;
      try {
        this.status.requests += 1;
        out.push(...(await this.readRequest(client, request)));
      } catch (err) {
        this.status.errors += 1;
        const { reason, transport } = describeError(err);
        this.status.lastError = reason;
        const ts = Date.now();
        if (transport) {
          this.log.warn(
            { device: this.name, err: errorMessage(err) },
            'device read failed; will reconnect',
          );
          this.drop();
          for (const r of this.plan.slice(i)) out.push(...this.badFor(r, reason, ts));
          return out;
        }
        this.log.warn(
          {
            device: this.name,
            request: `${request.area}:${request.start}+${request.count}`,
            reason,
          },
          'device refused a read',
        );
        out.push(...this.badFor(request, reason, ts));
      }
    }
    this.status.latencyMs = Date.now() - started;
    if (out.every((r) => r.quality === 'good')) delete this.status.lastError;
    return out;
  }

  private async readRequest(
    client: ModbusClient,
    request: ReadRequest<ModbusTagSpec>,
  ): Promise<Reading[]> {
    const { area, start, count } = request;
    const ts = (): number => Date.now();
    if (AREAS[area].bits) {
      const res =
        area === 'coil'
          ? await client.readCoils(start, count)
          : await client.readDiscreteInputs(start, count);
      const t = ts();
      return request.items.map((item) => ({
        id: item.key.id,
        value: res.data[item.index] === true,
        quality: 'good',
        ts: t,
      }));
    }
    const res =
      area === 'hr'
        ? await client.readHoldingRegisters(start, count)
        : await client.readInputRegisters(start, count);
    const t = ts();
    return request.items.map((item): Reading => {
      try {
        const value = decodeRegisters(res.data, item.index, item.key.type, item.key.wordOrder);
        if (typeof value === 'number' && !Number.isFinite(value)) {
          return {
            id: item.key.id,
            value: null,
            quality: 'bad',
            reason: `decode error: ${value} is not finite`,
            ts: t,
          };
        }
        return { id: item.key.id, value, quality: 'good', ts: t };
      } catch (err) {
        return {
          id: item.key.id,
          value: null,
          quality: 'bad',
          reason: `decode error: ${errorMessage(err)}`,
          ts: t,
        };
      }
    });
  }

  async write(id: string, value: TagValue): Promise<void> {
    const tag = this.byId.get(id);
    if (!tag) throw new Error(`device ${this.name} has no tag ${id}`);
    const { area, offset } = tag.address;
    if (!AREAS[area].writable)
      throw new Error(
        `${formatAddress(tag.address)} is a ${AREAS[area].label}, which Modbus cannot write`,
      );
    const client = await this.connection(true);
    if (!client)
      throw new Error(
        `device ${this.name} is not reachable: ${this.status.lastError ?? 'disconnected'}`,
      );
    try {
      if (area === 'coil') {
        await client.writeCoil(offset, Boolean(value));
      } else {
        const words = encodeRegisters(value, tag.type, tag.wordOrder);
        if (words.length === 1) await client.writeRegister(offset, words[0]!);
        else await client.writeRegisters(offset, words);
      }
    } catch (err) {
      if (err instanceof CodecError) throw err;
      const { reason, transport } = describeError(err);
      if (transport) this.drop();
      throw new Error(`write to ${formatAddress(tag.address)} on ${this.name} failed: ${reason}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    this.drop();
  }

  private async connection(ignoreBackoff = false): Promise<ModbusClient | undefined> {
    if (this.client?.isOpen) return this.client;
    if (this.client) {
      this.status.lastError = 'disconnected: the device closed the connection';
      this.drop();
    }
    if (!ignoreBackoff && Date.now() < this.nextConnectAt) return undefined;
    const client = new ModbusRTU();
    try {
      await withTimeout(
        client.connectTCP(this.options.host, { port: this.options.port }),
        this.options.timeoutMs,
        `connect to ${this.options.host}:${this.options.port} timed out after ${this.options.timeoutMs} ms`,
      );
      client.setID(this.options.unitId);
      client.setTimeout(this.options.timeoutMs);
      this.client = client;
      this.status.connected = true;
      this.backoff.success();
      this.log.info(
        { device: this.name, host: this.options.host, port: this.options.port },
        'device connected',
      );
      return client;
    } catch (err) {
      closeQuietly(client);
      const delay = this.backoff.nextDelay();
      this.nextConnectAt = Date.now() + delay;
      this.status.errors += 1;
      this.status.lastError = `disconnected: ${errorMessage(err)}`;
      if (this.backoff.failures === 1 || this.backoff.failures % 20 === 0) {
        this.log.warn(
          {
            device: this.name,
            err: errorMessage(err),
            retryInMs: delay,
            failures: this.backoff.failures,
          },
          'cannot connect to device; check it is powered and reachable, and host/port in the config',
        );
      }
      return undefined;
    }
  }

  private drop(): void {
    if (this.client) closeQuietly(this.client);
    this.client = undefined;
    if (this.status.connected) this.nextConnectAt = Date.now() + this.backoff.nextDelay();
    this.status.connected = false;
  }

  private badFor(request: ReadRequest<ModbusTagSpec>, reason: string, ts: number): Reading[] {
    return request.items.map((item) => ({
      id: item.key.id,
      value: null,
      quality: 'bad',
      reason,
      ts,
    }));
  }

  private allBad(reason: string, ts: number): Reading[] {
    return this.plan.flatMap((r) => this.badFor(r, reason, ts));
  }
}

function closeQuietly(client: ModbusClient): void {
  try {
    client.destroy(() => undefined);
  } catch {
    // A socket that never opened has nothing to release.
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
