import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { decodeValue, encodeValue } from '../protocols/modbus/codec.js';
import type { TagValue } from '../protocols/types.js';
import { agentConfigSchema, type AgentConfig } from './config.js';
import { sourceExecutor, WriteService, type WriteRequest } from './write-service.js';

function makeConfig(enabled = true): AgentConfig {
  return agentConfigSchema.parse({
    site: 's',
    area: 'a',
    line: 'l',
    node: 'n1',
    mqtt: { url: 'mqtt://127.0.0.1:1' },
    writes: { enabled },
    devices: [
      {
        name: 'plc',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        asset: 'm1',
        tags: [
          { name: 'run', address: 'coil:0', writable: true },
          {
            name: 'speed',
            address: 'hr:0',
            type: 'uint16',
            scale: 0.1,
            writable: true,
            min: 0,
            max: 150,
          },
          { name: 'temp', address: 'hr:1', type: 'int16', scale: 0.1 },
          { name: 'trim', address: 'hr:2:float32:CDAB', scale: 2, offset: 10, writable: true },
          { name: 'raw', address: 'hr:4', type: 'uint16', scale: 0.1, writable: true },
          { name: 'label', address: 'hr:5', type: 'string(4)', writable: true },
          { name: 'lo', asset: 'm2', address: 'hr:7', type: 'int16', writable: true, min: -5 },
        ],
      },
    ],
  });
}

interface Sent {
  device: string;
  tagId: string;
  raw: TagValue;
}

function setup(config = makeConfig()) {
  const sent: Sent[] = [];
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  let current = config;
  const service = new WriteService(
    () => current,
    async (device, tagId, raw) => {
      sent.push({ device, tagId, raw });
    },
    log,
  );
  return { service, sent, lines, reload: (c: AgentConfig) => (current = c) };
}

const req = (ref: string, value: unknown): WriteRequest => ({ ref, value, by: 'alice', id: 'r1' });

