import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../test/support/wait.js';
import { influxSchema } from './config.js';
import { createInfluxWriter, type InfluxWriter } from './influx-sink.js';
import { Spool } from './spool.js';
import { SpoolSink, type SpoolSinkOptions } from './spool-sink.js';

/**
 * An InfluxDB write endpoint on 127.0.0.1 whose answers the test controls: it records the
 * lines of every body it accepts, in order, and can fail, refuse lines, or answer slowly.
 */
class FakeInflux {
  /** Lines accepted, in the order they arrived. */
  readonly lines: string[] = [];
  /** 'up': 204; 'down': 503; a number: that status for every request. */
  mode: 'up' | 'down' | number = 'up';
  /** A body with a line containing this is refused with 400, like a field type conflict. */
  refuse?: string;
  delayMs = 0;
  /** Retry-After header sent with 503. */
  retryAfter?: string;
  requests = 0;
  private server?: Server;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    this.requests += 1;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.mode === 'down')
      return void res
        .writeHead(503, this.retryAfter ? { 'retry-after': this.retryAfter } : {})
        .end('{"error":"unavailable"}');
    if (typeof this.mode === 'number') return void res.writeHead(this.mode).end('{"error":"no"}');
    const lines = body.split('\n');
    if (this.refuse && lines.some((l) => l.includes(this.refuse!)))
      return void res.writeHead(400).end('{"error":"partial write: field type conflict"}');
    this.lines.push(...lines);
    res.writeHead(204).end();
  }
}

let dir: string;
let influx: FakeInflux;
let logs: string[];
let log: Logger;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'factorylm-spool-sink-'));
  influx = new FakeInflux();
  await influx.start();
  logs = [];
  log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  );
});

afterEach(async () => {
  await influx.stop();
  rmSync(dir, { recursive: true, force: true });
});

const TS = 1_700_000_000_000;
const line = (i: number) => `plc_tags,tag=t${i % 7} value=${i} ${TS + i}`;

interface Harness {
  sink: SpoolSink<number>;
  spool: Spool;
  /** Tickets acknowledged, in order. */
  acked: number[];
  /** One message carrying these lines, with ticket `id`. */
  message: (id: number, lines: string[]) => void;
}

