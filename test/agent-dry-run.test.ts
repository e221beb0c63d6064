import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DryRunReport } from '../agent/dry-run.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { startSimulator, writeConfig } from './support/pipeline.js';
import { runCli } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';

/**
 * `factorylm agent --test` as a commissioning engineer runs it: the real CLI against the Micro 820
 * simulator and a real Mosquitto that must receive nothing.
 */
let sim: Micro820Simulator;
let mosquitto: Service;
let heard: string[];
let listener: mqtt.MqttClient;

beforeAll(async () => {
  [sim, mosquitto] = await Promise.all([startSimulator(), startMosquitto()]);
  heard = [];
  listener = await mqtt.connectAsync(mosquitto.url);
  listener.on('message', (topic) => heard.push(topic));
  await listener.subscribeAsync('#');
});

afterAll(async () => {
  await listener?.endAsync();
  await sim?.stop();
  await mosquitto?.stop();
});

function config(devices: object[], publish: object = {}) {
  return writeConfig('agent', {
    site: 'plant1',
    area: 'packaging',
    line: 'line1',
    node: 'edge-test',
    mqtt: { url: mosquitto.url },
    publish,
    devices,
  });
}

const micro820 = (over: object = {}, tags?: object[]) => ({
  name: 'micro820',
  protocol: 'modbus-tcp',
  host: '127.0.0.1',
  port: sim.port,
  unitId: 1,
  asset: 'conveyor1',
  timeoutMs: 1000,
  tags: tags ?? [
    { name: 'motor_running', address: 'coil:0' },
    { name: 'e_stop_active', address: '000007' },
    { name: 'motor_speed', address: 'hr:100', unit: 'rpm' },
    { name: 'motor_current', address: 40102, scale: 0.1, unit: 'A' },
    { name: 'temperature', address: 'hr:102', type: 'int16', scale: 0.1 },
  ],
  ...over,
});

async function dryRun(file: string) {
  const r = await runCli(['agent', '--config', file, '--test', '--json']);
  return { ...r, report: JSON.parse(r.stdout) as DryRunReport };
}

describe('factorylm agent --test', () => {
  it('reads every tag once, shows the plan and the payloads, publishes nothing, exit 0', async () => {
    const file = config([micro820()]);
    const text = await runCli(['agent', '--config', file, '--test']);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toContain('Nothing was published and the outbox was not touched.');
    expect(text.stdout).toMatch(
      /plan: 2 requests per poll: coil:0\.\.6 \(7 bits, 2 tags\), hr:100\.\.102 \(3 registers, 3 tags\)/,
    );
    expect(text.stdout).toMatch(/✔ conveyor1\/motor_current\s+hr:101\s+\d+(\.\d)? A \(raw \d+\)/);
    expect(text.stdout).toMatch(/✔ conveyor1\/temperature\s+hr:102:int16\s+/);
    expect(text.stdout).toMatch(
      /factorylm\/plant1\/packaging\/line1\/conveyor1\/motor_speed {2}\{"v":\d+,"ts":\d+,"q":"good"\}/,
    );
    expect(text.stdout).toContain('All 1 device and 5 tags good.');

    const { code, report } = await dryRun(file);
    expect(code).toBe(0);
    const device = report.devices[0]!;
    expect(device).toMatchObject({ name: 'micro820', ok: true, answered: true });
    expect(device.tags.map((t) => t.address)).toEqual([
      'coil:0',
      'coil:6',
      'hr:100',
      'hr:101',
      'hr:102:int16',
    ]);
    // The published value is the scaled one; the raw register is beside it.
    const current = device.tags.find((t) => t.id === 'conveyor1/motor_current')!;
    expect(current.value).toBeCloseTo((current.raw as number) * 0.1, 9);
    expect(device.messages).toHaveLength(5);
    // Nothing reached the broker, and no outbox file was created.
    expect(heard).toEqual([]);
    expect(existsSync(join(dirname(file), 'outbox.db'))).toBe(false);
  });

  it('shows one message per asset in asset mode and a summary for Sparkplug', async () => {
    const asset = await dryRun(config([micro820()], { mode: 'asset' }));
    expect(asset.report.devices[0]!.messages).toEqual([
      {
        topic: 'factorylm/plant1/packaging/line1/conveyor1',
        payload: expect.stringMatching(
          /^\{"ts":\d+,"v":\{"motor_running":(true|false),.*"temperature":[\d.]+\}\}$/,
        ),
      },
    ]);
    const sparkplug = await dryRun(config([micro820()], { output: 'sparkplug' }));
    expect(sparkplug.report.devices[0]!.messages).toEqual([
      {
        topic: 'spBv1.0/plant1/DDATA/edge-test/micro820',
        payload: expect.stringMatching(/^Sparkplug B, 5 metrics: conveyor1\/motor_running=/),
      },
    ]);
    expect(heard).toEqual([]);
  });

  it('names each bad device and tag with what to do, and exits 1', async () => {
    const file = config([
      micro820({}, [
        { name: 'motor_speed', address: 'hr:100' },
        // The Micro 820 has no register 300: exception 2 for this tag only.
        { name: 'setpoint', address: 'hr:300:float32:CDAB' },
      ]),
      micro820({ name: 'wrong-unit', unitId: 7 }, [{ name: 'speed', address: 'hr:100' }]),
      {
        name: 'rs485',
        protocol: 'modbus-rtu',
        serial: { path: '/dev/ttyFACTORYLM-NONE', baudRate: 9600 },
        unitId: 3,
        asset: 'pump1',
        tags: [{ name: 'flow', address: 'ir:0' }],
      },
    ]);
    const text = await runCli(['agent', '--config', file, '--test']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/✖ conveyor1\/setpoint\s+hr:300:float32:CDAB\s+bad: exception 2/);
    expect(text.stdout).toMatch(/→ the device has no such address/);
    expect(text.stdout).toMatch(
      /✖ device wrong-unit .*: no answer: exception 11[\s\S]*→ a gateway answered but no device with unit id 7/,
    );
    expect(text.stdout).toMatch(
      /✖ device rs485 \(modbus-rtu rtu:\/dev\/ttyFACTORYLM-NONE@9600 unit 3\): no answer: .*ttyFACTORYLM-NONE[\s\S]*→ serial port \/dev\/ttyFACTORYLM-NONE does not exist/,
    );
    expect(text.stdout).toContain('2 devices not answering, 3 bad tags.');
    // A bad tag would still be published, as bad, with its reason.
    expect(text.stdout).toMatch(
      /conveyor1\/setpoint {2}\{"v":null,"ts":\d+,"q":"bad","r":"exception 2/,
    );
    expect(heard).toEqual([]);
  });
});
