import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AlarmEngine } from './engine.js';
import { alarmRulesSchema, type AlarmOptions } from './rules.js';
import { AlarmStateStore } from './state-store.js';
import type { AlarmEvent, AlarmSample, SampleValue } from './types.js';

const T0 = 1_732_480_000_000;
const dir = mkdtempSync(join(tmpdir(), 'alarms-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Step =
  | [at: number, tag: string, value: SampleValue]
  | [at: number, tag: string, value: SampleValue, extra: Partial<AlarmSample>]
  | [at: number, 'tick']
  | [at: number, 'offline' | 'online'];

/** An engine on an injected clock, recording events as `<ms>:<kind>:<rule>:<state>`. */
function harness(
  rules: unknown[],
  options: Partial<AlarmOptions> = {},
  store?: AlarmStateStore,
  start = 0,
) {
  let t = T0 + start;
  const events: AlarmEvent[] = [];
  const engine = new AlarmEngine(
    { rules: alarmRulesSchema.parse(rules), options },
    { onEvent: (e) => events.push(e), now: () => t, ...(store ? { store } : {}) },
  );
  const h = {
    engine,
    events,
    /** Moves the clock to `ms` after T0, ticking on the way every 250 ms like the gateway. */
    to(ms: number) {
      while (t + 250 < T0 + ms) {
        t += 250;
        engine.tick(t);
      }
      t = T0 + ms;
      engine.tick(t);
    },
    /** Moves the clock without ticking: the gateway was not running the engine meanwhile. */
    jump(ms: number) {
      t = T0 + ms;
    },
    sample(tag: string, value: SampleValue, extra: Partial<AlarmSample> = {}) {
      engine.onSample({
        site: 'plant1',
        area: 'packaging',
        line: 'line1',
        asset: 'conveyor1',
        tag,
        node: 'edge-01',
        value,
        quality: 'good',
        ts: t,
        ...extra,
      });
    },
    run(steps: Step[]) {
      for (const step of steps) {
        h.to(step[0]);
        if (step[1] === 'tick') continue;
        if (step[1] === 'offline' || step[1] === 'online')
          engine.onNodeStatus('plant1', 'edge-01', step[1], t);
        else h.sample(step[1], step[2]!, step[3] ?? {});
      }
    },
    log: () => events.map((e) => `${e.ts - T0}:${e.kind}:${e.rule}:${e.state}`),
  };
  return h;
}

const fault = (extra: Record<string, unknown> = {}) => ({
  name: 'fault',
  asset: '*',
  tag: 'fault_alarm',
  kind: 'boolean',
  onDelayMs: 1000,
  offDelayMs: 5000,
  ...extra,
});

describe('on-delay and off-delay', () => {
  it.each<[string, Step[], string[]]>([
    [
      'raised once the condition held through the on-delay',
      [
        [0, 'fault_alarm', true],
        [999, 'tick'],
      ],
      [],
    ],
    [
      'raised at exactly the on-delay',
      [
        [0, 'fault_alarm', true],
        [1000, 'tick'],
      ],
      ['1000:raised:fault:active_unacked'],
    ],
    [
      'a condition gone before the on-delay raises nothing',
      [
        [0, 'fault_alarm', true],
        [999, 'fault_alarm', false],
        [3000, 'tick'],
      ],
      [],
    ],
    [
      'cleared after the off-delay, unacknowledged',
      [
        [0, 'fault_alarm', true],
        [2000, 'fault_alarm', false],
        [6999, 'tick'],
        [7000, 'tick'],
      ],
      ['1000:raised:fault:active_unacked', '7000:cleared:fault:returned_unacked'],
    ],
    [
      'a return within the off-delay is the same activation',
      [
        [0, 'fault_alarm', true],
        [2000, 'fault_alarm', false],
        [6999, 'fault_alarm', true],
        [20_000, 'tick'],
      ],
      ['1000:raised:fault:active_unacked'],
    ],
    [
      'a return after the off-delay is a new activation',
      [
        [0, 'fault_alarm', true],
        [2000, 'fault_alarm', false],
        [7000, 'fault_alarm', true],
        [9000, 'tick'],
      ],
      [
        '1000:raised:fault:active_unacked',
        '7000:cleared:fault:returned_unacked',
        '8000:raised:fault:active_unacked',
      ],
    ],
    [
      'repeated samples of the same value change nothing',
      [
        [0, 'fault_alarm', true],
        [500, 'fault_alarm', true],
        [900, 'fault_alarm', true],
        [1000, 'tick'],
      ],
      ['1000:raised:fault:active_unacked'],
    ],
  ])('%s', (_what, steps, expected) => {
    const h = harness([fault()]);
    h.run(steps);
    expect(h.log()).toEqual(expected);
  });

  it('with no on-delay, raises at the sample', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })]);
    h.run([
      [100, 'fault_alarm', true],
      [200, 'fault_alarm', false],
    ]);
    expect(h.log()).toEqual([
      '100:raised:fault:active_unacked',
      '200:cleared:fault:returned_unacked',
    ]);
  });
});

