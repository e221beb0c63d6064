import { AREAS, type Area } from './address.js';

/** One value to read: `count` consecutive registers (or bits) at `offset` in `area`. */
export interface PlanItem<K> {
  key: K;
  area: Area;
  offset: number;
  count: number;
}

/** One Modbus read request and where each item's data sits in its response. */
export interface ReadRequest<K> {
  area: Area;
  start: number;
  count: number;
  items: { key: K; index: number; count: number }[];
}

export interface PlanOptions<K> {
  /**
   * Unrequested addresses a request may span to merge two neighbours into one request. Reading a
   * few unused registers costs far less than a second round trip. Default 8 (registers or bits).
   */
  maxGap: number;
  /** Per-area cap on items per request; defaults to the protocol limits (125 registers, 2000 bits). */
  maxPerRead: Partial<Record<Area, number>>;
  /** Items to read on their own, never merged (suspects after an illegal-data-address answer). */
  isolated?: (key: K) => boolean;
  /** Addresses a merged request must not span: the device answered illegal-data-address for them. */
  blocked?: (area: Area, address: number) => boolean;
}

export const DEFAULT_PLAN_OPTIONS: PlanOptions<unknown> = { maxGap: 8, maxPerRead: {} };

/**
 * Groups items into as few read requests as the protocol limits allow. Pure: the same items
 * always give the same plan, in area then address order.
 */
export function planReads<K>(
  items: readonly PlanItem<K>[],
  options: Partial<PlanOptions<K>> = {},
): ReadRequest<K>[] {
  const { maxGap, maxPerRead, isolated, blocked } = { ...DEFAULT_PLAN_OPTIONS, ...options };
  const spansBlocked = (area: Area, from: number, to: number): boolean => {
    if (!blocked) return false;
    for (let a = from; a < to; a++) if (blocked(area, a)) return true;
    return false;
  };
  const requests: ReadRequest<K>[] = [];
  const areaOrder: Area[] = ['coil', 'di', 'hr', 'ir'];
  for (const area of areaOrder) {
    const limit = Math.min(maxPerRead[area] ?? AREAS[area].maxPerRead, AREAS[area].maxPerRead);
    const sorted = items
      .filter((i) => i.area === area)
      .sort((a, b) => a.offset - b.offset || b.count - a.count);
    let current: ReadRequest<K> | undefined;
    let currentAlone = false;
    for (const item of sorted) {
      if (item.count > limit) {
        throw new RangeError(
          `item at ${area}:${item.offset} spans ${item.count}, more than one request may read (${limit})`,
        );
      }
      const end = item.offset + item.count;
      const alone = isolated?.(item.key) === true;
      const fits =
        current !== undefined &&
        !alone &&
        !currentAlone &&
        item.offset <= current.start + current.count + maxGap &&
        Math.max(end, current.start + current.count) - current.start <= limit &&
        !spansBlocked(area, current.start + current.count, end);
      if (!fits || current === undefined) {
        current = { area, start: item.offset, count: item.count, items: [] };
        currentAlone = alone;
        requests.push(current);
      }
      current.count = Math.max(current.count, end - current.start);
      current.items.push({ key: item.key, index: item.offset - current.start, count: item.count });
    }
  }
  return requests;
}
