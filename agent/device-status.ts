import type { MqttClient } from 'mqtt';
import type { Logger } from '../core/logger.js';
import type { SourceStatus } from '../protocols/types.js';

export type DeviceState = 'connected' | 'disconnected' | 'failing';

export function deviceState(s: SourceStatus): DeviceState {
  return s.connected ? 'connected' : s.failing ? 'failing' : 'disconnected';
}

/**
 * Retained device status on `_nodes/<node>/devices/<device>`, published when the state or the
 * reason changes, with the driver's counters so an operator can see what happened.
 */
export class DeviceStatusPublisher {
  /** Device → state and reason last published. */
  private readonly published = new Map<string, string>();

  constructor(
    private readonly topicOf: (device: string) => string,
    private readonly log: Logger,
  ) {}

  /** After a reconnect every device's status goes out again. */
  reset(): void {
    this.published.clear();
  }

  update(client: MqttClient, device: string, counters: SourceStatus): void {
    const status = deviceState(counters);
    const key = `${status}|${counters.connected ? '' : (counters.lastError ?? '')}`;
    if (key === this.published.get(device) || !client.connected) return;
    this.published.set(device, key);
    const { lastError, ...rest } = counters;
    const body = JSON.stringify({
      status,
      ts: Date.now(),
      ...(counters.connected ? {} : { reason: lastError }),
      ...rest,
    });
    client.publish(this.topicOf(device), body, { qos: 1, retain: true });
    if (counters.connected) this.log.info({ device }, 'device online');
    else
      this.log.warn(
        { device, status, reason: lastError },
        'device offline; its tags are published with quality bad',
      );
  }
}
