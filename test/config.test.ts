import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { agentConfigSchema, loadAgentConfig, type ModbusDeviceConfig } from '../agent/config.js';
import { parseConfigText, substituteEnv } from '../core/config/load.js';
import { ConfigError } from '../core/errors.js';
import { gatewayConfigSchema } from '../gateway/config.js';
import { resolveTag } from '../protocols/modbus/tag-spec.js';
import { runCli } from './support/processes.js';

const EXAMPLE = 'deploy/examples/micro820.yaml';
const exampleText = readFileSync(EXAMPLE, 'utf8');

/** The example with one change applied to its parsed form, re-serialised. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary YAML shapes
function variant(change: (doc: any) => void, text = exampleText): string {
  const doc = parse(text);
  change(doc);
  return stringify(doc);
}

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'test.yaml', agentConfigSchema, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('config was accepted');
}

describe('agent config', () => {
  it('loads the shipped Micro 820 example with the whole register map', async () => {
    const config = await loadAgentConfig(EXAMPLE, {});
    expect(config.site).toBe('plant1');
    expect(config.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    expect(config.mqtt.username).toBeUndefined();
    const device = config.devices[0] as ModbusDeviceConfig;
    expect(device.port).toBe(5020);
    expect(device.tags).toHaveLength(24);
    expect(device.tags.find((t) => t.name === 'motor_current')).toMatchObject({
      address: 'hr:101',
      scale: 0.1,
      unit: 'A',
      writable: false,
    });
    expect(device.tags.filter((t) => t.writable).map((t) => t.address)).toEqual([
      'coil:0',
      'coil:1',
      'coil:2',
      'coil:3',
      'coil:4',
      'coil:5',
      'coil:6',
      'coil:15',
      'coil:16',
      'coil:17',
    ]);
  });

  it('takes secrets and typed values from the environment', async () => {
    const config = await loadAgentConfig(EXAMPLE, {
      MQTT_PASSWORD: 's3cret',
      MQTT_USERNAME: 'edge',
      PLC_PORT: '502',
      PLC_HOST: '10.0.0.5',
    });
    expect(config.mqtt.password).toBe('s3cret');
    const device = config.devices[0] as ModbusDeviceConfig;
    expect(device.port).toBe(502);
    expect(device.host).toBe('10.0.0.5');
  });

  it.each<[string, string, NodeJS.ProcessEnv, RegExp]>([
    [
      'unknown field',
      variant((d) => (d.devices[0].pollIntervall = 5)),
      {},
      /^devices\[0\]\.pollIntervall: unknown field; did you mean "pollIntervalMs"\?/,
    ],
    [
      'bad address',
      variant((d) => (d.devices[0].tags[3].address = 'HR40001x')),
      {},
      /^devices\[0\]\.tags\[3\]\.address: "HR40001x" is not a Modbus address; expected e\.g\. "hr:100", "coil:3"/,
    ],
    [
      'duplicate tag name',
      variant((d) => (d.devices[0].tags[5].name = 'motor_running')),
      {},
      /^devices\[0\]\.tags\[5\]\.name: duplicate tag "conveyor1\/motor_running" \(first at devices\[0\]\.tags\[0\]\)/,
    ],
    [
      'poll interval 0',
      variant((d) => (d.devices[0].pollIntervalMs = 0)),
      {},
      /^devices\[0\]\.pollIntervalMs: must be at least 10 ms/,
    ],
    [
      'unknown protocol',
      variant((d) => (d.devices[0].protocol = 'profinet')),
      {},
      /^devices\[0\]\.protocol: unknown protocol "profinet"; supported: modbus-tcp/,
    ],
    [
      'missing env variable',
      exampleText.replace('${MQTT_PASSWORD:-}', '${MQTT_PASSWORD}'),
      {},
      /^mqtt\.password: environment variable MQTT_PASSWORD is not set \(referenced as \$\{MQTT_PASSWORD\}\)/,
    ],
    [
      'missing required field',
      variant((d) => delete d.site),
      {},
      /^site: required field is missing \(expected string\)/,
    ],
    ['wrong type', variant((d) => (d.devices[0].port = 'five')), {}, /^devices\[0\]\.port: /],
    [
      'port out of range',
      variant((d) => (d.devices[0].port = 70000)),
      {},
      /^devices\[0\]\.port: .*65535/,
    ],
    [
      'writable discrete input',
      variant((d) => d.devices[0].tags.push({ name: 'x', address: 'di:1', writable: true })),
      {},
      /^devices\[0\]\.tags\[24\]\.writable: di:1 is a discrete input, which Modbus cannot write/,
    ],
    [
      'non-bool type on a coil',
      variant((d) => (d.devices[0].tags[0].type = 'uint16')),
      {},
      /^devices\[0\]\.tags\[0\]\.type: a coil holds one bit; type must be bool/,
    ],
    [
      'unknown data type',
      variant((d) => (d.devices[0].tags[20].type = 'double')),
      {},
      /^devices\[0\]\.tags\[20\]\.type: "double" is not a data type; expected one of bool, int16/,
    ],
    [
      'topic wildcard in a name',
      variant((d) => (d.devices[0].tags[1].name = 'motor/stopped')),
      {},
      /^devices\[0\]\.tags\[1\]\.name: tag name "motor\/stopped" must not contain "\/"/,
    ],
    [
      'bad broker URL',
      variant((d) => (d.mqtt.url = 'localhost:1883')),
      {},
      /^mqtt\.url: must be a broker URL/,
    ],
    ['no devices', variant((d) => (d.devices = [])), {}, /^devices: configure at least one device/],
    [
      'duplicate device',
      variant((d) => d.devices.push(structuredClone(d.devices[0]))),
      {},
      /^devices\[1\]\.name: duplicate device name "micro820"/,
    ],
    [
      'YAML syntax error',
      'site: plant1\n  area: [unclosed\n',
      {},
      /^line \d+, column \d+: YAML syntax/,
    ],
  ])('%s is reported with its path', (_name, text, env, expected) => {
    const issues = issuesOf(text, env);
    expect(
      issues.some((i) => expected.test(i)),
      issues.join('\n'),
    ).toBe(true);
  });

  it('reports every problem at once, not just the first', () => {
    const issues = issuesOf(
      variant((d) => {
        d.devices[0].pollIntervalMs = 0;
        d.devices[0].tags[0].address = 'nope';
        d.extra = 1;
      }),
    );
    expect(issues).toHaveLength(3);
  });

  it('substitutes defaults and leaves literal text alone', () => {
    const issues: never[] = [];
    expect(
      substituteEnv({ a: 'x-${A:-1}-y', b: '${B:-true}', c: 'plain $ {text}' }, {}, issues),
    ).toEqual({ a: 'x-1-y', b: true, c: 'plain $ {text}' });
  });
});

describe('RTU example config', () => {
  it('loads, with the classic address converted and the device byte order applied', async () => {
    const config = await loadAgentConfig('deploy/examples/modbus-rtu.yaml', {});
    expect(config.devices.map((d) => d.protocol)).toEqual([
      'modbus-rtu',
      'modbus-rtu',
      'modbus-rtu-over-tcp',
    ]);
    const rtu = config.devices[0] as ModbusDeviceConfig;
    expect(rtu.serial).toEqual({
      path: '/dev/ttyUSB0',
      baudRate: 19200,
      parity: 'even',
      dataBits: 8,
      stopBits: 1,
    });
    const setpoint = rtu.tags.find((t) => t.name === 'setpoint')!;
    expect(resolveTag('x', setpoint, rtu.byteOrder)).toMatchObject({
      address: { area: 'hr', offset: 30 },
      format: { type: 'uint16', order: 'CDAB' },
      note: 'classic 1-based address 40031 is hr:30 (0-based holding register 30)',
    });
  });

  it('refuses different serial settings for devices on one line, and a unit id used twice', () => {
    const rtuText = readFileSync('deploy/examples/modbus-rtu.yaml', 'utf8');
    const rtu = (change: Parameters<typeof variant>[0]) => issuesOf(variant(change, rtuText));
    const twice = rtu((d) => (d.devices[1].unitId = 1));
    expect(
      twice.some((i) =>
        /^devices\[1\]\.unitId: unit id 1 is already used on rtu:\/dev\/ttyUSB0@19200/.test(i),
      ),
      twice.join('\n'),
    ).toBe(true);
    const odd = rtu((d) => (d.devices[1].serial.parity = 'odd'));
    expect(
      odd.some((i) =>
        /^devices\[1\]\.serial: devices on one serial line need the same settings as devices\[0\]/.test(
          i,
        ),
      ),
      odd.join('\n'),
    ).toBe(true);
  });
});

describe('gateway config', () => {
  it('loads the shipped example', () => {
    const config = parseConfigText(
      readFileSync('deploy/examples/gateway.yaml', 'utf8'),
      'gateway.yaml',
      gatewayConfigSchema,
      { INFLUXDB_URL: 'http://127.0.0.1:8428' },
    );
    expect(config.influx).toMatchObject({
      api: 'v2',
      url: 'http://127.0.0.1:8428',
      org: 'factorylm',
      bucket: 'sensors',
    });
    expect(config.subscribe.shareGroup).toBeNull();
  });
});

describe('gateway config with the maintenance bridge', () => {
  it('loads the shipped example', () => {
    const config = parseConfigText(
      readFileSync('deploy/examples/gateway-maintenance.yaml', 'utf8'),
      'gateway-maintenance.yaml',
      gatewayConfigSchema,
      { ATLAS_URL: 'http://atlas:8080' },
    );
    expect(config.maintenance?.rules).toHaveLength(2);
    expect(config.maintenance?.llm).toMatchObject({ model: 'llama3.2:3b', waitMs: 20_000 });
    expect(config.maintenance?.cmms).toMatchObject({
      url: 'http://atlas:8080',
      passwordEnv: 'ATLAS_PASSWORD',
    });
  });

  it('names the YAML path of a bad rule', () => {
    expect(() =>
      parseConfigText(
        'maintenance:\n  rules:\n    - { name: x, tag: t, kind: high, limt: 3 }\n',
        'gw.yaml',
        gatewayConfigSchema,
        {},
      ),
    ).toThrow(/maintenance\.rules\[0\]/);
  });
});

describe('factorylm config (CLI)', () => {
  it('validates the example and prints a summary', async () => {
    const { code, stdout } = await runCli(['config', 'validate', EXAMPLE]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/valid agent config \(node edge-01, 1 device\(s\), 24 tag\(s\)\)/);
  });

  it('exits 2 and names the path for a bad file', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'flm-')), 'bad.yaml');
    writeFileSync(
      file,
      variant((d) => (d.devices[0].tags[3].address = 'HR40001x')),
    );
    const { code, stderr } = await runCli(['config', 'validate', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('devices[0].tags[3].address: "HR40001x" is not a Modbus address');
  });

  it('prints a JSON Schema that describes the fields', async () => {
    const { code, stdout } = await runCli(['config', 'schema']);
    expect(code).toBe(0);
    const schema = JSON.parse(stdout);
    expect(schema.required).toEqual(
      expect.arrayContaining(['site', 'area', 'line', 'mqtt', 'devices']),
    );
    // Devices are one of two kinds: Modbus first, then OPC UA.
    const [modbus, opcua] = schema.properties.devices.items.oneOf;
    expect(modbus.properties.pollIntervalMs.description).toMatch(/Poll interval/);
    expect(opcua.properties.endpoint.description).toMatch(/opc\.tcp:\/\//);
    const gateway = JSON.parse((await runCli(['config', 'schema', '--kind', 'gateway'])).stdout);
    expect(gateway.properties.influx).toBeDefined();
  });
});
