import { BYTE_ORDERS, parseDataType, type ByteOrder, type DataType } from './codec.js';

/** Modbus data areas, keyed by the short names used in configs and on the command line. */
export type Area = 'coil' | 'di' | 'hr' | 'ir';

export interface AreaInfo {
  /** Function code that reads this area. */
  readFc: number;
  /** Values are single bits (coils, discrete inputs) rather than 16-bit registers. */
  bits: boolean;
  /** The protocol lets a master write this area. */
  writable: boolean;
  /** Most items one read request may ask for: 2000 bits or 125 registers (Modbus spec 6.1/6.3). */
  maxPerRead: number;
  label: string;
}

export const AREAS: Record<Area, AreaInfo> = {
  coil: { readFc: 1, bits: true, writable: true, maxPerRead: 2000, label: 'coil' },
  di: { readFc: 2, bits: true, writable: false, maxPerRead: 2000, label: 'discrete input' },
  hr: { readFc: 3, bits: false, writable: true, maxPerRead: 125, label: 'holding register' },
  ir: { readFc: 4, bits: false, writable: false, maxPerRead: 125, label: 'input register' },
};

export interface ModbusAddress {
  area: Area;
  /** 0-based protocol address. */
  offset: number;
}

export class AddressError extends Error {
  override name = 'AddressError';
  constructor(
    message: string,
    /** The tag field at fault, when it is not the address itself. */
    readonly field: 'address' | 'type' | 'byteOrder' = 'address',
  ) {
    super(message);
  }
}

const EXAMPLES = 'expected e.g. "hr:100", "coil:3", "di:0", "ir:7"';
const ADDRESS = /^(coil|di|hr|ir):(\d{1,5})$/;

function checkOffset(text: string, n: number): number {
  if (n > 65535)
    throw new AddressError(`"${text}": address ${n} is above 65535, the largest Modbus address`);
  return n;
}

/** Parses one address such as `hr:100` (0-based, as on the wire). */
export function parseAddress(text: string): ModbusAddress {
  const m = ADDRESS.exec(text.trim());
  if (!m) throw new AddressError(`"${text}" is not a Modbus address; ${EXAMPLES}`);
  return { area: m[1] as Area, offset: checkOffset(text, Number(m[2])) };
}

export function formatAddress(a: ModbusAddress & { bit?: number }): string {
  return `${a.area}:${a.offset}${a.bit === undefined ? '' : `.${a.bit}`}`;
}

/** The type a tag has when its config names none: a bit for coils and inputs, else one unsigned register. */
export function defaultDataType(area: Area): DataType {
  return AREAS[area].bits ? 'bool' : 'uint16';
}

/** A tag's full address: where it is, and optionally how its value is laid out. */
export interface TagAddress extends ModbusAddress {
  /** Bit of a register, 0 = least significant. */
  bit?: number;
  type?: DataType;
  /** Characters, for `string(N)`. */
  length?: number;
  order?: ByteOrder;
  /** How a classic 1-based address was converted, to show the user. */
  note?: string;
}

const TAG_ADDRESS =
  /^(coil|di|hr|ir):(\d{1,5})(?:\.(\d{1,2}))?(?::([a-z0-9()]+))?(?::([A-D]{4}))?$/;
const CLASSIC = /^([0134])(\d{4,5})(?:\.(\d{1,2}))?$/;
const CLASSIC_AREA: Record<string, Area> = { '0': 'coil', '1': 'di', '3': 'ir', '4': 'hr' };
const TAG_EXAMPLES =
  'expected e.g. "hr:100", "coil:3", "hr:100.3" (bit), "hr:100:float32:CDAB" or a classic "40101"';

/**
 * Parses a tag address: `area:offset[.bit][:type][:order]` (0-based, as on the wire), or the
 * classic 1-based 5/6-digit form (`40101`, `400101` = hr:100; leading 0/1/3/4 = coil/di/ir/hr).
 */