describe('event contents', () => {
  it('carries key, priority, due date, text, occurrences and the rule fields', () => {
    const h = harness([{ kind: 'micro820', asset: '*', onDelayMs: 0, closeOnClear: true }]);
    h.run([[0, 'error_code', 1]]);
    expect(h.events).toEqual([
      expect.objectContaining({
        kind: 'raised',
        key: 'plant1/conveyor1/error_code',
        site: 'plant1',
        area: 'packaging',
        line: 'line1',
        asset: 'conveyor1',
        rule: 'error_code',
        node: 'edge-01',
        tag: 'error_code',
        severity: 'high',
        priority: 'HIGH',
        state: 'active_unacked',
        value: 1,
        text: 'error_code = 1: motor overload',
        occurrences: 1,
        raisedAt: T0,
        dueAt: T0 + 24 * 3_600_000,
        ts: T0,
        closeOnClear: true,
        suppressed: false,
        shelved: null,
        description: 'The PLC reports an error code (holding register 105).',
      }),
    ]);
  });

  it('counts occurrences until the alarm is normal and acknowledged', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })], {
      chatter: { activations: 10, windowMs: 60_000, shelveMs: 60_000 },
    });
    const key = 'plant1/conveyor1/fault';
    h.run([
      [0, 'fault_alarm', true],
      [100, 'fault_alarm', false],
      [200, 'fault_alarm', true],
    ]);
    expect(h.events.map((e) => e.occurrences)).toEqual([1, 1, 2]);
    expect(h.engine.ack(key, 'anna')).toEqual({ ok: true, state: 'active_acked' });
    expect(h.engine.ack(key, 'anna')).toMatchObject({ ok: false, status: 'conflict' });
    h.run([
      [300, 'fault_alarm', false],
      [400, 'fault_alarm', true],
    ]);
    expect(h.log().slice(3)).toEqual([
      '200:acked:fault:active_acked',
      '300:cleared:fault:normal',
      '400:raised:fault:active_unacked',
    ]);
    expect(h.events.at(-1)!.occurrences).toBe(1);
    expect(h.events[3]!.by).toBe('anna');
  });

  it('acknowledging a returned alarm makes it normal and drops it from the list', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })]);
    h.run([
      [0, 'fault_alarm', true],
      [100, 'fault_alarm', false],
    ]);
    expect(h.engine.list().map((a) => a.state)).toEqual(['returned_unacked']);
    expect(h.engine.ack('plant1/conveyor1/fault', 'op')).toEqual({ ok: true, state: 'normal' });
    expect(h.engine.list()).toEqual([]);
    expect(h.engine.list(true).map((a) => a.state)).toEqual(['normal']);
    expect(h.engine.ack('plant1/conveyor1/nope', 'op')).toMatchObject({
      ok: false,
      status: 'not-found',
      error: expect.stringMatching(/no alarm plant1\/conveyor1\/nope/),
    });
  });
});

