import { describe, expect, it } from 'vitest';
import type { DeviceConfig } from '../protocols/registry.js';
import { heapBudgetWarning, liveHeapNeedMb } from './heap-budget.js';

const MB = 1024 * 1024;
const device = (protocol: 'modbus' | 'opcua', tags: number) =>
  ({ protocol, tags: Array.from({ length: tags }, () => ({})) }) as unknown as DeviceConfig;

describe('heap budget', () => {
  it.each([
    ['the Micro 820 example', [device('modbus', 18)], 16],
    ['10,000 Modbus tags (24 MB in bench:footprint)', [device('modbus', 10_000)], 24],
    ['10,000 OPC UA items (52 MB in bench:opcua)', [device('opcua', 10_000)], 52],
    ['both', [device('modbus', 1_000), device('opcua', 1_000)], 37.5],
  ])('%s needs about %d MB live', (_name, devices, mb) => {
    expect(liveHeapNeedMb(devices)).toBeCloseTo(mb, 1);
  });

  it.each([
    ['no cap (Node default, 4 GB here)', [device('opcua', 50_000)], 4102, false],
    ['10,000 OPC UA items under the 96 MB drop-in', [device('opcua', 10_000)], 102, false],
    ['20,000 OPC UA items under the 96 MB drop-in', [device('opcua', 20_000)], 102, true],
    [
      '10,000 Modbus tags under the 64 MB drop-in',
      Array(10).fill(device('modbus', 1_000)),
      70,
      false,
    ],
    [
      '40,000 Modbus tags under the 64 MB drop-in',
      Array(40).fill(device('modbus', 1_000)),
      70,
      true,
    ],
  ])('%s: warns %s', (_name, devices, limitMb, warns) => {
    const warning = heapBudgetWarning(devices, limitMb * MB);
    expect(warning !== undefined).toBe(warns);
    if (warning)
      expect(warning).toMatch(
        /capped at \d+ MB, and [\d]+ tags need about \d+ MB: raise --max-old-space-size/,
      );
  });
});
