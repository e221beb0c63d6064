import type { Aedes, PublishPacket } from 'aedes';
import type { Logger } from '../core/logger.js';
import type { SqlitePersistence } from './broker-persistence.js';

/**
 * Publishes the Wills of clients that were connected when the broker last stopped (a crash or
 * kill leaves them in the store), before any listener opens: they did not say goodbye.
 * `onRestored` counts each one published.
 */
export async function restoreWills(
  broker: Aedes,
  persistence: SqlitePersistence,
  log: Logger,
  onRestored: () => void,
): Promise<void> {
  const stale: {
    topic: string;
    payload: Buffer | string;
    qos: 0 | 1 | 2;
    retain: boolean;
    clientId?: string;
  }[] = [];
  for await (const will of persistence.streamWill({ [broker.id]: Date.now() })) stale.push(will);
  for (const will of stale) {
    const packet = {
      cmd: 'publish',
      topic: will.topic,
      payload: will.payload,
      qos: will.qos,
      retain: will.retain,
      dup: false,
    } as PublishPacket;
    await new Promise<void>((resolve) =>
      broker.publish(packet, (err) => {
        if (err)
          log.warn({ topic: will.topic, err: err.message }, 'could not publish a stored Will');
        resolve();
      }),
    );
    await persistence.delWill({ id: will.clientId ?? '' });
    onRestored();
    log.info(
      { clientId: will.clientId, topic: will.topic },
      'published the Will of a client connected before the broker restarted',
    );
  }
}
