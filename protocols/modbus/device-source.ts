import { Backoff, sleep } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { BAD, GOOD, SampleFrame } from '../sample-frame.js';
import type { PlannedRead, SourceStatus, TagSource, TagValue } from '../types.js';
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

/** A poll's read requests (items keyed by tag index) and the frame slot of each one's first item. */
interface Plan {
  requests: ReadRequest<number>[];
  first: number[];
  samples: number;
}

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
  readonly tagIds: readonly string[];
  private plan: Plan = { requests: [], first: [], samples: 0 };
  private readonly tags: readonly ModbusTagSpec[];
  private readonly frame: SampleFrame;
  /** Tag indices read on their own since the device refused them in a merged block. */
  private readonly isolated = new Set<number>();
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
    this.tagIds = tags.map((t) => t.id);
    this.frame = new SampleFrame(this.tagIds);
    this.slow = new Backoff(this.options.slowRetry);
    this.replan();
  }

  get name(): string {
    return this.options.name;
  }

  /** Read requests per poll in the current plan. */
  get requestCount(): number {
    return this.plan.requests.length;
  }

  /** The current plan: each read request's area, first address and length. */
  get planned(): (PlannedRead & { area: Area })[] {
    return this.plan.requests.map((r) => ({
      area: r.area,
      start: r.start,
      count: r.count,
      tags: r.items.length,
    }));
  }

  async read(): Promise<SampleFrame> {
    const started = Date.now();
    if (this.status.failing && started < this.retryAt) {
      this.allBad(this.status.lastError ?? 'device failing', started);
      return this.frame;
    }
    // A snapshot: isolate() may re-plan while this poll runs.
    const { requests, first, samples } = this.plan;
    // Samples land in plan order whatever order the answers come in.
    this.frame.reset(samples);
    let answered = false;
    let deadLine: string | undefined;
    let next = 0;
    // Up to the line's in-flight limit at once (1 on serial lines), in plan order.
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const index = next++;
        const request = requests[index]!;
        const slot = first[index]!;
        if (deadLine !== undefined) {
          // A dead line fails every request the same way; do not wait out a timeout for each.
          this.badFor(request, slot, deadLine, Date.now());
          continue;
        }
        try {
          await this.readRequest(request, slot);
          answered = true;
        } catch (err) {
          const e = err as ModbusRequestError;
          if (!e.transport) answered = true;
          if (e.exceptionCode === ExceptionCode.IllegalDataAddress && request.items.length > 1) {
            await this.isolate(request, slot);
            continue;
          }
          if (e.exceptionCode === ExceptionCode.IllegalDataAddress) this.block(request);
          this.badFor(request, slot, e.reason, Date.now());
          if (e.transport && !this.line.connected) deadLine = e.reason;
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.line.concurrency, requests.length) }, worker),
    );
    this.afterPoll(answered, Date.now() - started);
    return this.frame;
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

  /**
   * One request with retries on timeout; its samples go to the frame from `slot` on. Throws
   * ModbusRequestError when it gets no data.
   */
  private async readRequest(request: ReadRequest<number>, slot: number): Promise<void> {
    const { area, start, count } = request;
    let retry: Backoff | undefined;
    for (let attempt = 0; ; attempt++) {
      this.status.requests += 1;
      try {
        const data = await this.line.request(this.options.unitId, (c) =>
          readArea(c, area, start, count),
        );
        this.decode(request, data, Date.now(), slot);
        return;
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
    request: ReadRequest<number>,
    data: ArrayLike<number | boolean>,
    ts: number,
    slot: number,
  ): void {
    const bits = AREAS[request.area].bits;
    const { items } = request;
    const frame = this.frame;
    for (let k = 0; k < items.length; k++) {
      const { key: tag, index } = items[k]!;
      if (bits) {
        frame.put(slot + k, tag, data[index] === true, GOOD, undefined, ts);
        continue;
      }
      try {
        const value = decodeValue(data as ArrayLike<number>, index, this.tags[tag]!.format);
        if (typeof value === 'number' && !Number.isFinite(value))
          frame.put(slot + k, tag, null, BAD, `decode error: ${value}`, ts);
        else frame.put(slot + k, tag, value, GOOD, undefined, ts);
      } catch (err) {
        frame.put(slot + k, tag, null, BAD, `decode error: ${errorMessage(err)}`, ts);
      }
    }
  }

  /**
   * The device refused a merged block. Probe each tag alone: refused ones are bad addresses and
   * stay isolated; when none is, the unused addresses the block bridged were the problem.
   */
  private async isolate(request: ReadRequest<number>, slot: number): Promise<void> {
    let foundBad = false;
    for (const [k, item] of request.items.entries()) {
      const offset = this.tags[item.key]!.address.offset;
      const single = planReads([
        { key: item.key, area: request.area, offset, count: item.count },
      ])[0]!;
      try {
        await this.readRequest(single, slot + k);
      } catch (err) {
        const e = err as ModbusRequestError;
        if (e.exceptionCode === ExceptionCode.IllegalDataAddress) {
          foundBad = true;
          this.isolated.add(item.key);
          this.block(single);
        }
        this.badFor(single, slot + k, e.reason, Date.now());
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
        requests: this.plan.requests.length,
      },
      'device refused a block with illegal data address; isolated the bad addresses and re-planned',
    );
  }

  private block(request: ReadRequest<number>): void {
    for (const a of range(request.start, request.count)) this.blocked.add(key(request.area, a));
    this.status.blockedAddresses = [...this.blocked];
  }

  private replan(): void {
    const requests = planReads(
      this.tags.map((t, i) => ({
        key: i,
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
        isolated: (i) => this.isolated.has(i),
        blocked: (area, address) => this.blocked.has(key(area, address)),
      },
    );
    const first: number[] = [];
    let samples = 0;
    for (const r of requests) {
      first.push(samples);
      samples += r.items.length;
    }
    this.plan = { requests, first, samples };
  }

  async write(id: string, value: TagValue): Promise<void> {
    // Writes are rare: a scan rather than an index of every tag kept for them.
    const tag = this.tags.find((t) => t.id === id);
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

  private badFor(request: ReadRequest<number>, slot: number, reason: string, ts: number): void {
    const { items } = request;
    for (let k = 0; k < items.length; k++)
      this.frame.put(slot + k, items[k]!.key, null, BAD, reason, ts);
  }

  private allBad(reason: string, ts: number): void {
    this.frame.reset(this.tags.length);
    for (let i = 0; i < this.tags.length; i++) this.frame.put(i, i, null, BAD, reason, ts);
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
