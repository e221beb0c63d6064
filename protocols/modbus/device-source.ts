import { Backoff, sleep } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { PlannedRead, Reading, SourceStatus, TagSource, TagValue } from '../types.js';
import { AREAS, formatAddress, type Area, type ModbusAddress } from './address.js';
import { CodecError, decodeValue, encodeValue, registerCount, type ValueFormat } from './codec.js';
import { ModbusRequestError, type ModbusClient, type ModbusLine } from './line.js';
import { ExceptionCode } from './pdu.js';
import { planReads, type ReadRequest } from './planner.js';

export interface ModbusTagSpec {
  id: string;
  address: ModbusAddress & { bit?: number };
  format: ValueFormat;
}

export interface ModbusDeviceOptions {
  name: string;
  unitId: number;
  /** Unused addresses a read may span to merge two requests. */
  maxGap: number;
  /** Device limits below the protocol's 125 registers / 2000 bits per read. */
  maxRegistersPerRead: number;
  maxBitsPerRead: number;
  /** Extra attempts of a request that timed out, within one poll. */
  retries: number;
  /** Consecutive polls with no answer at all before the device is marked failing. */
  failAfterPolls: number;
  /** While failing, the device is tried on this slower, capped and jittered schedule. */
  slowRetry: { initialMs: number; maxMs: number };
}

export const DEFAULT_DEVICE_OPTIONS: Omit<ModbusDeviceOptions, 'name' | 'unitId'> = {
  maxGap: 8,
  maxRegistersPerRead: 125,
  maxBitsPerRead: 2000,
  retries: 1,
  failAfterPolls: 3,
  slowRetry: { initialMs: 5_000, maxMs: 60_000 },
};

export interface ModbusDeviceStatus extends SourceStatus {
  exceptions: number;
  timeouts: number;
  /** Marked bad after repeated silence and polled on the slow schedule. */
  failing: boolean;
  /** Addresses the device refused with illegal-data-address, no longer merged into reads. */
  blockedAddresses: string[];
}

const key = (area: Area, address: number) => `${area}:${address}`;

/**
 * One Modbus device (unit id) on a line. Reads are planned into as few requests as the limits
 * allow; the plan adapts when the device refuses an address: the refused block is probed
 * tag by tag, the bad addresses are isolated and the rest merge again.
 */
export class ModbusDeviceSource implements TagSource {
  readonly status: ModbusDeviceStatus = {
    connected: false,
    requests: 0,
    errors: 0,
    exceptions: 0,
    timeouts: 0,
    failing: false,
    blockedAddresses: [],
  };
  private plan: ReadRequest<ModbusTagSpec>[] = [];
  private readonly tags: readonly ModbusTagSpec[];
  private readonly byId = new Map<string, ModbusTagSpec>();
  private readonly isolated = new Set<string>();
  private readonly blocked = new Set<string>();
  private readonly options: ModbusDeviceOptions;
  private readonly slow: Backoff;
  private silentPolls = 0;
  private retryAt = 0;

  constructor(
    options: Pick<ModbusDeviceOptions, 'name' | 'unitId'> & Partial<ModbusDeviceOptions>,
    tags: readonly ModbusTagSpec[],
    private readonly line: ModbusLine,
    private readonly log: Logger = silentLogger,
  ) {
    this.options = { ...DEFAULT_DEVICE_OPTIONS, ...options };
    this.tags = tags;
    for (const t of tags) this.byId.set(t.id, t);
    this.slow = new Backoff(this.options.slowRetry);
    this.replan();
  }

  get name(): string {
    return this.options.name;
  }

  /** Read requests per poll in the current plan. */
  get requestCount(): number {
    return this.plan.length;
  }

  /** The current plan: each read request's area, first address and length. */
  get planned(): (PlannedRead & { area: Area })[] {
    return this.plan.map((r) => ({
      area: r.area,
      start: r.start,
      count: r.count,
      tags: r.items.length,
    }));
  }

