import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startCli, type Running } from './support/processes.js';

let sim: Running;
let api: string;
let plc: string;

beforeAll(async () => {
  const [port, control] = await Promise.all([freePort(), freePort()]);
  sim = startCli([
    'sim',
    'modbus',
    '--port',
    String(port),
    '--units',
    '1,2',
    '--control-port',
    String(control),
    '--exception',
    '4@hr:105@2',
  ]);
  await sim.waitForOutput(/control API on/);
  api = `http://127.0.0.1:${control}`;
  plc = `modbus://127.0.0.1:${port}`;
});

afterAll(async () => {
  await sim?.stop();
});

const read = async (unit: number, range: string) =>
  JSON.parse(
    (await runCli(['read', `${plc}/${unit}`, range, '--json', '--timeout', '300'])).stdout,
  ) as { address: string; value: unknown; quality: string; reason?: string }[];

describe('simulator faults from flags and the HTTP control API', () => {
  it('applies the --exception flag to the unit it names only', async () => {
    expect((await read(2, 'hr:105'))[0]).toMatchObject({
      quality: 'bad',
      reason: 'exception 4 (server device failure)',
    });
    expect((await read(1, 'hr:105'))[0]).toMatchObject({ quality: 'good' });
  });

  it('sets, shows and clears faults at run time', async () => {
    const put = await fetch(`${api}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        exceptions: [{ area: 'coil', address: 3, code: 6 }],
        silentUnits: [2],
      }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      silentUnits: [2],
      exceptions: [{ area: 'coil', address: 3, code: 6 }],
    });
    expect((await read(1, 'coil:3'))[0]).toMatchObject({
      quality: 'bad',
      reason: 'exception 6 (server device busy)',
    });
    expect((await read(2, 'hr:100'))[0]).toMatchObject({ quality: 'bad', reason: 'timeout' });
    const stats = (await (await fetch(`${api}/stats`)).json()) as {
      faults: { timeouts: number; exceptions: number };
      units: number[];
    };
    expect(stats.units).toEqual([1, 2]);
    expect(stats.faults.timeouts).toBeGreaterThan(0);
    expect((await fetch(`${api}/faults`, { method: 'DELETE' })).status).toBe(200);
    expect((await read(1, 'coil:3'))[0]).toMatchObject({ quality: 'good' });
    expect((await read(2, 'hr:105'))[0]).toMatchObject({ quality: 'good' });
  });

  it('rejects a malformed fault body with the reason', async () => {
    const res = await fetch(`${api}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ timeoutRate: 2 }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/timeoutRate/);
  });

  it('injects and resets a machine fault', async () => {
    expect(
      (
        await fetch(`${api}/machine/fault`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ code: 3, unitId: 1 }),
        })
      ).status,
    ).toBe(200);
    const [alarm, code] = [(await read(1, 'coil:2'))[0], (await read(1, 'hr:105'))[0]];
    expect(alarm).toMatchObject({ value: true });
    expect(code).toMatchObject({ value: 3 });
    expect((await read(2, 'hr:105'))[0]).toMatchObject({ value: 0 });
    await fetch(`${api}/machine/reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect((await read(1, 'hr:105'))[0]).toMatchObject({ value: 0 });
  });
});
