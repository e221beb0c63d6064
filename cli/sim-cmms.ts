import { InvalidArgumentError, type Command } from 'commander';
import { createRootLogger } from '../core/logger.js';
import { exitWithError, parseIntOption, runUntilSignal } from './run.js';

interface SimCmmsOptions {
  port: number;
  host: string;
  user: { email: string; password: string }[];
  controlPort?: number;
  seedAssets: string[];
  tokenLifetime: number;
  rateLimit: number;
  licenceLimit: number;
  authError: 'spring' | 'message';
}

const DEFAULT_USER = { email: 'maintenance@plant.example', password: 'factorylm-demo' };

function userOption(
  v: string,
  previous: { email: string; password: string }[],
): { email: string; password: string }[] {
  const i = v.indexOf(':');
  if (i < 3 || !v.slice(0, i).includes('@'))
    throw new InvalidArgumentError(
      `"${v}": expected EMAIL:PASSWORD, e.g. bot@plant1.example:secret`,
    );
  return [...previous, { email: v.slice(0, i), password: v.slice(i + 1) }];
}

export function registerSimCmms(sim: Command): void {
  sim
    .command('cmms')
    .description(
      'Serve a simulated Atlas CMMS API (sign-in, assets, work orders, comments) with faults',
    )
    .option('-p, --port <n>', 'TCP port of the API', parseIntOption('--port'), 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option(
      '--user <email:password>',
      `accept this user (repeatable); users of one e-mail domain share a company. Default ${DEFAULT_USER.email}:${DEFAULT_USER.password}`,
      userOption,
      [],
    )
    .option(
      '--seed-assets <names>',
      'assets created in every company at start, comma-separated',
      (v: string) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      [],
    )
    .option(
      '--control-port <n>',
      'HTTP control API on 127.0.0.1 (faults, limits, token expiry, state)',
      parseIntOption('--control-port'),
    )
    .option(
      '--token-lifetime <ms>',
      'access token lifetime (Atlas default 30 min)',
      parseIntOption('--token-lifetime'),
      30 * 60_000,
    )
    .option(
      '--rate-limit <n>',
      'requests per minute per user before 429',
      parseIntOption('--rate-limit'),
      100,
    )
    .option(
      '--licence-limit <n>',
      'unfinished work orders per company before 403 "You need a license…"',
      parseIntOption('--licence-limit'),
      30,
    )
    .option(
      '--auth-error <style>',
      'refused token answer: spring (500 error page without message, as Atlas sends it) or message (500 {success:false,message})',
      'spring',
    )
    .addHelpText(
      'after',
      `
API (as Atlas CMMS, Grashjs/cmms): POST /auth/signin, POST /auth/refresh, GET /assets/mini,
POST /assets, GET /assets/barcode?data=, POST /work-orders, POST /work-orders/search,
GET /work-orders/asset/{id}, GET /work-orders/{id}, PATCH /work-orders/{id}/change-status,
POST /comments, POST /comments/search/{workOrderId}.

Control API (--control-port): GET/PUT/DELETE /faults {down: false|"refuse"|"503", delayMs,
createDelayMs, dropAfterCreate, rateLimitPerMinute, signInPerMinute, rateWindowMs, tokenLifetimeMs,
authErrorStyle}, PUT /limits {workOrders, assets, licensed}, POST /tokens/expire {refresh?},
GET /state (orders with comments, per company), GET /stats (requests by route).

Examples:
  factorylm sim cmms --port 8080 --seed-assets Conveyor,Press --control-port 8081
  factorylm sim cmms --user bot@plant1.example:pw1 --user bot@plant2.example:pw2 --token-lifetime 60000
  curl -X PUT localhost:8081/faults -d '{"down":"refuse"}'`,
    )
    .action(async (opts: SimCmmsOptions) => {
      if (opts.authError !== 'spring' && opts.authError !== 'message')
        throw new InvalidArgumentError('--auth-error is spring or message');
      const log = createRootLogger();
      const { CmmsSimulator } = await import('../simulators/cmms/server.js');
      const { startCmmsControl } = await import('../simulators/cmms/control.js');
      const users = opts.user.length > 0 ? opts.user : [DEFAULT_USER];
      const sim = new CmmsSimulator(
        {
          host: opts.host,
          port: opts.port,
          users,
          seedAssets: opts.seedAssets,
          faults: {
            tokenLifetimeMs: opts.tokenLifetime,
            rateLimitPerMinute: opts.rateLimit,
            authErrorStyle: opts.authError,
          },
        },
        log.child({ component: 'sim-cmms' }),
      );
      sim.model.limits.workOrders = opts.licenceLimit;
      await sim.start().catch(exitWithError);
      console.log(
        `Atlas CMMS simulator on ${sim.url} users ${users.map((u) => u.email).join(',')}`,
      );
      const control =
        opts.controlPort === undefined
          ? undefined
          : await startCmmsControl(sim, '127.0.0.1', opts.controlPort).catch(exitWithError);
      if (control) console.log(`control API on ${control.url}`);
      await runUntilSignal(log, async () => {
        await control?.close();
        await sim.stop();
      });
    });
}