describe('WriteService refuses, before anything reaches the device', () => {
  it.each([
    ['unknown tag', 'm1/nope', 1, /no tag "m1\/nope" in the config/],
    ['tag not writable', 'm1/temp', 1, /tag m1\/temp is not writable: set writable: true/],
    ['number to a coil', 'm1/run', 1, /^m1\/run takes true or false, not 1$/],
    ['boolean to a register', 'm1/speed', true, /^m1\/speed takes a number, not true$/],
    ['number to a string tag', 'm1/label', 12, /^m1\/label takes text, not 12$/],
    ['null', 'm1/speed', null, /^m1\/speed takes a number, not null$/],
    ['an object', 'm1/speed', { v: 1 }, /^m1\/speed takes a number, not an object$/],
    ['an array', 'm1/run', [true], /^m1\/run takes true or false, not an array$/],
    ['no value at all', 'm1/speed', undefined, /^m1\/speed takes a number, not undefined$/],
    ['NaN from a caller', 'm1/speed', NaN, /^m1\/speed takes a number, not NaN$/],
    ['Infinity', 'm1/trim', Infinity, /^m1\/trim takes a number, not Infinity$/],
    ['text that is not a number', 'm1/speed', 'fast', /^m1\/speed: "fast" is not a number$/],
    ['text that is not a bit', 'm1/run', 'maybe', /^m1\/run: "maybe" is not a bit value/],
    ['empty text', 'm1/speed', '', /^m1\/speed: "" is not a number$/],
    ['runaway text', 'm1/label', 'x'.repeat(300), /takes text, not a text of 300 characters$/],
    ['below min', 'm1/speed', -0.5, /^m1\/speed=-0\.5 is below the tag's limit min 0$/],
    ['above max', 'm1/speed', 150.1, /^m1\/speed=150\.1 is above the tag's limit max 150$/],
    ['above max, as text', 'm1/speed', '151', /^m1\/speed=151 is above the tag's limit max 150$/],
    ['below a min with no max', 'm2/lo', -6, /^m2\/lo=-6 is below the tag's limit min -5$/],
    [
      'raw out of the type range (no limits)',
      'm1/raw',
      7000,
      /^m1\/raw=7000 \(raw 70000 after scale 0\.1, offset 0\): 70000 is out of range for uint16/,
    ],
    ['int16 range', 'm2/lo', 40000, /40000 is out of range for int16/],
    ['text too long for string(4)', 'm1/label', 'abcdef', /"abcdef" is longer than 4 characters/],
  ])('%s', async (_what, ref, value, reason) => {
    const { service, sent, lines } = setup();
    const result = await service.request(req(ref, value));
    expect(result).toMatchObject({ ok: false, ref, id: 'r1', by: 'alice' });
    expect(result.reason).toMatch(reason);
    expect(result.raw).toBeUndefined();
    expect(sent).toEqual([]);
    expect(service.stats).toEqual({ accepted: 0, refused: 1, failed: 0 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'write refused', ref, by: 'alice' });
    expect(lines[0]!.reason).toBe(result.reason);
  });

  it('when writes are disabled, says how to enable them, whatever the tag', async () => {
    const { service, sent } = setup(makeConfig(false));
    for (const ref of ['m1/run', 'm1/nope', 'm1/temp']) {
      const result = await service.request(req(ref, true));
      expect(result.ok).toBe(false);
      expect(result.reason).toBe(
        'writes are disabled on node n1: set writes.enabled: true in the agent config to accept them',
      );
    }
    expect(sent).toEqual([]);
    expect(service.stats.refused).toBe(3);
  });

  it('follows a reloaded config', async () => {
    const { service, sent, reload } = setup(makeConfig(false));
    expect((await service.request(req('m1/run', true))).ok).toBe(false);
    reload(makeConfig(true));
    expect((await service.request(req('m1/run', true))).ok).toBe(true);
    const locked = makeConfig(true);
    locked.devices[0]!.tags[0]!.writable = false;
    reload(locked);
    expect((await service.request(req('m1/run', false))).reason).toMatch(/not writable/);
    expect(sent).toEqual([{ device: 'plc', tagId: 'm1/run', raw: true }]);
  });

  it('echoes a small requested value in a refusal, never a runaway one', async () => {
    const { service } = setup();
    expect((await service.request(req('m1/temp', 12.5))).value).toBe(12.5);
    expect((await service.request(req('m1/label', 'y'.repeat(300)))).value).toBeUndefined();
    expect((await service.request(req('m1/speed', { big: 'z'.repeat(300) }))).value).toBe(
      undefined,
    );
  });
});

describe('WriteService sends what the tag means', () => {
  it.each([
    ['coil from a boolean', 'm1/run', false, false, false],
    ['coil from text "on"', 'm1/run', 'on', true, true],
    ['coil from text "0"', 'm1/run', '0', false, false],
    ['scale reversed', 'm1/speed', 42.3, 42.3, 423],
    ['scale reversed, from text', 'm1/speed', '12.5', 12.5, 125],
    ['rounded to the integer type', 'm1/speed', 12.34, 12.34, 123],
    ['limit min itself', 'm1/speed', 0, 0, 0],
    ['limit max itself', 'm1/speed', 150, 150, 1500],
    ['scale and offset reversed (float)', 'm1/trim', 30, 30, 10],
    ['negative after offset', 'm1/trim', 7, 7, -1.5],
    ['text to a string tag', 'm1/label', 'ab', 'ab', 'ab'],
    ['limit min on its own', 'm2/lo', -5, -5, -5],
  ])('%s', async (_what, ref, value, engineering, raw) => {
    const { service, sent, lines } = setup();
    const result = await service.request(req(ref, value));
    expect(result).toEqual({
      ok: true,
      ref,
      id: 'r1',
      value: engineering,
      raw,
      by: 'alice',
      ts: expect.any(Number),
    });
    expect(sent).toEqual([{ device: 'plc', tagId: ref, raw }]);
    expect(service.stats).toEqual({ accepted: 1, refused: 0, failed: 0 });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'write done',
        by: 'alice',
        ref,
        id: 'r1',
        value: engineering,
        raw,
        device: 'plc',
        result: 'accepted',
      }),
    ]);
  });

  it('a raw float survives the codec as the executor received it', async () => {
    const { service, sent } = setup();
    await service.request(req('m1/trim', 13.5));
    const words = encodeValue(sent[0]!.raw, { type: 'float32', order: 'CDAB' });
    expect(decodeValue(words, 0, { type: 'float32', order: 'CDAB' })).toBe(1.75);
  });
});

describe('WriteService reports device failures', () => {
  it.each([
    ['timeout', new Error('write to hr:0 on plc failed: timeout')],
    ['exception', new Error('write to hr:0 on plc failed: exception 2 (illegal data address)')],
    ['a plain object rejection', { message: 'socket closed' }],
  ])('%s: failed with the device message', async (_what, error) => {
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const lines: Record<string, unknown>[] = [];
    const service = new WriteService(
      () => makeConfig(),
      () => Promise.reject(error),
      log,
    );
    const result = await service.request(req('m1/speed', 10));
    expect(result).toMatchObject({ ok: false, value: 10, raw: 100, reason: error.message });
    expect(service.stats).toEqual({ accepted: 0, refused: 0, failed: 1 });
    expect(lines[0]).toMatchObject({ level: 40, msg: 'write failed', raw: 100, result: 'failed' });
  });

  it('names a device the executor does not run', async () => {
    const service = new WriteService(() => makeConfig(), sourceExecutor(new Map()), silentLogger);
    const result = await service.request(req('m1/run', true));
    expect(result.reason).toBe('device plc is not running on this node');
    expect(service.stats.failed).toBe(1);
  });
});

