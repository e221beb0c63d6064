import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { parseConfigText } from '../core/config/load.js';
import { agentConfigSchema, loadAgentConfig, type OpcuaDeviceConfig } from './config.js';

type Doc = Record<string, unknown> & { devices: Record<string, unknown>[] };

function doc(device: Record<string, unknown> = {}): Doc {
  return {
    site: 's',
    area: 'a',
    line: 'l',
    mqtt: { url: 'mqtt://127.0.0.1:1883' },
    devices: [
      {
        name: 'line1',
        protocol: 'opcua',
        endpoint: 'opc.tcp://127.0.0.1:4840',
        asset: 'conveyor',
        tags: [
          { name: 'speed', node: 'ns=2;s=Line1.Conveyor.Motor.Speed' },
          { name: 'temp', path: '/Objects/Plant/Line1/Conveyor/Motor/Temperature', mode: 'poll' },
        ],
        ...device,
      },
    ],
  };
}

function parse(d: Doc) {
  return parseConfigText(stringify(d), 'test.yaml', agentConfigSchema, {});
}

function issuesOf(d: Doc): string[] {
  try {
    parse(d);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('config was accepted');
}

describe('opcua device config', () => {
  it('loads the shipped example', async () => {
    const config = await loadAgentConfig('deploy/examples/opcua.yaml', {});
    const device = config.devices[0] as OpcuaDeviceConfig;
    expect(device).toMatchObject({ protocol: 'opcua', endpoint: 'opc.tcp://127.0.0.1:4840' });
    expect(device.tags).toHaveLength(9);
    expect(device.tags.find((t) => t.name === 'temperature')!.path).toBe(
      '/Objects/Plant/Line1/Conveyor/Motor/Temperature',
    );
    expect(device.tags.filter((t) => t.writable).map((t) => t.name)).toEqual(['motor_running']);
  });

  it('fills the defaults of a minimal device', () => {
    const device = parse(doc()).devices[0] as OpcuaDeviceConfig;
    expect(device).toMatchObject({
      securityMode: 'None',
      securityPolicy: 'None',
      identity: { type: 'anonymous' },
      acceptUnknownServerCertificate: false,
      mode: 'subscription',
      publishingIntervalMs: 1000,
      samplingIntervalMs: 500,
      queueSize: 10,
      pollIntervalMs: 1000,
    });
    expect(device.tags[1]).toMatchObject({ mode: 'poll', scale: 1, writable: false });
  });

  it('takes security, identity and per-tag subscription settings', () => {
    const device = parse(
      doc({
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Aes256_Sha256_RsaPss',
        identity: { type: 'username', username: 'operator', password: 'pw' },
        tags: [
          {
            name: 'speed',
            node: 'ns=2;s=S',
            publishingIntervalMs: 100,
            samplingIntervalMs: 50,
            queueSize: 5,
            filter: { deadband: 'percent', value: 2 },
          },
        ],
      }),
    ).devices[0] as OpcuaDeviceConfig;
    expect(device.identity).toEqual({ type: 'username', username: 'operator', password: 'pw' });
    expect(device.tags[0]).toMatchObject({ filter: { deadband: 'percent', value: 2 } });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a bad node id',
      { tags: [{ name: 'x', node: 'Line1.Speed' }] },
      /^devices\[0\]\.tags\[0\]\.node: "Line1\.Speed" is not a node id/,
    ],
    [
      'no node at all',
      { tags: [{ name: 'x' }] },
      /^devices\[0\]\.tags\[0\]\.path: a tag needs node/,
    ],
    [
      'a Modbus address on an OPC UA tag',
      { tags: [{ name: 'x', node: 'i=85', address: 'hr:1' }] },
      /^devices\[0\]\.tags\[0\]\.address: unknown field/,
    ],
    [
      'a secure mode without a policy',
      { securityMode: 'Sign' },
      /^devices\[0\]\.securityPolicy: securityMode Sign needs a securityPolicy/,
    ],
    ['an unknown policy', { securityPolicy: 'Basic128Rsa15' }, /^devices\[0\]\.securityPolicy: /],
    [
      'an http endpoint',
      { endpoint: 'http://plc:4840' },
      /^devices\[0\]\.endpoint: must look like opc\.tcp/,
    ],
    [
      'a username without a password',
      { identity: { type: 'username', username: 'u' } },
      /^devices\[0\]\.identity\.password: required field is missing/,
    ],
    [
      'a typo in a field',
      { publishingInterval: 100 },
      /^devices\[0\]\.publishingInterval: unknown field; did you mean "publishingIntervalMs"\?/,
    ],
  ])('reports %s with its path', (_name, device, expected) => {
    const issues = issuesOf(doc(device));
    expect(
      issues.some((i) => expected.test(i)),
      issues.join('\n'),
    ).toBe(true);
  });

  it('refuses the same asset/tag on an OPC UA and a Modbus device', () => {
    const d = doc();
    d.devices.push({
      name: 'plc',
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      asset: 'conveyor',
      tags: [{ name: 'speed', address: 'hr:100' }],
    });
    expect(issuesOf(d)).toContainEqual(expect.stringMatching(/duplicate tag "conveyor\/speed"/));
  });
});
