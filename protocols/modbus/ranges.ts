import { AREAS, formatAddress, parseRange } from './address.js';
import { registerCount, type ByteOrder, type DataType } from './codec.js';
import type { ModbusTagSpec } from './device-source.js';

/** One tag per value in each range of the read tool; registers step by the width of the type. */
export function specsForRanges(
  ranges: string[],
  type: { type: DataType; length?: number } | undefined,
  order: ByteOrder,
): ModbusTagSpec[] {
  return ranges.flatMap((text) => {
    const range = parseRange(text);
    const bits = AREAS[range.area].bits;
    const format = bits
      ? { type: 'bool' as const, order }
      : { type: 'uint16' as const, order, ...type };
    const width = bits ? 1 : registerCount(format);
    const specs: ModbusTagSpec[] = [];
    for (let offset = range.offset; offset + width <= range.offset + range.count; offset += width) {
      const address = { area: range.area, offset };
      specs.push({ id: formatAddress(address), address, format });
    }
    return specs;
  });
}
