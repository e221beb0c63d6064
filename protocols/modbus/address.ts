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

export interface ModbusRange extends ModbusAddress {
  count: number;
}

export class AddressError extends Error {
  override name = 'AddressError';
}

const EXAMPLES = 'expected e.g. "hr:100", "coil:3", "di:0", "ir:7"';
const ADDRESS = /^(coil|di|hr|ir):(\d{1,5})$/;
const RANGE = /^(coil|di|hr|ir):(\d{1,5})(?:\.\.(\d{1,5}))?$/;

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

/** Parses `hr:100` or an inclusive range `hr:100..105`, for the read tool. */
export function parseRange(text: string): ModbusRange {
  const m = RANGE.exec(text.trim());
  if (!m)
    throw new AddressError(
      `"${text}" is not a Modbus address or range; expected e.g. "hr:100..105", "coil:0..6"`,
    );
  const start = checkOffset(text, Number(m[2]));
  const end = m[3] === undefined ? start : checkOffset(text, Number(m[3]));
  if (end < start)
    throw new AddressError(`"${text}": range end ${end} is before its start ${start}`);
  return { area: m[1] as Area, offset: start, count: end - start + 1 };
}

export function formatAddress(a: ModbusAddress): string {
  return `${a.area}:${a.offset}`;
}
