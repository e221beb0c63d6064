import { describeDurableQueue, readQueueFile } from '../../core/durable-queue.conformance.js';
import { silentLogger } from '../../core/logger.js';
import type { ActionTarget } from './actions.js';
import { WorkOrderDispatcher } from './dispatcher.js';

// Never started: actions stay in the outbox, where the contract looks at them (key = record topic).
const target: ActionTarget = {
  name: 'unused',
  apply: () => Promise.reject(new Error('the contract suite never starts the dispatcher')),
};

describeDurableQueue(
  'maintenance dispatcher outbox',
  (path, limits) => {
    const dispatcher = new WorkOrderDispatcher(
      {
        path,
        ...limits,
        retryMaxMs: 60_000,
        permanentRetryMs: 60_000,
        reconcileDelayMs: 60_000,
        jitter: 0,
      },
      target,
      silentLogger,
    );
    return {
      // Each action is committed and the limits applied as it is accepted.
      append: (body) => dispatcher.comment(body, 'note'),
      settle: () => {},
      bodies: () => readQueueFile(path).map((r) => r.topic),
      dropped: () => dispatcher.stats().dropped,
      close: async () => {
        await dispatcher.stop();
      },
    };
  },
  { atomic: false },
);
