import { AREAS, formatAddress, parseRange } from './address.js';
import { defaultDataType, REGISTER_COUNT, type DataType, type WordOrder } from './codec.js';
import type { ModbusTagSpec } from './tcp-source.js';

/** One tag per value in each range; registers step by the width of --type. */
export function specsForRanges(
  ranges: string[],
  type: DataType | undefined,
  wordOrder: WordOrder,
): ModbusTagSpec[] {
  return ranges.flatMap((text) => {
    const range = parseRange(text);
    const t = AREAS[range.area].bits ? 'bool' : (type ?? defaultDataType(range.area));
    const width = AREAS[range.area].bits ? 1 : REGISTER_COUNT[t];
    const specs: ModbusTagSpec[] = [];
    for (let offset = range.offset; offset + width <= range.offset + range.count; offset += width) {
      const address = { area: range.area, offset };
      specs.push({ id: formatAddress(address), address, type: t, wordOrder });
    }
    return specs;
  });
}
