import { connect, createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { ModbusDeviceSource, type ModbusTagSpec } from '../protocols/modbus/device-source.js';
import { ModbusLine } from '../protocols/modbus/line.js';
import { encodeTcpFrame } from '../protocols/modbus/pdu.js';
import { encodeRtuFrame } from '../protocols/modbus/rtu.js';
import { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { waitFor } from './support/wait.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

let seed = 12345;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}
const int = (n: number) => Math.floor(random() * n);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

/** A frame of one of several broken kinds, for the simulator. */
function badRequest(framing: 'tcp' | 'rtu'): Buffer {
  const pdu = random() < 0.5 ? bytes(1 + int(12)) : Buffer.from([1 + int(16), ...bytes(int(8))]);
  const frame =
    framing === 'tcp' ? encodeTcpFrame(int(65536), int(256), pdu) : encodeRtuFrame(int(256), pdu);
  switch (int(4)) {
    case 0:
      return bytes(1 + int(40));
    case 1:
      return frame.subarray(0, int(frame.length));
    case 2: {
      const mangled = Buffer.from(frame);
      mangled[int(mangled.length)] = int(256);
      return mangled;
    }
    default:
      return frame;
  }
}

const sims: Micro820Simulator[] = [];
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  for (const s of servers) s.close();
});

describe('fuzz', () => {
  it.each(['tcp', 'rtu'] as const)(
    'the simulator survives thousands of random and truncated %s frames',
    async (framing) => {
      const sim = new Micro820Simulator({ port: 0, framing });
      sims.push(sim);
      const port = await sim.start();
      const blast = async (frames: number) => {
        let sent = 0;
        while (sent < frames) {
          const socket = connect(port, '127.0.0.1');
          await new Promise<void>((resolve) => {
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
            socket.on('connect', () => {
              for (let i = 0; i < 200 && sent < frames; i++, sent++)
                socket.write(badRequest(framing));
              setTimeout(() => socket.destroy(), 20);
            });
          });
        }
      };
      await blast(500);
      const before = heapMb();
      await blast(4000);
      const after = heapMb();
      expect(sim.stats.requests + sim.stats.framingErrors).toBeGreaterThan(0);
      // Still serving real requests.
      const line = new ModbusLine({
        transport: { kind: framing === 'tcp' ? 'tcp' : 'rtu-over-tcp', host: '127.0.0.1', port },
        timeoutMs: 500,
        maxInflight: 1,
        interRequestDelayMs: 0,
      });
      const source = new ModbusDeviceSource(
        { name: 'check', unitId: 1 },
        [
          {
            id: 'speed',
            address: { area: 'hr', offset: 100 },
            format: { type: 'uint16', order: 'ABCD' },
          },
        ],
        line,
      );
      const check = (await source.read()).readings();
      expect(check[0], JSON.stringify(check)).toMatchObject({ quality: 'good' });
      await line.close();
      expect(after - before).toBeLessThan(10);
    },
  );

  it('the client survives thousands of random, truncated and mismatched responses', async () => {
    let answered = 0;
    const server = createServer((socket: Socket) => {
      socket.on('data', (chunk: Buffer) => {
        if (chunk.length < 8) return;
        answered += 1;
        const tid = chunk.readUInt16BE(0);
        const fc = chunk[7]!;
        const count = chunk.length >= 12 ? chunk.readUInt16BE(10) : 1;
        const good =
          fc <= 2
            ? Buffer.from([fc, Math.ceil(count / 8), ...bytes(Math.ceil(count / 8))])
            : Buffer.from([fc, count * 2, ...bytes(count * 2)]);
        let reply: Buffer;
        switch (int(6)) {
          case 0:
            reply = bytes(1 + int(30));
            break;
          case 1:
            reply = encodeTcpFrame(tid, chunk[6]!, good).subarray(0, 7 + int(good.length));
            break;
          case 2:
            reply = encodeTcpFrame(tid, chunk[6]!, Buffer.from([fc | 0x80, int(256)]));
            break;
          case 3:
            reply = encodeTcpFrame(tid, chunk[6]!, bytes(1 + int(20)));
            break;
          case 4:
            reply = encodeTcpFrame((tid + 1) & 0xffff, chunk[6]!, good);
            break;
          default:
            reply = encodeTcpFrame(tid, chunk[6]!, good);
        }
        if (int(20) === 0) socket.destroy();
        else socket.write(reply);
      });
      socket.on('error', () => socket.destroy());
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const tags: ModbusTagSpec[] = [
      { id: 'c', address: { area: 'coil', offset: 0 }, format: { type: 'bool', order: 'ABCD' } },
      { id: 'f', address: { area: 'hr', offset: 0 }, format: { type: 'float32', order: 'CDAB' } },
      {
        id: 's',
        address: { area: 'hr', offset: 10 },
        format: { type: 'string', order: 'ABCD', length: 8 },
      },
      { id: 'i', address: { area: 'ir', offset: 3 }, format: { type: 'int64', order: 'DCBA' } },
    ];
    const line = new ModbusLine({
      transport: { kind: 'tcp', host: '127.0.0.1', port },
      timeoutMs: 20,
      maxInflight: 1,
      interRequestDelayMs: 0,
      backoff: { initialMs: 5, maxMs: 20 },
    });
    const source = new ModbusDeviceSource(
      { name: 'fuzzed', unitId: 1, retries: 0, maxGap: 0, failAfterPolls: 1000 },
      tags,
      line,
    );
    const qualities = new Set<string>();
    let before = 0;
    for (let round = 0; answered < 2000; round++) {
      const readings = (await source.read()).readings();
      expect(readings).toHaveLength(tags.length);
      for (const r of readings) {
        qualities.add(r.quality);
        if (r.quality === 'good') expect(r.value).not.toBeNull();
        else expect(r.reason).toBeTruthy();
      }
      if (round === 100) before = heapMb();
      if (readings.every((r) => r.quality === 'bad') && !line.connected)
        await new Promise((r) => setTimeout(r, 5));
    }
    const after = heapMb();
    await line.close();
    expect(qualities).toEqual(new Set(['good', 'bad']));
    expect(after - before).toBeLessThan(10);
    await waitFor('no leftover requests', () => true);
  }, 120_000);
});
