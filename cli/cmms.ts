import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfigFile } from '../core/config/load.js';
import { errorMessage } from '../core/errors.js';
import { createRootLogger } from '../core/logger.js';
import { matchAsset } from '../maintenance/cmms/atlas-target.js';
import { cmmsConfigSchema, type CmmsConfig } from '../maintenance/cmms/config.js';
import { atlasClientFrom } from '../maintenance/cmms/index.js';
import { statusFilter } from '../maintenance/cmms/marker.js';
import { UNFINISHED } from '../maintenance/cmms/types.js';
import { exitWithError, parseIntOption } from './run.js';

interface CmmsCheckOptions {
  config?: string;
  url?: string;
  frontendUrl?: string;
  email?: string;
  passwordFile?: string;
  passwordEnv?: string;
  timeout?: number;
  asset: string[];
}

/** Only `maintenance.cmms` of a gateway config matters here; the rest is the gateway's to check. */
const gatewayCmmsSection = z.looseObject({
  maintenance: z.looseObject({ cmms: cmmsConfigSchema }),
});

async function resolveConfig(opts: CmmsCheckOptions): Promise<CmmsConfig> {
  if (opts.config) return (await loadConfigFile(opts.config, gatewayCmmsSection)).maintenance.cmms;
  const parsed = cmmsConfigSchema.safeParse({
    url: opts.url,
    email: opts.email,
    ...(opts.frontendUrl ? { frontendUrl: opts.frontendUrl } : {}),
    ...(opts.passwordFile ? { passwordFile: opts.passwordFile } : {}),
    ...(opts.passwordEnv ? { passwordEnv: opts.passwordEnv } : {}),
    ...(opts.timeout ? { timeoutMs: opts.timeout } : {}),
  });
  if (!parsed.success)
    throw new Error(
      `${parsed.error.issues.map((i) => `--${String(i.path[0] ?? 'options')}: ${i.message}`).join('; ')} (or pass --config gateway.yaml)`,
    );
  return parsed.data;
}

export function registerCmms(program: Command): void {
  const cmms = program.command('cmms').description('Atlas CMMS connection tools');
  cmms
    .command('check')
    .description(
      'Check the Atlas CMMS connection: sign-in, assets (the mapped ones found), a dry-run search of open work orders. Creates nothing',
    )
    .option('-c, --config <file>', 'gateway config whose maintenance.cmms section to use')
    .option('--url <url>', 'Atlas API base URL, e.g. http://atlas.plant.local:8080')
    .option('--frontend-url <url>', 'Atlas web front end, for work-order links')
    .option('--email <email>', 'service account e-mail')
    .option('--password-file <file>', 'file holding the service account password')
    .option('--password-env <name>', 'environment variable holding the password')
    .option('--timeout <ms>', 'longest wait per request', parseIntOption('--timeout'))
    .option(
      '--asset <name>',
      "also check that this asset is found (repeatable; the config's mapped assets are always checked)",
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .addHelpText(
      'after',
      `
Each line is ✔ or ✖; the exit status is 1 when any check failed. Nothing is created or changed.

Examples:
  factorylm cmms check --config /etc/factorylm/gateway.yaml
  factorylm cmms check --url http://127.0.0.1:8080 --email maintenance@plant.example --password-file ./atlas.pw --asset Conveyor`,
    )
    .action(async (opts: CmmsCheckOptions) => {
      const config = await resolveConfig(opts).catch(exitWithError);
      const log = createRootLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
      const client = atlasClientFrom(config, log.child({ component: 'cmms' }));
      let failed = false;
      const ok = (text: string) => console.log(`✔ ${text}`);
      const bad = (text: string) => {
        failed = true;
        console.log(`✖ ${text}`);
      };
      try {
        await client.signIn();
        ok(`signed in to ${config.url} as ${config.email}`);
      } catch (err) {
        bad(`sign-in to ${config.url} as ${config.email}: ${errorMessage(err)}`);
        client.close();
        process.exit(1);
      }
      try {
        const assets = await client.miniAssets();
        ok(`${assets.length} asset(s) listed`);
        const wanted = new Map(Object.entries(config.assets));
        for (const name of opts.asset) if (!wanted.has(name)) wanted.set(name, { name });
        for (const [name, ref] of wanted) {
          if (ref.barCode !== undefined) {
            const found = await client
              .assetByBarcode(ref.barCode)
              .catch((err: unknown) => errorMessage(err));
            if (typeof found === 'object')
              ok(`asset ${name}: barcode ${ref.barCode} is Atlas asset #${found.id} ${found.name}`);
            else bad(`asset ${name}: barcode ${ref.barCode} ${found ?? 'not found'}`);
            continue;
          }
          const found = matchAsset(assets, ref);
          if (found)
            ok(
              `asset ${name}: Atlas asset #${found.id} ${found.name} (${found.customId ?? 'no id'})`,
            );
          else if (config.createAssets && ref.customId === undefined)
            ok(
              `asset ${name}: not in Atlas yet; it will be created on the first alarm (createAssets: true)`,
            );
          else
            bad(
              `asset ${name}: not found in Atlas (${ref.customId ? `customId ${ref.customId}` : `name "${ref.name}"`}); create it there or fix maintenance.cmms.assets`,
            );
        }
      } catch (err) {
        bad(`assets: ${errorMessage(err)}`);
      }
      try {
        const page = await client.searchWorkOrders([statusFilter(UNFINISHED)], { pageSize: 1 });
        ok(
          `search works: ${page.totalElements} unfinished work order(s) in the company (Atlas's free tier refuses new ones at 30)`,
        );
      } catch (err) {
        bad(`search of open work orders: ${errorMessage(err)}`);
      }
      console.log(
        `links: ${(config.frontendUrl ?? config.url).replace(/\/+$/, '')}/app/work-orders/<id>`,
      );
      client.close();
      if (failed) {
        console.log('Fix the ✖ lines above, then run this check again.');
        process.exit(1);
      }
    });
}
