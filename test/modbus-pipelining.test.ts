import { afterAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../protocols/modbus/codec.js';
import { ModbusDeviceSource, type ModbusTagSpec } from '../protocols/modbus/device-source.js';
import { ModbusLine } from '../protocols/modbus/line.js';
import { SimulatorRuntime } from '../simulators/runtime.js';
import { SyntheticDevice } from '../simulators/synthetic.js';

const sims: SimulatorRuntime[] = [];
afterAll(async () => Promise.all(sims.map((s) => s.stop())));

describe('requests in flight on one TCP connection', () => {
  it.each([1, 8])(
    'reads every tag right with maxInflight %i, and keeps that many in flight',
    async (maxInflight) => {
      const device = new SyntheticDevice(200, 0);
      const sim = new SimulatorRuntime(new Map([[1, device]]), { port: 0, tickMs: 1000 });
      sims.push(sim);
      const port = await sim.start();
      sim.faults.set({ delayMs: 10 });
      const tags: ModbusTagSpec[] = device.tags.map((t) => ({
        id: t.name,
        address: {
          area: 'hr',
          offset: t.offset,
          ...(t.format.bit !== undefined ? { bit: t.format.bit } : {}),
        },
        format: t.format,
      }));
      const line = new ModbusLine({
        transport: { kind: 'tcp', host: '127.0.0.1', port },
        timeoutMs: 2000,
        maxInflight,
        interRequestDelayMs: 0,
      });
      const source = new ModbusDeviceSource(
        { name: 'synthetic', unitId: 1, maxRegistersPerRead: 8 },
        tags,
        line,
      );
      expect(source.requestCount).toBeGreaterThan(30);
      const readings = (await source.read()).readings();
      await line.close();
      expect(readings).toHaveLength(200);
      for (const t of device.tags) {
        const r = readings.find((x) => x.id === t.name)!;
        expect(r.quality).toBe('good');
        expect(r.value).toBe(decodeValue(device.registers, t.offset, t.format));
      }
      expect(sim.stats.maxPending).toBe(maxInflight);
    },
  );
});