describe('rule kinds through the engine', () => {
  it('hysteresis: a high alarm clears only below limit - deadband', () => {
    const h = harness([
      {
        name: 'hot',
        asset: 'conveyor1',
        tag: 'temperature',
        kind: 'high',
        limit: 90,
        deadband: 2,
        unit: '°C',
        onDelayMs: 0,
        offDelayMs: 0,
      },
    ]);
    h.run([
      [0, 'temperature', 90],
      [100, 'temperature', 92.4],
      [200, 'temperature', 89],
      [300, 'temperature', 88],
      [400, 'temperature', 87.9],
    ]);
    expect(h.log()).toEqual(['100:raised:hot:active_unacked', '400:cleared:hot:returned_unacked']);
    expect(h.events.map((e) => e.text)).toEqual([
      'temperature 92.4 °C > 90 (high)',
      'temperature 87.9 °C back below 88 (high)',
    ]);
  });

  it('rate: raised on a fast rise, cleared once no sample changes it for a window', () => {
    const h = harness([
      {
        name: 'heating',
        asset: '*',
        tag: 'temperature',
        kind: 'rate',
        limit: 1,
        windowMs: 10_000,
        onDelayMs: 0,
        offDelayMs: 0,
      },
    ]);
    h.run([
      [0, 'temperature', 20],
      [1000, 'temperature', 20.5],
      [2000, 'temperature', 23],
      [11_999, 'tick'],
      [12_001, 'tick'],
    ]);
    expect(h.log()).toEqual([
      '2000:raised:heating:active_unacked',
      '12001:cleared:heating:returned_unacked',
    ]);
    expect(h.events[0]!.text).toBe('temperature rising 1.5 /s > 1 /s (rate)');
  });

  it('stale: raised when no good sample came for afterMs; bad samples do not count', () => {
    const h = harness([
      {
        name: 'silent',
        asset: '*',
        tag: 'motor_speed',
        kind: 'stale',
        afterMs: 5000,
        onDelayMs: 0,
        offDelayMs: 0,
      },
    ]);
    h.run([
      [0, 'motor_speed', 1750],
      [3000, 'motor_speed', null, { quality: 'bad' }],
      [4999, 'tick'],
      [5000, 'tick'],
      [6000, 'motor_speed', 1750],
    ]);
    expect(h.log()).toEqual([
      '5000:raised:silent:active_unacked',
      '6000:cleared:silent:returned_unacked',
    ]);
    expect(h.events[0]!.text).toBe('motor_speed: no good sample for 5 s (stale)');
  });

  it('stale timers start again after a pause (resumeTimers)', () => {
    const h = harness([
      {
        name: 'silent',
        asset: '*',
        tag: 'motor_speed',
        kind: 'stale',
        afterMs: 5000,
        onDelayMs: 0,
      },
    ]);
    h.run([[0, 'motor_speed', 1750]]);
    // Another gateway held the lease for a minute: no samples, no ticks here.
    h.jump(60_000);
    h.engine.resumeTimers(T0 + 60_000);
    h.to(64_999);
    expect(h.events).toEqual([]);
    h.to(65_000);
    expect(h.log()).toEqual(['65000:raised:silent:active_unacked']);
  });

  it('in with an inline code table', () => {
    const h = harness([
      {
        name: 'jam',
        asset: '*',
        tag: 'error_code',
        kind: 'in',
        values: [3, 4],
        codes: { 3: 'jam at the infeed', 4: 'photo eye' },
        onDelayMs: 0,
      },
    ]);
    h.run([
      [0, 'error_code', 1],
      [100, 'error_code', 3],
    ]);
    expect(h.events.map((e) => e.text)).toEqual(['error_code = 3: jam at the infeed']);
  });

  it('rules match by asset name, * and asset type', () => {
    const h = harness(
      [
        fault({ name: 'only_c2', asset: 'conveyor2', onDelayMs: 0 }),
        fault({ name: 'typed', assetType: 'micro820', onDelayMs: 0 }),
        fault({ name: 'typed_c1', asset: 'conveyor1', assetType: 'micro820', onDelayMs: 0 }),
      ],
      { assetTypes: { conveyor2: 'micro820' } },
    );
    h.sample('fault_alarm', true);
    h.sample('fault_alarm', true, { asset: 'conveyor2' });
    expect(h.events.map((e) => e.key).sort()).toEqual([
      'plant1/conveyor2/only_c2',
      'plant1/conveyor2/typed',
    ]);
  });
});