export function parseTagAddress(input: string | number): TagAddress {
  const text = String(input).trim();
  const classic = CLASSIC.exec(text);
  if (classic) {
    const area = CLASSIC_AREA[classic[1]!]!;
    const number = Number(classic[2]);
    const max = classic[2]!.length === 4 ? 9999 : 65536;
    if (number < 1 || number > max) {
      throw new AddressError(
        `"${text}": classic addresses count from 1; ${classic[2]} must be 1..${max}`,
      );
    }
    const out: TagAddress = { area, offset: number - 1 };
    const bit = classic[3];
    if (bit !== undefined) out.bit = checkBit(text, area, Number(bit));
    out.note = `classic 1-based address ${text} is ${formatAddress(out)} (0-based ${AREAS[area].label} ${number - 1})`;
    return out;
  }
  const m = TAG_ADDRESS.exec(text);
  if (!m) {
    const hint = /^\d+$/.test(text)
      ? '; a classic address has 5 or 6 digits (quote it in YAML when it starts with 0)'
      : '';
    throw new AddressError(`"${text}" is not a Modbus address; ${TAG_EXAMPLES}${hint}`);
  }
  const area = m[1] as Area;
  const out: TagAddress = { area, offset: checkOffset(text, Number(m[2])) };
  if (m[3] !== undefined) out.bit = checkBit(text, area, Number(m[3]));
  if (m[4] !== undefined) {
    try {
      Object.assign(out, parseDataType(m[4]));
    } catch (err) {
      throw new AddressError(`"${text}": ${(err as Error).message}`);
    }
  }
  if (m[5] !== undefined) {
    if (!(BYTE_ORDERS as readonly string[]).includes(m[5])) {
      throw new AddressError(
        `"${text}": byte order ${m[5]} is not one of ${BYTE_ORDERS.join(', ')}`,
      );
    }
    out.order = m[5] as ByteOrder;
  }
  if (AREAS[area].bits && out.type !== undefined && out.type !== 'bool') {
    throw new AddressError(`"${text}": a ${AREAS[area].label} holds one bit; its type is bool`);
  }
  if (out.bit !== undefined && out.type !== undefined && out.type !== 'bool') {
    throw new AddressError(`"${text}": a register bit is a bool, not ${out.type}`);
  }
  return out;
}

/** A tag address, or an inclusive range of them (`hr:200..209:float32`, `40101..40110`). */
export interface TagRange extends TagAddress {
  /** Last address (0-based, inclusive) of a range; absent for a single address. */
  end?: number;
}

const TAG_RANGE = /^(coil|di|hr|ir):(\d{1,5})\.\.(\d{1,5})((?::[^:]+){0,2})$/;
const CLASSIC_RANGE = /^([0134]\d{4,5})\.\.([0134]\d{4,5})$/;

/**
 * Parses what the read tool takes: any tag address of the config (`parseTagAddress`), or an
 * inclusive range of one: `hr:100..105`, `hr:200..209:float32:CDAB`, `coil:0..6`, the classic
 * `40101..40110`. A type in a range applies to each value in it.
 */
export function parseTagRange(input: string): TagRange {
  const text = input.trim();
  const m = TAG_RANGE.exec(text);
  if (m) {
    const start = parseTagAddress(`${m[1]}:${m[2]}${m[4]}`);
    return { ...start, end: rangeEnd(text, start.offset, Number(m[3])) };
  }
  const classic = CLASSIC_RANGE.exec(text);
  if (classic) {
    const from = parseTagAddress(classic[1]!);
    const to = parseTagAddress(classic[2]!);
    if (from.area !== to.area) {
      throw new AddressError(
        `"${text}": ${classic[1]} is a ${AREAS[from.area].label} and ${classic[2]} a ${AREAS[to.area].label}; a range stays in one area`,
      );
    }
    const end = rangeEnd(text, from.offset, to.offset);
    return {
      area: from.area,
      offset: from.offset,
      end,
      note: `classic 1-based range ${text} is ${from.area}:${from.offset}..${end} (0-based)`,
    };
  }
  if (text.includes('..')) {
    throw new AddressError(
      `"${text}" is not a Modbus range; expected e.g. "hr:100..105", "hr:200..209:float32:CDAB", "coil:0..6" or "40101..40110"`,
    );
  }
  return parseTagAddress(text);
}

function rangeEnd(text: string, start: number, end: number): number {
  checkOffset(text, end);
  if (end < start)
    throw new AddressError(`"${text}": range end ${end} is before its start ${start}`);
  return end;
}

/** A tag address in the config's own grammar: `hr:100`, `hr:100.3`, `hr:200:float32:CDAB`. */
export function formatTagAddress(a: TagAddress): string {
  let out = formatAddress(a);
  if (a.type !== undefined) out += `:${a.type === 'string' ? `string(${a.length})` : a.type}`;
  if (a.order !== undefined) out += `:${a.order}`;
  return out;
}

function checkBit(text: string, area: Area, bit: number): number {
  if (AREAS[area].bits)
    throw new AddressError(
      `"${text}": .bit applies to registers, and a ${AREAS[area].label} is already one bit`,
    );
  if (bit > 15)
    throw new AddressError(`"${text}": bit ${bit} is beyond 15; a register has bits 0..15`);
  return bit;
}