function harness(
  options: Partial<SpoolSinkOptions> = {},
  writer: InfluxWriter = createInfluxWriter(
    influxSchema.parse({ api: 'v1', url: influx.url, database: 'db', timeoutMs: 2000 }),
  ),
  path = join(dir, 'spool.db'),
): Harness {
  const maxSpoolBytes = options.maxSpoolBytes ?? 10_000_000;
  const spool = new Spool(path, { maxBytes: maxSpoolBytes, maxAgeMs: 3_600_000 }, log);
  const acked: number[] = [];
  const sink = new SpoolSink<number>(
    writer,
    spool,
    {
      batchSize: 10,
      flushIntervalMs: 20,
      maxBufferLines: 10_000,
      maxRetries: 1,
      drainRatePerSec: 100_000,
      retryMaxMs: 200,
      maxSpoolBytes,
      ...options,
    },
    log,
    (tickets) => acked.push(...tickets),
  );
  const message = (id: number, lines: string[]) => {
    const mark = sink.mark();
    sink.write(lines);
    sink.seal(id, mark);
  };
  return { sink, spool, acked, message };
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('SpoolSink with InfluxDB up', () => {
  it('acknowledges a message only after InfluxDB has its points', async () => {
    influx.delayMs = 200;
    const { sink, acked, message } = harness();
    for (const i of range(0, 25)) message(i, [line(i)]);
    // Two full batches are on their way, the third waits for the flush interval.
    await new Promise((r) => setTimeout(r, 100));
    expect(influx.lines).toEqual([]);
    expect(acked).toEqual([]);
    await sink.flush();
    expect(influx.lines.sort()).toEqual(range(0, 25).map(line).sort());
    expect(acked.sort((a, b) => a - b)).toEqual(range(0, 25));
    expect(sink.stats).toMatchObject({ written: 25, pending: 0, dropped: 0, influx: 'up' });
    expect(sink.spool.totals.samples).toBe(0);
    await sink.close();
  });

  it('acknowledges a message without points at once, and never splits a message between batches', async () => {
    const { sink, acked, message } = harness({ batchSize: 4 });
    message(1, []);
    expect(acked).toEqual([1]);
    // 3 + 3 lines: the batch closes after the message that filled it, with all six lines.
    message(2, [line(0), line(1), line(2)]);
    message(3, [line(3), line(4), line(5)]);
    await waitFor('the batch written', () => acked.length === 3, 2000, 10);
    expect(influx.requests).toBe(1);
    expect(influx.lines).toEqual(range(0, 6).map(line));
    await sink.close();
  });

  it('drops only the lines InfluxDB refuses, counted, and writes the rest of their batch', async () => {
    influx.refuse = 'BAD';
    const { sink, acked, message } = harness();
    const lines = range(0, 10).map(line);
    lines[6] = 'plc_tags,tag=BAD value="text" 1';
    message(1, lines);
    await sink.flush();
    expect(acked).toEqual([1]);
    expect(influx.lines.sort()).toEqual(lines.filter((l) => !l.includes('BAD')).sort());
    expect(sink.stats).toMatchObject({ written: 9, rejected: 1, dropped: 1 });
    expect(logs.join('')).toMatch(/InfluxDB refused a point; it is dropped and counted/);
    await sink.close();
  });

  it('bounds memory when InfluxDB is slower than the input: the oldest batches are spooled', async () => {
    influx.delayMs = 300;
    const { sink, acked, message } = harness({ maxBufferLines: 50 });
    let maxPending = 0;
    for (const i of range(0, 300)) {
      message(i, [line(i)]);
      maxPending = Math.max(maxPending, sink.stats.pending);
    }
    // The open batch can take the last message past the bound, never more.
    expect(maxPending).toBeLessThanOrEqual(50 + 10);
    expect(sink.stats.spool.spooled).toBeGreaterThan(0);
    expect(logs.join('')).toMatch(/slower than the incoming points/);
    await sink.flush();
    await waitFor('the spooled batches written back', () => influx.lines.length === 300, 15_000);
    expect(new Set(influx.lines)).toEqual(new Set(range(0, 300).map(line)));
    expect(acked.length).toBe(300);
    await sink.close();
  });
});

describe('InfluxDB writers', () => {
  it('leave no listener on the long-lived abort signal they are given, whatever the answer', async () => {
    const parent = new AbortController();
    for (const api of ['v1', 'v2'] as const) {
      const writer = createInfluxWriter(
        influxSchema.parse({ api, url: influx.url, database: 'db', timeoutMs: 2000 }),
      );
      for (const mode of ['up', 'down'] as const) {
        influx.mode = mode;
        for (let i = 0; i < 20; i++) await writer.post(line(i), parent.signal);
      }
    }
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  });

  it('give up on a request after timeoutMs, as a retriable failure', async () => {
    influx.delayMs = 1000;
    for (const api of ['v1', 'v2'] as const) {
      const writer = createInfluxWriter(
        influxSchema.parse({ api, url: influx.url, database: 'db', timeoutMs: 200 }),
      );
      const started = Date.now();
      expect(await writer.post(line(1))).toMatchObject({ ok: false, rejected: false });
      expect(Date.now() - started).toBeLessThan(900);
    }
  });
});

describe('SpoolSink with InfluxDB down', () => {
  it('spools, acknowledges once spooled, then writes the spool back in order beside live data', async () => {
    influx.mode = 'down';
    // A slow drain (20 points/s, so about 3 s for this backlog) that live batches must not wait for.
    const { sink, acked, message } = harness({ drainRatePerSec: 20 });
    for (const i of range(0, 60)) message(i, [line(i)]);
    await sink.flush();
    expect(acked.sort((a, b) => a - b)).toEqual(range(0, 60));
    expect(sink.stats).toMatchObject({ influx: 'down', written: 0, pending: 0 });
    expect(sink.stats.spool).toMatchObject({ points: 60, spooled: 60, durable: true });
    expect(logs.join('')).toMatch(/InfluxDB unreachable: spooling batches to disk/);
    // While down, new batches go straight to the spool without trying InfluxDB.
    const requests = influx.requests;
    message(1000, [line(1000)]);
    await sink.flush();
    expect(acked).toContain(1000);
    expect(influx.requests - requests).toBeLessThanOrEqual(1); // at most the drain's probe

    influx.mode = 'up';
    await waitFor('InfluxDB seen up again', () => sink.stats.influx === 'up', 5000, 10);
    for (const i of range(2000, 10)) message(i, [line(i)]);
    await sink.flush();
    await waitFor('the spool drained', () => sink.stats.spool.points === 0, 10_000);
    expect(logs.join('')).toMatch(/InfluxDB answers again/);
    await waitFor('spool drained logged', () => /"msg":"spool drained"/.test(logs.join('')));
    const spooled = [...range(0, 60), 1000].map(line);
    const live = range(2000, 10).map(line);
    // Every point once, the spooled ones in the order they were spooled, with their timestamps.
    expect(influx.lines.filter((l) => spooled.includes(l))).toEqual(spooled);
    expect(influx.lines.filter((l) => live.includes(l)).sort()).toEqual(live.sort());
    // The live points did not wait for the backlog.
    const lastSpooled = Math.max(...spooled.map((l) => influx.lines.indexOf(l)));
    expect(Math.max(...live.map((l) => influx.lines.indexOf(l)))).toBeLessThan(lastSpooled);
    expect(sink.stats).toMatchObject({ written: 71, dropped: 0, influx: 'up' });
    expect(sink.stats.spool.drained).toBe(61);
    await sink.close();
  });

  it('treats "database not found" (404) and bad credentials (401) as down, never as bad data', async () => {
    for (const status of [404, 401]) {
      influx.mode = status;
      const { sink, acked, message } = harness({}, undefined, join(dir, `s${status}.db`));
      message(1, range(0, 5).map(line));
      await sink.flush();
      expect(acked).toEqual([1]);
      expect(sink.stats).toMatchObject({ influx: 'down', rejected: 0, dropped: 0 });
      expect(sink.stats.spool.points).toBe(5);
      await sink.close();
    }
  });

  it('drops the oldest spooled points when the spool is full, says so, and writes the rest back', async () => {
    influx.mode = 'down';
    const batchBytes = range(0, 10).map(line).join('\n').length + 24;
    const { sink, message } = harness({ maxSpoolBytes: 3 * batchBytes + 10 });
    for (const i of range(0, 100)) message(i, [line(i)]);
    await sink.flush();
    const stats = sink.stats;
    expect(stats.spool.dropped.points).toBeGreaterThan(0);
    expect(stats.spool.points).toBeLessThanOrEqual(30);
    expect(stats.spool.dropped.points + stats.spool.points).toBe(100);
    expect(stats.spool.full).toBe(true);
    expect(stats.dropped).toBe(stats.spool.dropped.points);
    expect(stats.alarm).toMatch(/InfluxDB is down and the spool is full/);
    expect(logs.join('')).toMatch(/"level":50.*dropped the oldest points/);
    influx.mode = 'up';
    await waitFor('the rest written back', () => sink.stats.spool.points === 0, 5000);
    // The newest survived, in order.
    expect(influx.lines).toEqual(range(100 - influx.lines.length, influx.lines.length).map(line));
    expect(sink.stats.alarm).toBeUndefined();
    await sink.close();
  });

  it('keeps the spool across a restart and writes it back from the new process', async () => {
    influx.mode = 'down';
    const path = join(dir, 'restart.db');
    const first = harness({}, undefined, path);
    for (const i of range(0, 30)) first.message(i, [line(i)]);
    // Stopping while down: the open batch goes to the spool too.
    await first.sink.close();
    expect(first.acked.length).toBe(30);
    expect(influx.lines).toEqual([]);

    influx.mode = 'up';
    const second = harness({}, undefined, path);
    expect(logs.join('')).toMatch(/the spool holds points from before the restart/);
    await waitFor('the old spool written', () => influx.lines.length === 30, 5000);
    expect(influx.lines).toEqual(range(0, 30).map(line));
    await second.sink.close();
  });

  it('works the same through the v2 writer (official client transport), honouring Retry-After', async () => {
    const v2 = createInfluxWriter(
      influxSchema.parse({ api: 'v2', url: influx.url, token: 't', timeoutMs: 2000 }),
    );
    influx.mode = 'down';
    expect(await v2.post(line(1))).toMatchObject({ ok: false, rejected: false });
    influx.retryAfter = '2';
    expect(await v2.post(line(1))).toMatchObject({ ok: false, retryAfterMs: 2000 });
    influx.retryAfter = undefined;
    influx.mode = 'up';
    expect(await v2.post(line(1))).toEqual({ ok: true });
    influx.refuse = 'BAD';
    expect(await v2.post('m,tag=BAD v=1 1')).toMatchObject({ ok: false, rejected: true });

    influx.refuse = undefined;
    influx.mode = 'down';
    influx.lines.length = 0;
    const { sink, acked, message } = harness({}, v2);
    for (const i of range(0, 20)) message(i, [line(i)]);
    await sink.flush();
    expect(acked.length).toBe(20);
    influx.mode = 'up';
    await waitFor('drained through v2', () => sink.stats.spool.points === 0, 5000);
    expect(influx.lines).toEqual(range(0, 20).map(line));
    await sink.close();
  });
});
