import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startCli, type Running } from './support/processes.js';

/**
 * `read` and `write` take the config's address grammar, driven as a user would: the real CLI
 * against `sim modbus --synthetic`, whose values stand still with --change 0. Its layout from
 * hr:0 (simulators/synthetic.ts): uint16 0, int16 -29999, float32 0.5 (hr:2-3), uint32 3
 * (hr:4-5), bit 0 at hr:6.0, uint16 5, int16 -29994, float32 1.75 (hr:9-10), uint32 8 (hr:11-12),
 * bit 1 at hr:13.0; 14 registers, nothing beyond.
 */
let sim: Running;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  sim = startCli(['sim', 'modbus', '--synthetic', '1x10', '--change', '0', '--port', String(port)]);
  await sim.waitForOutput(/Modbus server listening/);
  url = `modbus://127.0.0.1:${port}/1`;
});

afterAll(async () => {
  await sim?.stop();
});

interface Row {
  address: string;
  value: unknown;
  quality: string;
  reason?: string;
}

async function read(args: string[]) {
  const r = await runCli(['read', url, ...args, '--json']);
  return {
    ...r,
    rows: r.code === 0 || r.stdout.startsWith('[') ? (JSON.parse(r.stdout) as Row[]) : [],
  };
}

describe('factorylm read: one address grammar', () => {
  it.each<{ args: string[]; rows: [string, unknown][] }>([
    { args: ['hr:2:float32'], rows: [['hr:2:float32:ABCD', 0.5]] },
    // Issue 16: a single address whose type spans two registers printed an empty table, exit 0.
    { args: ['hr:2', '--type', 'float32'], rows: [['hr:2:float32:ABCD', 0.5]] },
    { args: ['hr:9..10:float32'], rows: [['hr:9:float32:ABCD', 1.75]] },
    { args: ['40003', '--type', 'float32'], rows: [['hr:2:float32:ABCD', 0.5]] },
    {
      args: ['40001..40002'],
      rows: [
        ['hr:0', 0],
        ['hr:1', 35537],
      ],
    },
    {
      args: ['hr:0..1', '--type', 'int16'],
      rows: [
        ['hr:0:int16', 0],
        ['hr:1:int16', -29999],
      ],
    },
    {
      args: ['hr:4:uint32', 'hr:11:uint32'],
      rows: [
        ['hr:4:uint32:ABCD', 3],
        ['hr:11:uint32:ABCD', 8],
      ],
    },
    { args: ['hr:4..5:uint32:CDAB'], rows: [['hr:4:uint32:CDAB', 3 * 65536]] },
    {
      args: ['hr:6.0', 'hr:13.0'],
      rows: [
        ['hr:6.0', false],
        ['hr:13.0', true],
      ],
    },
    {
      args: ['hr:7..8:int16:ABCD'],
      rows: [
        ['hr:7:int16', 5],
        ['hr:8:int16', -29994],
      ],
    },
  ])('read $args', async ({ args, rows }) => {
    const r = await read(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.rows.map((row) => [row.address, row.value])).toEqual(rows);
  });

  it('reads a whole range, one value per register', async () => {
    const r = await read(['hr:0..13']);
    expect(r.code).toBe(0);
    expect(r.rows).toHaveLength(14);
  });

  it('says what a classic address means', async () => {
    const r = await runCli(['read', url, '40003', '--type', 'float32']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('note: classic 1-based address 40003 is hr:2');
    expect(r.stdout).toMatch(/^hr:2:float32:ABCD\s+0\.5$/m);
  });

  it.each<{ args: string[]; error: RegExp }>([
    {
      args: ['hr:2..4', '--type', 'float32'],
      error: /spans 3 registers, not a whole number of float32 values/,
    },
    { args: ['hr:2:float32', '--type', 'int16'], error: /type int16 disagrees/ },
    { args: ['hr:1..'], error: /not a Modbus range/ },
    { args: ['hr:1:float'], error: /float/ },
    { args: ['4000x'], error: /"4000x" is not a Modbus address/ },
  ])('refuses $args before sending anything, exit 1', async ({ args, error }) => {
    const r = await runCli(['read', url, ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(error);
    expect(r.stdout).toBe('');
  });

  it('reads the good part of a range the device refuses in part (exception 2), and exits 1', async () => {
    const r = await read(['hr:12..14']);
    expect(r.code).toBe(1);
    expect(r.rows).toEqual([
      { address: 'hr:12', value: 8, quality: 'good' },
      { address: 'hr:13', value: 1, quality: 'good' },
      {
        address: 'hr:14',
        value: null,
        quality: 'bad',
        reason: 'exception 2 (illegal data address)',
      },
    ]);
    expect(r.stderr).toMatch(/no such address/);
  });

  it('names a wrong unit id, exit 1', async () => {
    const r = await runCli(['read', url.replace(/\/1$/, '/7'), 'hr:0', '--timeout', '1000']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^hr:0\s+BAD \(exception 11/m);
    expect(r.stderr).toMatch(/no device with unit id 7/);
  });

  it('names a serial port that does not exist, exit 1', async () => {
    const r = await runCli(['read', 'modbus-rtu:///dev/ttyNOPE0?baud=9600/1', 'hr:0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^hr:0\s+BAD \(disconnected:.*\/dev\/ttyNOPE0/m);
    expect(r.stderr).toMatch(/serial port \/dev\/ttyNOPE0 does not exist/);
  });
});

describe('factorylm write: the same grammar', () => {
  it.each<{ assign: string; label: string; readBack: string[]; value: unknown }>([
    {
      assign: 'hr:2:float32=2.25',
      label: 'hr:2:float32:ABCD',
      readBack: ['hr:2:float32'],
      value: 2.25,
    },
    { assign: '40001=7', label: 'hr:0', readBack: ['hr:0'], value: 7 },
    {
      assign: 'hr:8:int16=-5',
      label: 'hr:8:int16',
      readBack: ['hr:8', '--type', 'int16'],
      value: -5,
    },
    {
      assign: 'hr:11:uint32:CDAB=65537',
      label: 'hr:11:uint32:CDAB',
      readBack: ['hr:11..12:uint32:CDAB'],
      value: 65537,
    },
  ])('write $assign, then read it back', async ({ assign, label, readBack, value }) => {
    const w = await runCli(['write', url, assign]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain(`${label} = `);
    const r = await read(readBack);
    expect(r.rows.map((row) => row.value)).toEqual([value]);
  });

  it.each<{ args: string[]; error: RegExp }>([
    { args: ['hr:0..1=5'], error: /"hr:0\.\.1" is not a Modbus address/ },
    { args: ['hr:2:float32=abc'], error: /abc/ },
    { args: ['ir:0=1'], error: /input register/ },
  ])('refuses $args, exit 1', async ({ args, error }) => {
    const r = await runCli(['write', url, ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(error);
  });

  it('names a wrong unit id on write, exit 1', async () => {
    const r = await runCli(['write', url.replace(/\/1$/, '/7'), 'hr:0=1', '--timeout', '1000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /hr:0: write to hr:0 on .* failed: exception 11[\s\S]*no device with unit id 7/,
    );
  });
});
