import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Check } from '../core/checks.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { startSimulator, writeConfig } from './support/pipeline.js';
import { freePort, runCli } from './support/processes.js';
import {
  startInfluxDb1,
  startMosquitto,
  startVictoriaMetrics,
  type Service,
} from './support/services.js';

/** `factorylm doctor` against real services: a Mosquitto with a password file, VictoriaMetrics. */
let sim: Micro820Simulator;
let mosquitto: Service;
let vm: Service;
let influx1: Service;
let busy: Server;
let busyPort: number;
let work: string;

beforeAll(async () => {
  [sim, mosquitto, vm, influx1] = await Promise.all([
    startSimulator(),
    startMosquitto({ users: { 'edge-01': 'right-password-0123' } }),
    startVictoriaMetrics(),
    startInfluxDb1(),
  ]);
  busyPort = await freePort();
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(busyPort, '127.0.0.1', resolve));
  work = mkdtempSync(join(tmpdir(), 'factorylm-doctor-'));
});

afterAll(async () => {
  await new Promise((resolve) => busy?.close(resolve));
  await sim?.stop();
  await Promise.all([mosquitto?.stop(), vm?.stop(), influx1?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

function agentConfig(over: {
  password?: string;
  outbox?: string;
  healthPort?: number;
  devices?: object[];
}) {
  return writeConfig('agent', {
    site: 'plant1',
    area: 'packaging',
    line: 'line1',
    node: 'edge-01',
    mqtt: {
      url: mosquitto.url,
      username: 'edge-01',
      password: over.password ?? 'right-password-0123',
    },
    outbox: { path: over.outbox ?? join(work, 'outbox.db'), maxBytes: 10_000_000 },
    health: { port: over.healthPort ?? 0 },
    devices: over.devices ?? [
      {
        name: 'micro820',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: sim.port,
        unitId: 1,
        asset: 'conveyor1',
        timeoutMs: 1000,
        tags: [
          { name: 'motor_running', address: 'coil:0' },
          { name: 'motor_speed', address: 'hr:100' },
        ],
      },
    ],
  });
}

async function doctor(file: string) {
  const r = await runCli(['doctor', '--config', file, '--json']);
  const body = JSON.parse(r.stdout) as { failed: number; checks: Check[] };
  const find = (prefix: string) => body.checks.find((c) => c.name.startsWith(prefix));
  return { ...r, ...body, find };
}

describe('factorylm doctor', () => {
  it('passes a node whose setup is right; warnings (Node 20, clock unknown) do not count', async () => {
    const file = agentConfig({});
    const r = await doctor(file);
    // This machine's clock is its own business: everything else must pass.
    const failed = r.checks.filter((c) => c.status === 'fail').map((c) => c.name);
    expect(failed.filter((name) => name !== 'clock')).toEqual([]);
    expect(r.code, r.stdout).toBe(failed.length);
    expect(r.find('agent config')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/1 device, 2 tags/),
    });
    expect(r.find('broker')).toMatchObject({ status: 'ok', detail: 'connected as edge-01' });
    expect(r.find('outbox folder')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^writable, \d+ MiB free/),
    });
    expect(r.find('device micro820')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/2 tags good/),
    });
    expect(r.find('Node.js')!.status).toMatch(/ok|warn/);
    // The text form: one line per check, and the count.
    const text = await runCli(['doctor', '--config', file]);
    expect(text.code).toBe(failed.length);
    expect(text.stdout).toMatch(/^✔ broker mqtt:\/\/127\.0\.0\.1:\d+: connected as edge-01$/m);
    expect(text.stdout).toMatch(/All \d+ checks passed|1 of \d+ checks failed/);
  });

  it('names every problem with its fix; the exit code is the number of failed checks', async () => {
    const file = agentConfig({
      password: 'wrong-password-0123',
      // sysfs: not writable even by root, like a read-only mount.
      outbox: '/sys/kernel/factorylm-outbox.db',
      healthPort: busyPort,
      devices: [
        {
          name: 'wrong-unit',
          protocol: 'modbus-tcp',
          host: '127.0.0.1',
          port: sim.port,
          unitId: 9,
          asset: 'conveyor1',
          timeoutMs: 1000,
          tags: [{ name: 'motor_speed', address: 'hr:100' }],
        },
        {
          name: 'rs485',
          protocol: 'modbus-rtu',
          serial: { path: '/dev/ttyFACTORYLM-NONE', baudRate: 19200 },
          unitId: 3,
          asset: 'pump1',
          timeoutMs: 500,
          tags: [{ name: 'flow', address: 'ir:0' }],
        },
      ],
    });
    const r = await doctor(file);
    expect(r.find('broker')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/Not authorized|Bad User Name or Password/i),
      fix: expect.stringMatching(/refused user "edge-01": check mqtt\.username and mqtt\.password/),
    });
    expect(r.find('outbox folder /sys/kernel')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^not writable: /),
    });
    expect(r.find('health port')).toMatchObject({
      status: 'fail',
      detail: 'in use by another process',
      fix: expect.stringContaining(`sport = :${busyPort}`),
    });
    expect(r.find('serial port /dev/ttyFACTORYLM-NONE')).toMatchObject({
      status: 'fail',
      detail: 'does not exist',
      fix: expect.stringMatching(/by-id/),
    });
    expect(r.find('device wrong-unit')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/no answer: exception 11/),
      fix: expect.stringMatching(/unit id 9/),
    });
    expect(r.find('device rs485')).toMatchObject({ status: 'fail' });
    expect(r.failed).toBe(6);
    expect(r.code).toBe(6);
  });

  it('checks a gateway: broker, InfluxDB reachable and writable, spool folder, HTTP port', async () => {
    const good = writeConfig('gateway', {
      name: 'gw',
      mqtt: { url: mosquitto.url, username: 'edge-01', password: 'right-password-0123' },
      influx: { url: vm.url, token: 'unused-by-victoria-metrics' },
      http: { host: '127.0.0.1', port: 0 },
    });
    const ok = await doctor(good);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.find('InfluxDB')).toMatchObject({
      status: 'ok',
      detail: 'reachable and writable (API v2)',
    });
    expect(ok.find('spool folder')!.status).toBe('ok');

    // A real InfluxDB 1.6 without the configured database refuses the write (404).
    const bad = writeConfig('gateway', {
      name: 'gw',
      mqtt: { url: mosquitto.url, username: 'edge-01', password: 'right-password-0123' },
      influx: { api: 'v1', url: influx1.url, database: 'no_such_database' },
      http: { host: '127.0.0.1', port: busyPort },
    });
    const r = await doctor(bad);
    expect(r.find('InfluxDB')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/database not found/),
      fix: expect.stringMatching(/create the bucket \(v2\) or database \(v1\)/),
    });
    expect(r.find('http port')).toMatchObject({ status: 'fail' });
    expect(r.code).toBe(2);
  });

  it('says what is wrong with a config that does not load', async () => {
    const r = await runCli(['doctor', '--config', join(work, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✖ config .*missing\.yaml: .*ENOENT/);
  });
});
