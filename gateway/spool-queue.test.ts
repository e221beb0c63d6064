import { describeDurableQueue } from '../core/durable-queue.conformance.js';
import { silentLogger } from '../core/logger.js';
import { Spool } from './spool.js';

describeDurableQueue(
  'gateway spool',
  (path, limits) => {
    const spool = new Spool(path, limits, silentLogger);
    return {
      append: (body) => spool.append(spool.nextId(), body, 1),
      settle: () => spool.enforceLimits(),
      bodies: () => spool.oldest(Number.MAX_SAFE_INTEGER)?.body.split('\n') ?? [],
      dropped: () => spool.dropped.messages,
      close: () => spool.close(),
      failingCommit: () => spool.append(spool.nextId(), null as unknown as string, 1),
    };
  },
  { atomic: true },
);
