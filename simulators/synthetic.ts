import { encodeValue, registerCount, type ValueFormat } from '../protocols/modbus/codec.js';
import { ExceptionCode, ModbusException } from '../protocols/modbus/pdu.js';
import type { SteppingDevice } from './runtime.js';

/** One tag of the synthetic layout, in the form an agent config uses. */
export interface SyntheticTag {
  name: string;
  address: string;
  type: 'uint16' | 'int16' | 'float32' | 'uint32' | 'bool';
  offset: number;
  format: ValueFormat;
}

/** The repeating pattern of mixed types: 5 tags in 7 registers. */
const PATTERN: { type: SyntheticTag['type']; bit?: number }[] = [
  { type: 'uint16' },
  { type: 'int16' },
  { type: 'float32' },
  { type: 'uint32' },
  { type: 'bool', bit: 0 },
];

/** Lays out `count` tags of mixed types from holding register 0 on. Pure: the config generator uses it too. */
export function syntheticLayout(count: number): SyntheticTag[] {
  const tags: SyntheticTag[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const p = PATTERN[i % PATTERN.length]!;
    const format: ValueFormat = {
      type: p.type,
      order: 'ABCD',
      ...(p.bit !== undefined ? { bit: p.bit } : {}),
    };
    const address = p.bit !== undefined ? `hr:${offset}.${p.bit}` : `hr:${offset}`;
    tags.push({ name: `t${String(i).padStart(5, '0')}`, address, type: p.type, offset, format });
    offset += registerCount(format);
  }
  return tags;
}

/**
 * A load-test device: `count` tags of mixed types in holding registers, a share of which
 * change on every step. Reads copy from a plain array, so it is never the bottleneck.
 */
export class SyntheticDevice implements SteppingDevice {
  readonly tags: SyntheticTag[];
  readonly registers: Uint16Array;
  private readonly values: number[];
  private state: number;

  constructor(
    count: number,
    /** Share of tags (0..1) that change per step. */
    private readonly changeRate: number,
    seed = 7,
  ) {
    this.tags = syntheticLayout(count);
    const last = this.tags[this.tags.length - 1];
    this.registers = new Uint16Array(last ? last.offset + registerCount(last.format) : 0);
    this.values = this.tags.map((_, i) => i % 100);
    this.state = seed >>> 0;
    this.tags.forEach((_, i) => this.write(i));
  }

  step(): void {
    const changes = Math.round(this.tags.length * this.changeRate);
    for (let n = 0; n < changes; n++) {
      const i = Math.floor(this.random() * this.tags.length);
      this.values[i] = this.values[i]! + 1;
      this.write(i);
    }
  }

  readBits(): boolean[] {
    throw new ModbusException(ExceptionCode.IllegalDataAddress);
  }

  readRegisters(area: 'hr' | 'ir', start: number, count: number): number[] {
    if (area !== 'hr' || start + count > this.registers.length)
      throw new ModbusException(ExceptionCode.IllegalDataAddress);
    return Array.from(this.registers.subarray(start, start + count));
  }

  writeBits(): void {
    throw new ModbusException(ExceptionCode.IllegalDataAddress);
  }

  writeRegisters(start: number, values: number[]): void {
    if (start + values.length > this.registers.length)
      throw new ModbusException(ExceptionCode.IllegalDataAddress);
    this.registers.set(values, start);
  }

  private write(i: number): void {
    const tag = this.tags[i]!;
    const v = this.values[i]!;
    if (tag.type === 'bool') {
      this.registers[tag.offset] = v & 1;
      return;
    }
    const value =
      tag.type === 'float32' ? v / 4 : tag.type === 'int16' ? (v % 60000) - 30000 : v % 65536;
    const words = encodeValue(value, tag.format);
    this.registers.set(words, tag.offset);
  }

  private random(): number {
    this.state = (this.state * 1664525 + 1013904223) >>> 0;
    return this.state / 4294967296;
  }
}