  async read(): Promise<Reading[]> {
    const started = Date.now();
    if (this.status.failing && started < this.retryAt)
      return this.allBad(this.status.lastError ?? 'device failing', started);
    // A snapshot: isolate() may re-plan while this poll runs.
    const plan = this.plan;
    const results: Reading[][] = new Array<Reading[]>(plan.length);
    let answered = false;
    let deadLine: string | undefined;
    let next = 0;
    // Up to the line's in-flight limit at once (1 on serial lines), in plan order.
    const worker = async (): Promise<void> => {
      while (next < plan.length) {
        const index = next++;
        const request = plan[index]!;
        if (deadLine !== undefined) {
          // A dead line fails every request the same way; do not wait out a timeout for each.
          results[index] = this.badFor(request, deadLine, Date.now());
          continue;
        }
        try {
          results[index] = await this.readRequest(request);
          answered = true;
        } catch (err) {
          const e = err as ModbusRequestError;
          if (!e.transport) answered = true;
          if (e.exceptionCode === ExceptionCode.IllegalDataAddress && request.items.length > 1) {
            results[index] = await this.isolate(request);
            continue;
          }
          if (e.exceptionCode === ExceptionCode.IllegalDataAddress) this.block(request);
          results[index] = this.badFor(request, e.reason, Date.now());
          if (e.transport && !this.line.connected) deadLine = e.reason;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.line.concurrency, plan.length) }, worker));
    const out = results.flat();
    this.afterPoll(answered, Date.now() - started);
    return out;
  }

  private afterPoll(answered: boolean, latencyMs: number): void {
    this.status.connected = this.line.connected && answered;
    if (answered) {
      this.status.latencyMs = latencyMs;
      this.silentPolls = 0;
      if (this.status.failing) this.log.info({ device: this.name }, 'device answers again');
      this.status.failing = false;
      this.slow.success();
      return;
    }
    this.silentPolls += 1;
    if (this.silentPolls >= this.options.failAfterPolls) {
      const delay = this.slow.nextDelay();
      this.retryAt = Date.now() + delay;
      if (!this.status.failing) {
        this.log.warn(
          {
            device: this.name,
            unitId: this.options.unitId,
            reason: this.status.lastError,
            retryInMs: delay,
          },
          'device not answering; marked bad and retried on a slower schedule',
        );
      }
      this.status.failing = true;
    }
  }

  /** One request with retries on timeout; resolves to good readings or throws ModbusRequestError. */
  private async readRequest(request: ReadRequest<ModbusTagSpec>): Promise<Reading[]> {
    const { area, start, count } = request;
    let retry: Backoff | undefined;
    for (let attempt = 0; ; attempt++) {
      this.status.requests += 1;
      try {
        const data = await this.line.request(this.options.unitId, (c) =>
          readArea(c, area, start, count),
        );
        return this.decode(request, data, Date.now());
      } catch (err) {
        const e = err as ModbusRequestError;
        this.status.errors += 1;
        this.status.lastError = e.reason;
        if (e.exceptionCode !== undefined) this.status.exceptions += 1;
        if (e.reason === 'timeout') this.status.timeouts += 1;
        if (!(e.transport && this.line.connected && attempt < this.options.retries)) throw e;
        retry ??= new Backoff({ initialMs: 50, maxMs: 1000 });
        await sleep(retry.nextDelay());
      }
    }
  }

  private decode(
    request: ReadRequest<ModbusTagSpec>,
    data: ArrayLike<number | boolean>,
    ts: number,
  ): Reading[] {
    const bits = AREAS[request.area].bits;
    return request.items.map((item): Reading => {
      const id = item.key.id;
      if (bits) return { id, value: data[item.index] === true, quality: 'good', ts };
      try {
        const value = decodeValue(data as ArrayLike<number>, item.index, item.key.format);
        if (typeof value === 'number' && !Number.isFinite(value)) {
          return { id, value: null, quality: 'bad', reason: `decode error: ${value}`, ts };
        }
        return { id, value, quality: 'good', ts };
      } catch (err) {
        return {
          id,
          value: null,
          quality: 'bad',
          reason: `decode error: ${errorMessage(err)}`,
          ts,
        };
      }
    });
  }

  /**
   * The device refused a merged block. Probe each tag alone: refused ones are bad addresses and
   * stay isolated; when none is, the unused addresses the block bridged were the problem.
   */
  private async isolate(request: ReadRequest<ModbusTagSpec>): Promise<Reading[]> {
    const out: Reading[] = [];
    let foundBad = false;
    for (const item of request.items) {
      const single = planReads([
        { key: item.key, area: request.area, offset: item.key.address.offset, count: item.count },
      ])[0]!;
      try {
        out.push(...(await this.readRequest(single)));
      } catch (err) {
        const e = err as ModbusRequestError;
        if (e.exceptionCode === ExceptionCode.IllegalDataAddress) {
          foundBad = true;
          this.isolated.add(item.key.id);
          this.block(single);
        }
        out.push(...this.badFor(single, e.reason, Date.now()));
      }
    }
    if (!foundBad) {
      const used = new Set(request.items.flatMap((i) => range(request.start + i.index, i.count)));
      for (const a of range(request.start, request.count))
        if (!used.has(a)) this.blocked.add(key(request.area, a));
    }
    this.status.blockedAddresses = [...this.blocked];
    this.replan();
    this.log.warn(
      {
        device: this.name,
        block: `${request.area}:${request.start}+${request.count}`,
        blocked: this.status.blockedAddresses,
        requests: this.plan.length,
      },
      'device refused a block with illegal data address; isolated the bad addresses and re-planned',
    );
    return out;
  }

  private block(request: ReadRequest<ModbusTagSpec>): void {
    for (const a of range(request.start, request.count)) this.blocked.add(key(request.area, a));
    this.status.blockedAddresses = [...this.blocked];
  }

  private replan(): void {
    this.plan = planReads(
      this.tags.map((t) => ({
        key: t,
        area: t.address.area,
        offset: t.address.offset,
        count: AREAS[t.address.area].bits ? 1 : registerCount(t.format),
      })),
      {
        maxGap: this.options.maxGap,
        maxPerRead: {
          hr: this.options.maxRegistersPerRead,
          ir: this.options.maxRegistersPerRead,
          coil: this.options.maxBitsPerRead,
          di: this.options.maxBitsPerRead,
        },
        isolated: (t) => this.isolated.has(t.id),
        blocked: (area, address) => this.blocked.has(key(area, address)),
      },
    );
  }

  async write(id: string, value: TagValue): Promise<void> {
    const tag = this.byId.get(id);
    if (!tag) throw new Error(`device ${this.name} has no tag ${id}`);
    const { area, offset } = tag.address;
    const where = `${formatAddress(tag.address)} on ${this.name}`;
    if (!AREAS[area].writable)
      throw new Error(
        `${formatAddress(tag.address)} is a ${AREAS[area].label}, which Modbus cannot write`,
      );
    let words: number[] | undefined;
    if (area === 'coil') {
      if (typeof value !== 'boolean')
        throw new CodecError(`${JSON.stringify(value)} is not true or false; ${where} is a coil`);
    } else {
      words = encodeValue(value, tag.format);
    }
    try {
      await this.line.request(this.options.unitId, async (c) => {
        if (!words) await c.writeCoil(offset, value as boolean);
        else if (words.length === 1) await c.writeRegister(offset, words[0]!);
        else await c.writeRegisters(offset, words);
      });
    } catch (err) {
      throw new Error(`write to ${where} failed: ${(err as ModbusRequestError).reason}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    // The line belongs to whoever created it; it may serve other devices.
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
    return this.tags.map((t) => ({ id: t.id, value: null, quality: 'bad', reason, ts }));
  }
}

function range(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}

async function readArea(
  c: ModbusClient,
  area: Area,
  start: number,
  count: number,
): Promise<ArrayLike<number | boolean>> {
  switch (area) {
    case 'coil':
      return (await c.readCoils(start, count)).data;
    case 'di':
      return (await c.readDiscreteInputs(start, count)).data;
    case 'hr':
      return (await c.readHoldingRegisters(start, count)).data;
    case 'ir':
      return (await c.readInputRegisters(start, count)).data;
  }
}
