/**
 * A work-order dispatcher in a process of its own, so a test can kill -9 it mid-request.
 * argv[2]: JSON {url, email, outbox, reconcileDelayMs, opens: [{key, asset, title}]}; the
 * password comes from CMMS_TEST_PASSWORD. Prints `work order <key> <id> created|adopted`,
 * `idle` whenever the outbox empties, and `stopped pending=<n>` on SIGTERM.
 */
import { createRootLogger } from '../../core/logger.js';
import { cmmsConfigSchema, createAtlasDispatcher } from '../../maintenance/cmms/index.js';

interface ChildArgs {
  url: string;
  email: string;
  outbox: string;
  reconcileDelayMs: number;
  opens: { key: string; asset: string; title: string }[];
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const config = cmmsConfigSchema.parse({
  url: args.url,
  email: args.email,
  passwordEnv: 'CMMS_TEST_PASSWORD',
  outbox: { path: args.outbox },
  reconcileDelayMs: args.reconcileDelayMs,
  retryMaxMs: 2000,
  timeoutMs: 120_000,
});
const log = createRootLogger({ level: 'info' });
const { dispatcher } = await createAtlasDispatcher(config, {
  name: 'child',
  log,
  onWorkOrder: (key, info) =>
    console.log(`work order ${key} ${info.id} ${info.adopted ? 'adopted' : 'created'}`),
});
dispatcher.start();
for (const o of args.opens)
  dispatcher.open({ ...o, site: 'plant', description: `Alarm ${o.key}`, priority: 'HIGH' });
console.log('ready');
let wasIdle = false;
const timer = setInterval(() => {
  const idle = dispatcher.stats().depth === 0;
  if (idle && !wasIdle) console.log('idle');
  wasIdle = idle;
}, 100);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void dispatcher.stop().then(({ pending }) => {
    console.log(`stopped pending=${pending}`);
    process.exit(0);
  });
});
