import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig, type ModbusDeviceConfig } from '../agent/config.js';
import { ModbusDeviceSource, type ModbusTagSpec } from '../protocols/modbus/device-source.js';
import { ModbusLine } from '../protocols/modbus/line.js';
import { resolveTag } from '../protocols/modbus/tag-spec.js';
import type { TagValue } from '../protocols/types.js';
import {
  COIL_NAMES,
  ErrorCode,
  REGISTER_BASE,
  REGISTER_NAMES,
} from '../simulators/micro820/model.js';
import { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { runCli } from './support/processes.js';
import { waitFor } from './support/wait.js';

let sim: Micro820Simulator;
let line: ModbusLine;
let source: ModbusDeviceSource;

function tcpLine(port: number): ModbusLine {
  return new ModbusLine({
    transport: { kind: 'tcp', host: '127.0.0.1', port },
    timeoutMs: 1000,
    maxInflight: 1,
    interRequestDelayMs: 0,
  });
}

async function readAll(): Promise<Map<string, TagValue | null>> {
  const readings = (await source.read()).readings();
  expect(readings.filter((r) => r.quality !== 'good')).toEqual([]);
  return new Map(readings.map((r) => [r.id, r.value]));
}

beforeAll(async () => {
  sim = new Micro820Simulator({ port: 0, tickMs: 20 });
  const port = await sim.start();
  const config = await loadAgentConfig('deploy/examples/micro820.yaml', { PLC_PORT: String(port) });
  const specs: ModbusTagSpec[] = (config.devices[0] as ModbusDeviceConfig).tags.map((t) =>
    resolveTag(t.name, t, 'ABCD'),
  );
  line = tcpLine(port);
  source = new ModbusDeviceSource({ name: 'micro820', unitId: 1 }, specs, line);
});

afterAll(async () => {
  await source.close();
  await sim.stop();
});

describe('Micro 820 simulator over Modbus TCP', () => {
  it('serves the whole register map in two requests', async () => {
    expect(source.requestCount).toBe(2);
    const values = await readAll();
    for (const name of [...COIL_NAMES, ...REGISTER_NAMES])
      expect(values.has(name), name).toBe(true);
    expect(values.get('motor_stopped')).toBe(!values.get('motor_running'));
  });

  it('ramps the motor up and moves the conveyor', async () => {
    const values = await waitFor(
      'motor at rated speed',
      async () => {
        const v = await readAll();
        return v.get('motor_speed') === 1750 ? v : undefined;
      },
      10_000,
    );
    expect(values.get('motor_running')).toBe(true);
    expect(values.get('conveyor_running')).toBe(true);
    expect(values.get('conveyor_speed')).toBe(100);
    expect(values.get('motor_current') as number).toBeGreaterThan(50);
    expect(values.get('pressure') as number).toBeGreaterThan(80);
    // Parts pass the photo-eyes: each sensor must be seen both on and off within a few seconds.
    const seen = { s1: new Set<unknown>(), s2: new Set<unknown>() };
    await waitFor(
      'both sensors toggling',
      async () => {
        const v = await readAll();
        seen.s1.add(v.get('sensor_1_active'));
        seen.s2.add(v.get('sensor_2_active'));
        return seen.s1.size === 2 && seen.s2.size === 2;
      },
      15_000,
      50,
    );
  });

  it('stops the conveyor when the motor is stopped by a coil write, and restarts', async () => {
    await source.write('motor_running', false);
    await waitFor(
      'motor stopped',
      async () => {
        const v = await readAll();
        return (
          v.get('motor_speed') === 0 &&
          v.get('motor_stopped') === true &&
          v.get('conveyor_speed') === 0 &&
          v.get('conveyor_running') === false
        );
      },
      10_000,
    );
    await source.write('motor_running', true);
    await waitFor(
      'motor running again',
      async () => (await readAll()).get('motor_speed') === 1750,
      10_000,
    );
  });

  it('sets fault_alarm and error_code on an injected fault, trips the motor, and resets', async () => {
    sim.model.injectFault(ErrorCode.ConveyorJam);
    const v = await readAll();
    expect(v.get('fault_alarm')).toBe(true);
    expect(v.get('error_code')).toBe(3);
    expect(v.get('motor_running')).toBe(false);
    await source.write('fault_alarm', false);
    const after = await readAll();
    expect(after.get('fault_alarm')).toBe(false);
    expect(after.get('error_code')).toBe(0);
  });

  it('refuses writes to read-only areas and registers the PLC does not map', async () => {
    await expect(source.write('DI_00', true)).rejects.toThrow(/illegal data address/);
    await expect(source.write('motor_speed', 100)).rejects.toThrow(/illegal data address/);
  });

  it('answers unmapped addresses with exception 2, which the driver reports as bad quality', async () => {
    const bad = new ModbusDeviceSource(
      { name: 'bad', unitId: 1, maxGap: 0 },
      [
        {
          id: 'ok',
          address: { area: 'hr', offset: REGISTER_BASE },
          format: { type: 'uint16', order: 'ABCD' },
        },
        {
          id: 'missing',
          address: { area: 'hr', offset: 5 },
          format: { type: 'uint16', order: 'ABCD' },
        },
      ],
      line,
    );
    const readings = (await bad.read()).readings();
    expect(readings.find((r) => r.id === 'missing')).toMatchObject({
      quality: 'bad',
      value: null,
      reason: 'exception 2 (illegal data address)',
    });
    expect(readings.find((r) => r.id === 'ok')).toMatchObject({ quality: 'good' });
    expect(bad.status.exceptions).toBe(1);
  });

  it('isolates an address the PLC refuses instead of failing the whole merged block', async () => {
    const tags: ModbusTagSpec[] = [95, 100, 101, 102].map((offset) => ({
      id: `hr${offset}`,
      address: { area: 'hr', offset },
      format: { type: 'uint16', order: 'ABCD' },
    }));
    const device = new ModbusDeviceSource({ name: 'holes', unitId: 1, maxGap: 8 }, tags, line);
    expect(device.requestCount).toBe(1);
    const first = (await device.read()).readings();
    expect(first.find((r) => r.id === 'hr95')).toMatchObject({
      quality: 'bad',
      reason: 'exception 2 (illegal data address)',
    });
    expect(first.filter((r) => r.quality === 'good').map((r) => r.id)).toEqual([
      'hr100',
      'hr101',
      'hr102',
    ]);
    // Re-planned: the bad address alone, the good ones merged again, and no more refusals for them.
    expect(device.requestCount).toBe(2);
    expect(device.status.blockedAddresses).toEqual(['hr:95']);
    const exceptions = device.status.exceptions;
    const second = (await device.read()).readings();
    expect(second.filter((r) => r.quality === 'good').map((r) => r.id)).toEqual([
      'hr100',
      'hr101',
      'hr102',
    ]);
    expect(device.status.exceptions).toBe(exceptions + 1);
  });

  it('closes a connection that sends garbage and keeps serving others', async () => {
    const before = sim.stats.framingErrors;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(sim.port, '127.0.0.1', () =>
        socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n')),
      );
      socket.on('close', () => resolve());
      socket.on('error', reject);
      setTimeout(
        () => reject(new Error('server did not close the garbage connection')),
        3000,
      ).unref();
    });
    expect(sim.stats.framingErrors).toBe(before + 1);
    await readAll();
  });

  it('reads by hand with `factorylm read`', async () => {
    const table = await runCli([
      'read',
      `modbus://127.0.0.1:${sim.port}/1`,
      'hr:100..105',
      'coil:0..6',
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^address\s+value$/m);
    expect(table.stdout).toMatch(/^hr:105\s+0$/m);
    expect(table.stdout).toMatch(/^coil:6\s+false$/m);
    const json = await runCli([
      'read',
      `modbus://127.0.0.1:${sim.port}/1`,
      'hr:100..105',
      '--json',
    ]);
    const rows = JSON.parse(json.stdout) as { address: string; value: number; quality: string }[];
    expect(rows.map((r) => r.address)).toEqual([
      'hr:100',
      'hr:101',
      'hr:102',
      'hr:103',
      'hr:104',
      'hr:105',
    ]);
    expect(rows.every((r) => r.quality === 'good' && typeof r.value === 'number')).toBe(true);
    const bad = await runCli(['read', `modbus://127.0.0.1:${sim.port}/1`, 'hr:0..1']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/hr:0\s+BAD \(exception 2 \(illegal data address\)\)/);
    const usage = await runCli(['read', `modbus://127.0.0.1:${sim.port}/1`, 'HR40001x']);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/"HR40001x" is not a Modbus address; expected e\.g\. "hr:100"/);
  });
});