describe('bad input and replayed history', () => {
  it('bad and uncertain samples drive nothing and are counted', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })]);
    h.run([
      [0, 'fault_alarm', true, { quality: 'bad' }],
      [100, 'fault_alarm', true, { quality: 'uncertain' }],
    ]);
    expect(h.events).toEqual([]);
    expect(h.engine.stats.badSamplesIgnored).toBe(2);
  });

  it('a value the rule cannot compare is counted, not a crash', () => {
    const h = harness([
      { name: 'hot', asset: '*', tag: 'temperature', kind: 'high', limit: 1, onDelayMs: 0 },
    ]);
    h.run([[0, 'temperature', 'very hot']]);
    expect(h.events).toEqual([]);
    expect(h.engine.stats.typeMismatches).toBe(1);
  });

  it('a sample older than the last one of its tag is not evaluated', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })]);
    h.run([
      [1000, 'fault_alarm', false],
      [2000, 'fault_alarm', true, { ts: T0 + 500 }],
    ]);
    expect(h.events).toEqual([]);
    expect(h.engine.stats.outOfOrderIgnored).toBe(1);
  });

  it('history older than lateSampleMs may clear an alarm but never raises one', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })], { lateSampleMs: 60_000 });
    h.run([[100_000, 'fault_alarm', true, { ts: T0 + 30_000 }]]);
    expect(h.events).toEqual([]);
    expect(h.engine.stats.lateSamples).toBe(1);
    h.run([
      [100_100, 'fault_alarm', true],
      // Replayed after an outage: older than lateSampleMs, newer than the last sample.
      [300_000, 'fault_alarm', false, { ts: T0 + 200_000 }],
    ]);
    expect(h.log()).toEqual([
      '100100:raised:fault:active_unacked',
      '300000:cleared:fault:returned_unacked',
    ]);
    expect(h.engine.stats.lateSamples).toBe(1);
  });

  it('stops taking new assets at maxAlarms and counts the refused ones', () => {
    const h = harness([fault({ onDelayMs: 0 })], { maxAlarms: 100 });
    for (let i = 0; i < 150; i++) h.sample('fault_alarm', true, { asset: `a${i}` });
    expect(h.engine.stats.alarms).toBe(100);
    expect(h.events).toHaveLength(100);
    expect(h.engine.stats.refused).toBe(50);
  });

  it('an exception in the event handler is counted, not thrown', () => {
    const engine = new AlarmEngine(
      { rules: alarmRulesSchema.parse([fault({ onDelayMs: 0 })]) },
      {
        onEvent: () => {
          throw new Error('sink down');
        },
        now: () => T0,
      },
    );
    engine.onSample({
      site: 's',
      area: 'a',
      line: 'l',
      asset: 'm',
      tag: 'fault_alarm',
      value: true,
      quality: 'good',
      ts: T0,
    });
    expect(engine.stats.errors).toBe(1);
    expect(engine.list()).toHaveLength(1);
  });
});

describe('shelving', () => {
  const key = 'plant1/conveyor1/fault';

  it('a shelved alarm raises nothing; when the shelve expires it is evaluated again', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })]);
    h.sample('fault_alarm', false);
    expect(
      h.engine.shelve(key, { untilMs: T0 + 10_000, by: 'anna', reason: 'sensor swap' }),
    ).toEqual({
      ok: true,
      state: 'normal',
    });
    h.run([
      [1000, 'fault_alarm', true],
      [9999, 'tick'],
    ]);
    expect(h.log()).toEqual(['0:shelved:fault:normal']);
    expect(h.engine.list()).toEqual([
      expect.objectContaining({
        key,
        shelved: { untilMs: T0 + 10_000, by: 'anna', reason: 'sensor swap' },
      }),
    ]);
    h.to(10_000);
    expect(h.log()).toEqual([
      '0:shelved:fault:normal',
      '10000:unshelved:fault:normal',
      '10000:raised:fault:active_unacked',
    ]);
    expect(h.events[1]!.by).toBe('expiry');
    expect(h.engine.stats.shelved).toBe(0);
  });

  it('a condition gone while shelved leaves nothing to raise; unshelve by hand', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })]);
    h.sample('fault_alarm', false);
    h.engine.shelve(key, { untilMs: T0 + 60_000, by: 'anna', reason: '' });
    h.run([
      [1000, 'fault_alarm', true],
      [2000, 'fault_alarm', false],
    ]);
    expect(h.engine.unshelve(key, 'ben')).toEqual({ ok: true, state: 'normal' });
    expect(h.log()).toEqual(['0:shelved:fault:normal', '2000:unshelved:fault:normal']);
    expect(h.engine.unshelve(key, 'ben')).toMatchObject({ ok: false, status: 'conflict' });
  });

  it.each([
    ['in the past', -1],
    ['beyond maxShelveMs', 8 * 24 * 3_600_000],
  ])('refuses a shelve end %s', (_what, offset) => {
    const h = harness([fault()]);
    h.sample('fault_alarm', false);
    expect(h.engine.shelve(key, { untilMs: T0 + offset, by: 'a', reason: '' })).toMatchObject({
      ok: false,
      status: 'invalid',
      error: expect.stringMatching(/maintenance\.alarms\.maxShelveMs/),
    });
  });
});

