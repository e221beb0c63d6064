import { describe, expect, it } from 'vitest';
import { silentLogger } from './logger.js';
import { notifyTarget, pingIntervalMs, SystemdNotifier, type NotifySender } from './sd-notify.js';

describe('notifyTarget', () => {
  it.each([
    ['no NOTIFY_SOCKET: not under systemd', {}, undefined],
    ['socket only', { NOTIFY_SOCKET: '/run/n' }, { socket: '/run/n' }],
    [
      'watchdog for this pid',
      { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' },
      { socket: '/run/n', watchdogMs: 30_000 },
    ],
    [
      'watchdog without WATCHDOG_PID',
      { NOTIFY_SOCKET: '@abstract', WATCHDOG_USEC: '1500' },
      { socket: '@abstract', watchdogMs: 1 },
    ],
    [
      'watchdog meant for another process',
      { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' },
      { socket: '/run/n' },
    ],
    [
      'garbage WATCHDOG_USEC',
      { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: 'soon' },
      { socket: '/run/n' },
    ],
    ['zero WATCHDOG_USEC', { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '0' }, { socket: '/run/n' }],
  ])('%s', (_what, env, expected) => {
    expect(notifyTarget(env, 42)).toEqual(expected);
  });
});

describe('pingIntervalMs', () => {
  it.each([
    [30_000, 15_000],
    [1_000, 500],
    [50, 100],
  ])('watchdog %i ms → ping every %i ms', (watchdog, ping) => {
    expect(pingIntervalMs(watchdog)).toBe(ping);
  });
});

/** A sender that records messages; `hold` keeps each send pending until released. */
function recorder(hold = false) {
  const state = { hold, sent: [] as string[], pending: [] as (() => void)[] };
  const send: NotifySender = (a) => {
    state.sent.push(a.join(' '));
    return state.hold ? new Promise((r) => state.pending.push(r)) : Promise.resolve();
  };
  return { ...state, state, send };
}

const waitUntil = async (what: string, ok: () => boolean) => {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('SystemdNotifier', () => {
  it('sends READY=1, then pings, then STOPPING=1 and no more pings', async () => {
    const r = recorder();
    const n = new SystemdNotifier({ socket: '/x', watchdogMs: 200 }, silentLogger, r.send);
    await n.ready();
    await waitUntil('3 pings', () => r.sent.filter((m) => m === 'WATCHDOG=1').length >= 3);
    await n.stopping();
    const count = r.sent.length;
    await new Promise((res) => setTimeout(res, 350));
    expect(r.sent[0]).toBe('READY=1');
    expect(r.sent.at(-1)).toBe('STOPPING=1');
    expect(r.sent.length).toBe(count);
  });

  it('without a watchdog it only says ready', async () => {
    const r = recorder();
    const n = new SystemdNotifier({ socket: '/x' }, silentLogger, r.send);
    await n.ready();
    await new Promise((res) => setTimeout(res, 150));
    expect(r.sent).toEqual(['READY=1']);
  });

  it('skips pings while a message is still being sent, and counts them', async () => {
    const r = recorder(true);
    const n = new SystemdNotifier({ socket: '/x', watchdogMs: 200 }, silentLogger, r.send);
    const ready = n.ready();
    r.state.pending.shift()!();
    await ready;
    await waitUntil('a skipped ping', () => n.stats.skipped >= 2);
    expect(r.state.sent.filter((m) => m === 'WATCHDOG=1')).toHaveLength(1);
    r.state.hold = false;
    for (const release of r.state.pending) release();
    await n.stopping();
  });

  it('counts a failed send and keeps going', async () => {
    let calls = 0;
    const n = new SystemdNotifier({ socket: '/x', watchdogMs: 200 }, silentLogger, () =>
      ++calls === 1 ? Promise.reject(new Error('no systemd-notify')) : Promise.resolve(),
    );
    await n.ready();
    await waitUntil('a ping after the failure', () => n.stats.sent >= 1);
    await n.stopping();
    expect(n.stats.failed).toBe(1);
  });
});
