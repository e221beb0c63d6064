import type { MqttClient } from 'mqtt';
import type { Logger } from '../core/logger.js';

/** Retained: which gateway runs the maintenance bridge, and until when. */
export const LEASE_TOPIC = 'factorylm/_gateways/maintenance-lease';

interface LeaseBody {
  holder: string;
  /** Epoch ms; the lease is free after this unless renewed. */
  until: number;
}

function parseLease(payload: Buffer): LeaseBody | undefined {
  try {
    const o = JSON.parse(payload.toString('utf8')) as Partial<LeaseBody>;
    if (typeof o.holder === 'string' && typeof o.until === 'number')
      return { holder: o.holder, until: o.until };
  } catch {
    // An empty retained message (a released lease) or garbage: no holder.
  }
  return undefined;
}

/**
 * Elects one gateway of several to run the maintenance bridge, so a fault makes one work order
 * however many instances share the load. The lease is a retained MQTT message renewed every
 * third of its time to live; when the holder stops renewing (killed, cut off) another claims it
 * once it has expired. Claims race through the broker, which orders them: every instance takes
 * the last lease it received as the truth, so all agree on one holder. An instance acts only on
 * its own claim coming back from the broker, never on having sent it.
 *
 * Two holders for a moment (a renewal crossing a claim) is harmless: the CMMS dispatcher
 * searches for the alarm's marker before every create.
 */
export class MaintenanceLease {
  private lease?: LeaseBody;
  private timer?: NodeJS.Timeout;
  private active = false;
  /** Released for good: the gateway is stopping and its bridge is closing. */
  private released = false;

  constructor(
    private readonly client: MqttClient,
    private readonly name: string,
    private readonly ttlMs: number,
    private readonly onChange: (active: boolean) => void,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    // The first check waits a little: a retained lease arrives right after subscribing.
    this.timer = setTimeout(() => this.check(), Math.min(2000, this.ttlMs / 3));
    this.timer.unref();
  }

  /** A message on LEASE_TOPIC. */
  receive(payload: Buffer): void {
    // Our own last claim may come back after release(); taking it would reopen a closed bridge.
    if (this.released) return;
    this.lease = parseLease(payload);
    this.update();
  }

  get holder(): string | undefined {
    return this.lease && this.lease.until > this.now() ? this.lease.holder : undefined;
  }

  /** Gives the lease up so another instance takes over at once. */
  release(): void {
    this.released = true;
    clearTimeout(this.timer);
    if (this.lease?.holder === this.name && this.client.connected)
      this.client.publish(LEASE_TOPIC, '', { qos: 1, retain: true });
    this.setActive(false);
  }

  private check(): void {
    const now = this.now();
    if (this.client.connected) {
      const mine = this.lease?.holder === this.name;
      if (mine || !this.lease || this.lease.until <= now) this.claim(now);
    }
    this.update();
    this.timer = setTimeout(() => this.check(), this.ttlMs / 3);
    this.timer.unref();
  }

  private claim(now: number): void {
    const body: LeaseBody = { holder: this.name, until: now + this.ttlMs };
    this.client.publish(LEASE_TOPIC, JSON.stringify(body), { qos: 1, retain: true });
  }

  private update(): void {
    const lease = this.lease;
    this.setActive(
      lease?.holder === this.name && lease.until > this.now() && this.client.connected,
    );
  }

  private setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.log.info(
      { holder: this.lease?.holder, active },
      active
        ? 'holding the maintenance lease'
        : 'maintenance lease held elsewhere or lost; not evaluating alarms',
    );
    this.onChange(active);
  }
}
