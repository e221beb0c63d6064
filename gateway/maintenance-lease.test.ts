import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { LEASE_TOPIC, MaintenanceLease } from './maintenance-lease.js';

/** The part of a connected mqtt.js client the lease uses: what it publishes is recorded. */
function client() {
  const published: { topic: string; payload: string; retain?: boolean }[] = [];
  const c = {
    connected: true,
    publish: (topic: string, payload: string, opts: { retain?: boolean }) =>
      published.push({ topic, payload, retain: opts.retain }),
  };
  return { published, client: c as unknown as MqttClient };
}

const NOW = 1_000_000;
const claim = (holder: string, until: number) => Buffer.from(JSON.stringify({ holder, until }));

describe('MaintenanceLease', () => {
  function lease() {
    const { published, client: c } = client();
    const changes: boolean[] = [];
    const l = new MaintenanceLease(
      c,
      'gw1',
      30_000,
      (a) => changes.push(a),
      silentLogger,
      () => NOW,
    );
    return { l, published, changes };
  }

  it('acts on its own claim coming back, and stands by for another holder or an expired one', () => {
    const { l, changes } = lease();
    l.receive(claim('gw1', NOW + 30_000));
    l.receive(claim('gw2', NOW + 30_000));
    l.receive(claim('gw1', NOW - 1));
    l.receive(Buffer.from('not json'));
    expect(changes).toEqual([true, false]);
    expect(l.holder).toBeUndefined();
  });

  it('released, it gives the lease up and ignores its own last claim arriving late', () => {
    const { l, published, changes } = lease();
    l.receive(claim('gw1', NOW + 30_000));
    l.release();
    expect(published).toEqual([{ topic: LEASE_TOPIC, payload: '', retain: true }]);
    // A renewal sent just before release() and echoed by the broker after it: taking it would
    // reopen the maintenance bridge while the gateway closes its stores.
    l.receive(claim('gw1', NOW + 30_000));
    expect(changes).toEqual([true, false]);
  });
});
