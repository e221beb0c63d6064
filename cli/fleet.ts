import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadFleet } from '../inventory/fleet.js';
import { planRollout, renderPlan, type PushedConfig } from '../inventory/fleet-plan.js';
import { reportsFromGateway } from '../inventory/twin-client.js';
import { exitWithError } from './run.js';

/** `<dir>/<node>/*.yaml`, the layout deploy/ansible pushes, hashed per node. */
function configHashes(dir: string): Record<string, PushedConfig[]> {
  if (!existsSync(dir)) throw new Error(`--configs ${dir}: folder not found`);
  const out: Record<string, PushedConfig[]> = {};
  for (const node of readdirSync(dir, { withFileTypes: true })) {
    if (!node.isDirectory()) continue;
    out[node.name] = readdirSync(join(dir, node.name))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((file) => ({
        file,
        sha256: createHash('sha256')
          .update(readFileSync(join(dir, node.name, file)))
          .digest('hex'),
      }));
  }
  return out;
}

export function registerFleet(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('Plan a rollout of FactoryLM Edge over a fleet (deploy/ansible does it)');
  fleet
    .command('plan')
    .description(
      'Print what a rollout would change on which node: version, units, configs (reads the twin)',
    )
    .requiredOption('--fleet <file>', 'desired state (fleet.yaml; project factorylm-edge)')
    .requiredOption('--gateway <url>', 'gateway whose fleet twin to read, e.g. http://gateway:8080')
    .option('--token <token>', 'bearer token of the gateway (or env FACTORYLM_TOKEN)')
    .option(
      '--configs <dir>',
      'configs to push, <dir>/<node>/*.yaml (Ansible factorylm_config_dir)',
    )
    .option('--json', 'print the plan as JSON')
    .addHelpText(
      'after',
      [
        '',
        'fleet.yaml names the wanted version of project factorylm-edge and its units (service:)',
        'per node; the nodes report what runs (agents with inventory.enabled: true). Config hashes',
        'are printed to compare with `sha256sum /etc/factorylm/*.yaml` on the node: the twin does',
        'not hold configs. Exit code 0 whether or not something would change.',
        '',
        'Example:',
        '  factorylm fleet plan --fleet fleet.yaml --gateway http://gateway:8080 --configs deploy/ansible/configs',
      ].join('\n'),
    )
    .action(
      async (opts: {
        fleet: string;
        gateway: string;
        token?: string;
        configs?: string;
        json?: boolean;
      }) => {
        try {
          const desired = await loadFleet(opts.fleet);
          const reports = await reportsFromGateway(
            opts.gateway,
            opts.token ?? process.env.FACTORYLM_TOKEN,
          );
          const plans = planRollout(
            desired,
            reports,
            opts.configs ? configHashes(opts.configs) : {},
          );
          process.stdout.write(
            opts.json ? JSON.stringify({ plans }, null, 2) + '\n' : renderPlan(plans),
          );
        } catch (err) {
          exitWithError(err);
        }
      },
    );
}
