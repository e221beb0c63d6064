import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../protocols/modbus/codec.js';
import { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { SimulatorRuntime } from '../simulators/runtime.js';
import { SyntheticDevice } from '../simulators/synthetic.js';
import { writeConfig } from './support/pipeline.js';
import { runCli } from './support/processes.js';

let micro: Micro820Simulator;
let synthetic: SimulatorRuntime<SyntheticDevice>;
let device: SyntheticDevice;
let configFile: string;

beforeAll(async () => {
  micro = new Micro820Simulator({ port: 0 });
  await micro.start();
  device = new SyntheticDevice(10, 0);
  synthetic = new SimulatorRuntime(new Map([[1, device]]), { port: 0, tickMs: 60_000 });
  await synthetic.start();
  configFile = writeConfig('agent', {
    site: 's',
    area: 'a',
    line: 'l',
    mqtt: { url: 'mqtt://127.0.0.1:1' },
    devices: [
      {
        name: 'plc',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: synthetic.port,
        asset: 'm1',
        tags: [
          { name: 'setpoint', address: 'hr:0', type: 'uint16', scale: 0.1, writable: true },
          { name: 'trim', address: 'hr:3:float32:CDAB', writable: true },
          { name: 'readonly', address: 'hr:1', type: 'int16' },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await micro.stop();
  await synthetic.stop();
});

const url = () => `modbus://127.0.0.1:${micro.port}/1`;

describe('factorylm write', () => {
  it('writes coils by address; stopping the motor stops the conveyor', async () => {
    const res = await runCli(['write', url(), 'coil:0=false']);
    expect(res.stdout).toContain('coil:0 = false  ok');
    expect(res.code).toBe(0);
    micro.model.step(5000);
    const snap = micro.model.snapshot();
    expect(snap.coils[0]).toBe(false);
    expect(snap.registers[4]).toBe(0);
    expect((await runCli(['write', url(), 'coil:0=on'])).code).toBe(0);
    expect(micro.model.snapshot().coils[0]).toBe(true);
  });

  it('reverses scale and byte order, and checks ranges before sending anything', async () => {
    const target = `modbus://127.0.0.1:${synthetic.port}/1`;
    expect((await runCli(['write', target, 'hr:0=12.5', '--scale', '0.1'])).code).toBe(0);
    expect(device.registers[0]).toBe(125);
    expect((await runCli(['write', target, 'hr:3:float32:CDAB=-1.5'])).code).toBe(0);
    expect(decodeValue(device.registers, 3, { type: 'float32', order: 'CDAB' })).toBe(-1.5);
    const before = Array.from(device.registers);
    const refused = await runCli(['write', target, 'hr:1=7', 'hr:0=70000']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/hr:0=70000: 70000 is out of range for uint16 \(0\.\.65535\)/);
    expect(Array.from(device.registers)).toEqual(before);
  });

  it('by tag name, writes only tags the config marks writable, in engineering units', async () => {
    expect((await runCli(['write', '--config', configFile, 'setpoint=42.3'])).code).toBe(0);
    expect(device.registers[0]).toBe(423);
    expect((await runCli(['write', '--config', configFile, 'm1/trim=2.25'])).code).toBe(0);
    expect(decodeValue(device.registers, 3, { type: 'float32', order: 'CDAB' })).toBe(2.25);
    const refused = await runCli(['write', '--config', configFile, 'readonly=1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /tag m1\/readonly is not writable: set writable: true on it in the config/,
    );
    const range = await runCli(['write', '--config', configFile, 'setpoint=7000']);
    expect(range.stderr).toMatch(
      /m1\/setpoint=7000 \(raw 70000 after scale 0\.1, offset 0\): 70000 is out of range for uint16/,
    );
    const unknown = await runCli(['write', '--config', configFile, 'nope=1']);
    expect(unknown.stderr).toMatch(/no tag "nope" in the config/);
    expect(device.registers[0]).toBe(423);
  });

  it('reports what the device refused', async () => {
    const res = await runCli(['write', url(), 'hr:100=5']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /hr:100: write to hr:100 on modbus:\/\/.*failed: exception 2 \(illegal data address\)/,
    );
    const bit = await runCli(['write', url(), 'hr:100.2=true']);
    expect(bit.stderr).toMatch(/cannot write one bit of a register/);
  });
});
