import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { WorkOrderInfo } from './actions.js';
import { AtlasClient } from './atlas-client.js';
import { AtlasTarget } from './atlas-target.js';
import { defaultOutboxPath, readSecret, type CmmsConfig, type WebhookConfig } from './config.js';
import { WorkOrderDispatcher } from './dispatcher.js';
import { OrderStore } from './order-store.js';
import { WebhookTarget } from './webhook.js';

export type { CmmsAction, OpenAction, WorkOrderInfo } from './actions.js';
export { AtlasClient } from './atlas-client.js';
export {
  cmmsConfigSchema,
  webhookConfigSchema,
  type CmmsConfig,
  type WebhookConfig,
} from './config.js';
export { WorkOrderDispatcher, type DispatcherStats } from './dispatcher.js';
export { CmmsError, type CmmsErrorKind } from './errors.js';
export { marker } from './marker.js';
export { SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER, verifySignature } from './webhook.js';

export interface DispatcherDeps {
  /** Gateway name: the default outbox file is `<kind>-outbox-<name>.db` in the state directory. */
  name: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/** The Atlas client a config describes (the password is read at each sign-in). */
export function atlasClientFrom(
  config: CmmsConfig,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): AtlasClient {
  return new AtlasClient(
    {
      url: config.url,
      email: config.email,
      password: () =>
        readSecret(
          { file: config.passwordFile, env: config.passwordEnv },
          'maintenance.cmms',
          'password',
          env,
        ),
      connectTimeoutMs: config.connectTimeoutMs,
      timeoutMs: config.timeoutMs,
      requestsPerMinute: config.rateLimit.requestsPerMinute,
      maxRateLimitRetries: config.rateLimit.maxRetries,
    },
    log,
  );
}

/**
 * The Atlas work-order dispatcher a config describes, not started. Reads the password once now
 * so a missing file or variable fails at start with its config path.
 */
export async function createAtlasDispatcher(
  config: CmmsConfig,
  deps: DispatcherDeps & { onWorkOrder?: (key: string, info: WorkOrderInfo) => void },
): Promise<{ dispatcher: WorkOrderDispatcher; client: AtlasClient; store: OrderStore }> {
  await readSecret(
    { file: config.passwordFile, env: config.passwordEnv },
    'maintenance.cmms',
    'password',
    deps.env,
  );
  const log = deps.log.child({ component: 'cmms' });
  const path = config.outbox.path ?? defaultOutboxPath('cmms', deps.name);
  const client = atlasClientFrom(config, log, deps.env);
  // The order table and the outbox share one SQLite file, each on its own connection.
  const store = openStore(path, log);
  const target = new AtlasTarget(
    client,
    store,
    {
      frontendUrl: config.frontendUrl ?? config.url,
      assets: config.assets,
      createAssets: config.createAssets,
      reconcileDelayMs: config.reconcileDelayMs,
    },
    log,
    deps.onWorkOrder,
  );
  const dispatcher = new WorkOrderDispatcher({ ...config.outbox, ...config, path }, target, log);
  return { dispatcher, client, store };
}

/** The webhook dispatcher a config describes, not started. Reads the secret once now. */
export async function createWebhookDispatcher(
  config: WebhookConfig,
  deps: DispatcherDeps,
): Promise<WorkOrderDispatcher> {
  const ref = { file: config.secretFile, env: config.secretEnv };
  const secret = await readSecret(ref, 'maintenance.webhook', 'secret', deps.env);
  const target = new WebhookTarget({
    url: config.url,
    secret: () => secret,
    connectTimeoutMs: config.connectTimeoutMs,
    timeoutMs: config.timeoutMs,
    source: deps.name,
  });
  const path = config.outbox.path ?? defaultOutboxPath('webhook', deps.name);
  return new WorkOrderDispatcher(
    { ...config.outbox, ...config, path, reconcileDelayMs: 0 },
    target,
    deps.log.child({ component: 'webhook' }),
  );
}

function openStore(path: string, log: Logger): OrderStore {
  try {
    return new OrderStore(path);
  } catch (err) {
    log.error(
      { path, err: errorMessage(err) },
      'work-order table cannot be opened; it is kept in memory only, so a restart relies on the marker search alone',
    );
    return new OrderStore(':memory:');
  }
}
