import { execFile } from 'node:child_process';
import type { Logger } from './logger.js';

/**
 * systemd's service notification (`Type=notify`, `WatchdogSec=`) for the agent and the gateway.
 *
 * The protocol is one datagram on the AF_UNIX socket named by `NOTIFY_SOCKET`, and Node has no
 * datagram Unix sockets (`dgram` is UDP only). Rather than a native addon, each message is sent
 * by systemd's own `systemd-notify --pid=<our pid>`: the unit sets `NotifyAccess=all` because
 * the sender is that short-lived child, and since systemd 246 `systemd-notify` waits until the
 * manager has processed the message (a barrier), so the child exiting first loses nothing.
 * Measured here against a test socket: about 100 ms wall (the barrier wait) and 7 ms of this
 * process's CPU per message (the fork), sent once per `WatchdogSec/2` (15 s).
 *
 * The watchdog is fed from the event loop: the ping is a timer callback, so a loop that is
 * blocked (a runaway synchronous job, a deadlock in a native call) stops the pings and systemd
 * kills and restarts the process after `WatchdogSec`.
 */

/** What the service manager asked for, read from the unit's environment. */
export interface NotifyTarget {
  /** The socket `systemd-notify` writes to (it reads `NOTIFY_SOCKET` itself). */
  socket: string;
  /** Watchdog timeout, ms; absent when the unit has no `WatchdogSec=` or it is not for us. */
  watchdogMs?: number;
}

/**
 * The notification target from the environment, or undefined when not run by systemd as
 * `Type=notify`. `WATCHDOG_PID`, when set, must be this process (sd_watchdog_enabled(3)).
 */
export function notifyTarget(env: NodeJS.ProcessEnv, pid: number): NotifyTarget | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
  if (!Number.isSafeInteger(usec) || usec <= 0 || !forUs) return { socket };
  return { socket, watchdogMs: Math.floor(usec / 1000) };
}

/** Pings at half the timeout, as sd_watchdog_enabled(3) recommends, at most every 100 ms. */
export function pingIntervalMs(watchdogMs: number): number {
  return Math.max(100, Math.floor(watchdogMs / 2));
}

/** Sends one notification (`READY=1`, `WATCHDOG=1`, …); rejects when it could not. */
export type NotifySender = (assignments: string[]) => Promise<void>;

/** The default sender: `systemd-notify --pid=<pid> <assignments…>` to `socket`, time-limited. */
export function systemdNotifySender(
  socket: string,
  pid = process.pid,
  timeoutMs = 5000,
): NotifySender {
  const env = { ...process.env, NOTIFY_SOCKET: socket };
  return (assignments) =>
    new Promise((resolve, reject) => {
      execFile(
        'systemd-notify',
        [`--pid=${pid}`, ...assignments],
        { env, timeout: timeoutMs },
        (err) => (err ? reject(err) : resolve()),
      );
    });
}

export interface NotifierStats {
  sent: number;
  failed: number;
  /** Pings skipped because the previous message was still being sent. */
  skipped: number;
}

/** Tells systemd the service is ready, feeds its watchdog, and says when it is stopping. */
export class SystemdNotifier {
  readonly stats: NotifierStats = { sent: 0, failed: 0, skipped: 0 };
  private timer?: NodeJS.Timeout;
  private inFlight = false;
  private warned = false;

  constructor(
    private readonly target: NotifyTarget,
    private readonly log: Logger,
    private readonly send: NotifySender = systemdNotifySender(target.socket),
  ) {}

  /** `READY=1` (systemd then considers the start done), then watchdog pings if asked for. */
  async ready(): Promise<void> {
    await this.notify(['READY=1']);
    const { watchdogMs } = this.target;
    if (watchdogMs === undefined || this.timer) return;
    this.timer = setInterval(() => this.ping(), pingIntervalMs(watchdogMs));
    // The watchdog must never be what keeps the process alive.
    this.timer.unref();
    this.log.info(
      { watchdogMs, pingMs: pingIntervalMs(watchdogMs) },
      'systemd watchdog fed from the event loop',
    );
  }

  /** `STOPPING=1` and no more pings: the stop that follows is not a hang. */
  async stopping(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.notify(['STOPPING=1']);
  }

  private ping(): void {
    // One message at a time: a stalled systemd-notify must not pile up child processes.
    if (this.inFlight) {
      this.stats.skipped++;
      return;
    }
    this.notify(['WATCHDOG=1']).catch(() => undefined);
  }

  private async notify(assignments: string[]): Promise<void> {
    this.inFlight = true;
    try {
      await this.send(assignments);
      this.stats.sent++;
    } catch (err) {
      this.stats.failed++;
      // Once: a missing systemd-notify would otherwise log at every ping until systemd kills us.
      if (!this.warned) {
        this.warned = true;
        this.log.error(
          { err, socket: this.target.socket, message: assignments.join(' ') },
          'could not notify systemd (is systemd-notify installed?); the watchdog will restart this service',
        );
      }
    } finally {
      this.inFlight = false;
    }
  }
}

/** The notifier for this process, or undefined when systemd did not ask for notifications. */
export function systemdNotifier(log: Logger): SystemdNotifier | undefined {
  const target = notifyTarget(process.env, process.pid);
  return target && new SystemdNotifier(target, log.child({ component: 'systemd' }));
}
