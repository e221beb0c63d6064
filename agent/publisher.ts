import type { MqttClient } from 'mqtt';
import { BoundedQueue } from '../core/bounded-queue.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface PublisherOptions {
  qos: 0 | 1;
  /** Messages held while the broker is unreachable or the in-flight window is full. */
  maxQueue: number;
  /** QoS 1 messages awaiting PUBACK at once; bounds mqtt.js's otherwise unbounded store. */
  maxInflight: number;
}

export interface PublisherStats {
  published: number;
  queued: number;
  dropped: number;
  inflight: number;
  failed: number;
}

interface Pending {
  topic: string;
  payload: string;
}

/**
 * Publishes telemetry with a bounded in-flight window. While the broker is down, messages wait
 * in a bounded in-memory queue (oldest dropped first, counted) and drain in order on reconnect.
 */
export class Publisher {
  private readonly queue: BoundedQueue<Pending>;
  private inflight = 0;
  private published = 0;
  private failed = 0;

  constructor(
    private readonly client: MqttClient,
    private readonly options: PublisherOptions,
    private readonly log: Logger,
  ) {
    this.queue = new BoundedQueue(options.maxQueue);
    client.on('connect', () => this.drain());
  }

  publish(topic: string, payload: string): void {
    if (
      this.client.connected &&
      this.inflight < this.options.maxInflight &&
      this.queue.length === 0
    ) {
      this.send({ topic, payload });
      return;
    }
    const evicted = this.queue.push({ topic, payload });
    if (evicted && (this.queue.dropped === 1 || this.queue.dropped % 10_000 === 0)) {
      this.log.warn(
        { dropped: this.queue.dropped, capacity: this.options.maxQueue },
        'publish queue full; dropping oldest samples',
      );
    }
  }

  get stats(): PublisherStats {
    return {
      published: this.published,
      queued: this.queue.length,
      dropped: this.queue.dropped,
      inflight: this.inflight,
      failed: this.failed,
    };
  }

  private send(item: Pending): void {
    this.inflight += 1;
    this.client.publish(item.topic, item.payload, { qos: this.options.qos }, (err) => {
      this.inflight -= 1;
      if (err) {
        // mqtt.js fails a publish only when the client is ending; keep the sample for the next connection.
        this.failed += 1;
        this.queue.push(item);
        this.log.debug({ topic: item.topic, err: errorMessage(err) }, 'publish failed; requeued');
      } else {
        this.published += 1;
      }
      this.drain();
    });
  }

  private drain(): void {
    while (this.client.connected && this.inflight < this.options.maxInflight) {
      const item = this.queue.shift();
      if (!item) return;
      this.send(item);
    }
  }
}