describe('WriteService queues writes per tag', () => {
  /** An executor whose writes finish only when the test releases them, oldest first. */
  function gated() {
    const waiting: (() => void)[] = [];
    const started: [string, TagValue][] = [];
    const inflight = new Map<string, number>();
    const peak = { perTag: 0, total: 0 };
    const execute = (_device: string, tagId: string, raw: TagValue) =>
      new Promise<void>((resolve) => {
        started.push([tagId, raw]);
        inflight.set(tagId, (inflight.get(tagId) ?? 0) + 1);
        peak.perTag = Math.max(peak.perTag, inflight.get(tagId)!);
        peak.total = Math.max(
          peak.total,
          [...inflight.values()].reduce((a, b) => a + b, 0),
        );
        waiting.push(() => {
          inflight.set(tagId, inflight.get(tagId)! - 1);
          resolve();
        });
      });
    const settle = () => new Promise((r) => setTimeout(r, 0));
    const releaseOldest = async () => {
      waiting.shift()!();
      await settle();
    };
    return { execute, started, waiting, peak, settle, releaseOldest };
  }

  it('one write per tag in flight, in arrival order; other tags go alongside', async () => {
    const g = gated();
    const service = new WriteService(() => makeConfig(), g.execute, silentLogger);
    const results = [
      service.request(req('m1/speed', 1)),
      service.request(req('m1/speed', 2)),
      service.request(req('m1/run', true)),
      service.request(req('m1/speed', 3)),
    ];
    await g.settle();
    expect(g.started).toEqual([
      ['m1/speed', 10],
      ['m1/run', true],
    ]);
    while (g.waiting.length > 0) await g.releaseOldest();
    expect(g.started).toEqual([
      ['m1/speed', 10],
      ['m1/run', true],
      ['m1/speed', 20],
      ['m1/speed', 30],
    ]);
    expect((await Promise.all(results)).map((r) => r.raw)).toEqual([10, 20, true, 30]);
    expect(g.peak).toEqual({ perTag: 1, total: 2 });
  });

  it('refuses beyond the per-tag bound instead of queueing without end', async () => {
    const g = gated();
    const service = new WriteService(() => makeConfig(), g.execute, silentLogger, {
      maxQueuedPerTag: 2,
    });
    const first = service.request(req('m1/speed', 1));
    const second = service.request(req('m1/speed', 2));
    const third = await service.request(req('m1/speed', 3));
    expect(third.ok).toBe(false);
    expect(third.reason).toBe(
      '2 writes to m1/speed are already waiting for the device; try again when they are done',
    );
    // The bound is per tag: another tag is not held up.
    const other = service.request(req('m1/run', true));
    await g.settle();
    expect(g.started).toEqual([
      ['m1/speed', 10],
      ['m1/run', true],
    ]);
    while (g.waiting.length > 0) await g.releaseOldest();
    expect((await Promise.all([first, second, other])).map((r) => r.ok)).toEqual([
      true,
      true,
      true,
    ]);
    // Once its queue has drained, the tag takes writes again.
    const later = service.request(req('m1/speed', 4));
    await g.settle();
    await g.releaseOldest();
    expect((await later).raw).toBe(40);
    expect(service.stats).toEqual({ accepted: 4, refused: 1, failed: 0 });
  });

  it('checks a queued request when its turn comes, with the config then in force', async () => {
    const g = gated();
    let config = makeConfig();
    const service = new WriteService(() => config, g.execute, silentLogger);
    const first = service.request(req('m1/run', true));
    const second = service.request(req('m1/run', false));
    await g.settle();
    config = makeConfig(false);
    await g.releaseOldest();
    expect((await first).ok).toBe(true);
    expect((await second).reason).toMatch(/writes are disabled/);
    expect(g.started).toEqual([['m1/run', true]]);
  });
});

describe('WriteService.refuse', () => {
  it('counts and logs what a transport could not decode', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const service = new WriteService(
      () => makeConfig(),
      async () => undefined,
      log,
    );
    const result = service.refuse({ ref: 'm1/run', by: 'mqtt' }, 'payload is not JSON: x');
    expect(result).toEqual({
      ok: false,
      ref: 'm1/run',
      reason: 'payload is not JSON: x',
      by: 'mqtt',
      ts: expect.any(Number),
    });
    expect(service.stats).toEqual({ accepted: 0, refused: 1, failed: 0 });
    expect(lines[0]).toMatchObject({ level: 40, msg: 'write refused', by: 'mqtt' });
  });
});