describe('chatter', () => {
  it('a tag toggling every 2 s for a minute makes two raises and one chattering event', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 0 })], {
      chatter: { activations: 3, windowMs: 60_000, shelveMs: 600_000 },
    });
    const steps: Step[] = [];
    for (let s = 0; s < 60; s += 2) steps.push([s * 1000, 'fault_alarm', s % 4 === 0]);
    h.run(steps);
    expect(h.log()).toEqual([
      '0:raised:fault:active_unacked',
      '2000:cleared:fault:returned_unacked',
      '4000:raised:fault:active_unacked',
      '6000:cleared:fault:returned_unacked',
      '8000:chattering:fault:returned_unacked',
    ]);
    expect(h.events[4]!.shelved).toEqual({
      untilMs: T0 + 608_000,
      by: 'chatter',
      reason: '3 activations within 60 s',
    });
    expect(h.engine.stats.chattering).toBe(1);
    // Still on when the chatter shelve ends: raised again, as a re-occurrence.
    h.run([
      [600_000, 'fault_alarm', true],
      [608_000, 'tick'],
    ]);
    expect(h.log().slice(5)).toEqual([
      '608000:unshelved:fault:returned_unacked',
      '608000:raised:fault:active_unacked',
    ]);
    expect(h.events.at(-1)!.occurrences).toBe(3);
  });

  it('an off-delay longer than the toggling period keeps it one activation', () => {
    const h = harness([fault({ onDelayMs: 0, offDelayMs: 5000 })]);
    const steps: Step[] = [];
    for (let s = 0; s < 60; s += 2) steps.push([s * 1000, 'fault_alarm', s % 4 === 0]);
    h.run(steps);
    expect(h.log()).toEqual(['0:raised:fault:active_unacked']);
  });
});

describe('suppression by communication loss', () => {
  const rules = [{ kind: 'micro820', asset: '*', onDelayMs: 1000, offDelayMs: 1000 }];

  it('node offline raises comm_loss and holds back the other alarms of its assets, once each', () => {
    const h = harness(rules);
    h.run([
      [0, 'fault_alarm', true],
      [0, 'e_stop_active', false],
      [1000, 'tick'],
      [2000, 'offline'],
      [2500, 'fault_alarm', true, { quality: 'bad' }],
      [3000, 'tick'],
      // A good sample while the node is reported offline (a late message) raises nothing.
      [3500, 'e_stop_active', true],
      [6000, 'tick'],
    ]);
    expect(h.log()).toEqual([
      '1000:raised:fault_alarm:active_unacked',
      '3000:raised:comm_loss:active_unacked',
      '3000:suppressed:fault_alarm:active_unacked',
    ]);
    expect(h.events[1]!.text).toBe('node edge-01 offline (communication loss)');
    expect(h.engine.stats.suppressed).toBe(2); // fault_alarm and e_stop_active: error_code was never seen
    h.run([
      [7000, 'online'],
      [8000, 'tick'],
    ]);
    expect(h.log().slice(3)).toEqual([
      '8000:cleared:comm_loss:returned_unacked',
      '8000:unsuppressed:fault_alarm:active_unacked',
      '8000:raised:e_stop_active:active_unacked',
    ]);
    expect(h.engine.stats.suppressed).toBe(0);
  });

  it('a failing device raises comm_loss on the assets mapped to it', () => {
    const h = harness(rules);
    h.engine.mapAsset('plant1', 'conveyor1', 'edge-01', 'micro820');
    h.engine.onDeviceStatus('plant1', 'edge-01', 'other-plc', true, T0);
    h.engine.onDeviceStatus('plant1', 'edge-01', 'micro820', true, T0);
    h.to(1000);
    expect(h.log()).toEqual(['1000:raised:comm_loss:active_unacked']);
    expect(h.events[0]!.text).toBe('device micro820 on node edge-01 failing (communication loss)');
    h.engine.onDeviceStatus('plant1', 'edge-01', 'micro820', false, T0 + 1000);
    h.to(2000);
    expect(h.log()).toHaveLength(2);
  });

  it('a node already offline when its asset is learned raises comm_loss', () => {
    const h = harness(rules);
    h.engine.onNodeStatus('plant1', 'edge-01', 'offline', T0);
    h.run([
      [0, 'error_code', 0],
      [1000, 'tick'],
    ]);
    expect(h.log()).toEqual(['1000:raised:comm_loss:active_unacked']);
  });
});

