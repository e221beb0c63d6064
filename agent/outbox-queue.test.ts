import mqtt from 'mqtt';
import { describeDurableQueue, readQueueFile } from '../core/durable-queue.conformance.js';
import { silentLogger } from '../core/logger.js';
import { Outbox } from './outbox.js';

// Offline all along (the client never connects): every message goes through the file.
describeDurableQueue(
  'agent outbox',
  (path, limits) => {
    const client = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true });
    const outbox = new Outbox(
      client,
      {
        path,
        ...limits,
        flushIntervalMs: 3_600_000,
        replayRatePerSec: 1000,
        maxMemoryMessages: 10_000,
        qos: 1,
        maxInflight: 100,
      },
      (record) => record.payload,
      silentLogger,
    );
    return {
      append: (body) => outbox.append('factorylm/site/area/line/asset', body, 1),
      settle: () => outbox.flush(),
      bodies: () => readQueueFile(path).map((r) => r.payload),
      dropped: () => outbox.stats.dropped.messages,
      // The client never connected: it holds no socket or timer to end.
      close: () => outbox.close(),
    };
  },
  { atomic: false },
);
