import {
  AddressError,
  AREAS,
  defaultDataType,
  formatTagAddress,
  parseTagRange,
} from './address.js';
import { registerCount, type ByteOrder } from './codec.js';
import type { ModbusTagSpec } from './device-source.js';
import { resolveTag } from './tag-spec.js';

/**
 * A spec's address in the config's grammar, as the tools print it: the type when it is not the
 * area's default, the byte order when the value spans registers or is not big-endian. Pasted into
 * a config, it reads the same value.
 */
export function specAddress(spec: ModbusTagSpec): string {
  const { area } = spec.address;
  const { type, length, order, bit } = spec.format;
  const plain = AREAS[area].bits || bit !== undefined || type === defaultDataType(area);
  if (plain && order === 'ABCD') return formatTagAddress(spec.address);
  const wide = registerCount(spec.format) > 1 || type === 'string';
  return formatTagAddress({
    ...spec.address,
    ...(plain ? {} : { type, ...(length !== undefined ? { length } : {}) }),
    ...(wide || order !== 'ABCD' ? { order } : {}),
  });
}

export interface RangeSpec extends ModbusTagSpec {
  /** How a classic 1-based address was read, to show the user. */
  note?: string;
}

/**
 * The values the read tool reads for each argument, in the config's address grammar: a single
 * address is one whole value of its type (`hr:300:float32` reads two registers), a range is
 * consecutive values of that type (`hr:300..309:float32` is five). `type` (--type) applies to
 * registers that name none; coils and inputs are always bits. Throws AddressError naming the
 * argument at fault.
 */
export function specsForRanges(
  texts: string[],
  type: string | undefined,
  order: ByteOrder,
): RangeSpec[] {
  return texts.flatMap((text) => {
    const { end, note, ...start } = parseTagRange(text);
    const bits = AREAS[start.area].bits || start.bit !== undefined;
    let first: RangeSpec;
    try {
      const address = formatTagAddress(start);
      first = resolveTag(address, { address, ...(bits || !type ? {} : { type }) }, order);
    } catch (err) {
      if (err instanceof AddressError) throw new AddressError(`"${text}": ${err.message}`);
      throw err;
    }
    const out = (offset: number): RangeSpec => {
      const spec: RangeSpec = { ...first, address: { ...first.address, offset } };
      spec.id = specAddress(spec);
      if (note) spec.note = note;
      return spec;
    };
    if (end === undefined) return [out(start.offset)];
    if (start.bit !== undefined)
      throw new AddressError(
        `"${text}": a range of register bits is not supported; read the registers (hr:100..105) or one bit (hr:100.3)`,
      );
    const width = registerCount(first.format);
    const span = end - start.offset + 1;
    if (span % width !== 0) {
      throw new AddressError(
        `"${text}" spans ${span} registers, not a whole number of ${first.format.type} values (${width} registers each); end the range at ${start.offset + Math.max(1, Math.floor(span / width)) * width - 1}`,
      );
    }
    const specs: RangeSpec[] = [];
    for (let offset = start.offset; offset <= end; offset += width) specs.push(out(offset));
    return specs;
  });
}