describe('restart from the state store', () => {
  it('an active alarm stays active with no second raised event, and clears later', () => {
    const path = join(dir, 'restart.db');
    const store = new AlarmStateStore(path);
    const a = harness([fault()], {}, store);
    a.run([
      [0, 'fault_alarm', true],
      [1000, 'tick'],
    ]);
    a.engine.shelve('plant1/conveyor1/fault', { untilMs: T0 + 3_600_000, by: 'x', reason: '' });
    a.engine.unshelve('plant1/conveyor1/fault', 'x');
    a.engine.flush();
    store.close();

    const store2 = new AlarmStateStore(path);
    const b = harness([fault()], {}, store2, 5000);
    expect(b.engine.list()).toEqual([
      expect.objectContaining({
        key: 'plant1/conveyor1/fault',
        state: 'active_unacked',
        occurrences: 1,
      }),
    ]);
    b.run([
      [5000, 'fault_alarm', true],
      [6000, 'fault_alarm', false],
      [11_000, 'tick'],
    ]);
    expect(b.log()).toEqual(['11000:cleared:fault:returned_unacked']);
    store2.close();
  });

  it('a pending on-delay resumes without a new sample; history before the restart is not evaluated', () => {
    const path = join(dir, 'pending.db');
    const store = new AlarmStateStore(path);
    const a = harness([fault({ onDelayMs: 5000 })], {}, store);
    a.run([
      [0, 'fault_alarm', true],
      [250, 'tick'],
    ]);
    store.close();
    const store2 = new AlarmStateStore(path);
    const b = harness([fault({ onDelayMs: 5000 })], {}, store2, 3000);
    b.run([
      [3000, 'fault_alarm', false, { ts: T0 - 1 }],
      [5000, 'tick'],
    ]);
    expect(b.log()).toEqual(['5000:raised:fault:active_unacked']);
    expect(b.engine.stats.outOfOrderIgnored).toBe(1);
    store2.close();
  });

  it('a shelve and a comm-loss suppression survive; rows of removed rules are dropped', () => {
    const path = join(dir, 'shelve.db');
    const store = new AlarmStateStore(path);
    const rules = [{ kind: 'micro820', asset: '*', onDelayMs: 0, offDelayMs: 0 }];
    const a = harness(rules, {}, store);
    a.run([
      [0, 'fault_alarm', false],
      [0, 'error_code', 0],
      [100, 'offline'],
    ]);
    a.engine.shelve('plant1/conveyor1/fault_alarm', {
      untilMs: T0 + 60_000,
      by: 'anna',
      reason: 'r',
    });
    a.engine.flush();
    store.close();

    const store2 = new AlarmStateStore(path);
    const b = harness(rules.concat(), {}, store2, 1000);
    expect(
      b.engine.list().map((x) => [x.rule, x.state, x.shelved?.by ?? null, x.suppressed]),
    ).toEqual([
      ['comm_loss', 'active_unacked', null, false],
      ['fault_alarm', 'normal', 'anna', true],
    ]);
    // The node comes back (its retained status): comm_loss clears, error_code raises normally.
    b.run([
      [1000, 'online'],
      [1100, 'error_code', 2],
    ]);
    expect(b.log()).toEqual([
      '1000:cleared:comm_loss:returned_unacked',
      '1100:raised:error_code:active_unacked',
    ]);
    store2.close();

    const store3 = new AlarmStateStore(path);
    const c = harness([fault({ name: 'fault_alarm' })], {}, store3, 2000);
    expect(c.engine.list(true).map((x) => x.rule)).toEqual(['fault_alarm']);
    expect(store3.load().alarms.map((x) => x.rule)).toEqual(['fault_alarm']);
    store3.close();
  });
});
