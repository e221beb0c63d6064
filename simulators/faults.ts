import type { Area } from '../protocols/modbus/address.js';
import type { Request } from '../protocols/modbus/pdu.js';

/** An exception code the simulator answers for any request that touches `address`. */
export interface ExceptionFault {
  unitId?: number;
  area: Area;
  address: number;
  code: number;
}

/** Faults a simulator injects, settable from CLI flags and the HTTP control API. */
export interface FaultSettings {
  /** Added before every response, ms. */
  delayMs: number;
  /** Share of requests (0..1) that get no answer at all: the client sees a timeout. */
  timeoutRate: number;
  /** Share of requests after which the server closes the connection instead of answering. */
  dropRate: number;
  /** Share of requests answered with random bytes. */
  garbageRate: number;
  exceptions: ExceptionFault[];
  /** Unit ids that never answer, as if powered off. */
  silentUnits: number[];
}

export const NO_FAULTS: FaultSettings = {
  delayMs: 0,
  timeoutRate: 0,
  dropRate: 0,
  garbageRate: 0,
  exceptions: [],
  silentUnits: [],
};

export type FaultDecision =
  | { kind: 'answer'; delayMs: number }
  | { kind: 'exception'; code: number; delayMs: number }
  | { kind: 'silence' }
  | { kind: 'drop' }
  | { kind: 'garbage'; delayMs: number };

export interface FaultCounts {
  timeouts: number;
  drops: number;
  garbage: number;
  exceptions: number;
}

function touches(request: Request, area: Area, address: number): boolean {
  const requestArea =
    request.kind === 'read' ? request.area : request.kind === 'write-bits' ? 'coil' : 'hr';
  const count = request.kind === 'read' ? request.count : request.values.length;
  return requestArea === area && address >= request.start && address < request.start + count;
}

/** Decides, per request, whether and how to misbehave. Seeded, so a test run repeats exactly. */
export class FaultInjector {
  settings: FaultSettings = { ...NO_FAULTS };
  readonly counts: FaultCounts = { timeouts: 0, drops: 0, garbage: 0, exceptions: 0 };
  private state: number;

  constructor(seed = 1) {
    this.state = seed >>> 0;
  }

  set(partial: Partial<FaultSettings>): FaultSettings {
    this.settings = { ...this.settings, ...partial };
    return this.settings;
  }

  reset(): void {
    this.settings = { ...NO_FAULTS };
  }

  decide(unitId: number, request: Request | undefined): FaultDecision {
    const s = this.settings;
    if (s.silentUnits.includes(unitId) || this.chance(s.timeoutRate)) {
      this.counts.timeouts += 1;
      return { kind: 'silence' };
    }
    if (this.chance(s.dropRate)) {
      this.counts.drops += 1;
      return { kind: 'drop' };
    }
    if (this.chance(s.garbageRate)) {
      this.counts.garbage += 1;
      return { kind: 'garbage', delayMs: s.delayMs };
    }
    if (request) {
      const hit = s.exceptions.find(
        (e) =>
          (e.unitId === undefined || e.unitId === unitId) && touches(request, e.area, e.address),
      );
      if (hit) {
        this.counts.exceptions += 1;
        return { kind: 'exception', code: hit.code, delayMs: s.delayMs };
      }
    }
    return { kind: 'answer', delayMs: s.delayMs };
  }

  /** Random bytes for a garbage answer, 1..24 of them. */
  garbage(): Buffer {
    const out = Buffer.alloc(1 + Math.floor(this.next() * 24));
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  private chance(rate: number): boolean {
    return rate > 0 && this.next() < rate;
  }

  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
