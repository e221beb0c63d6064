import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { agentConfigSchema } from '../agent/config.js';
import { parseYaml, validateConfig } from '../core/config/load.js';
import { gatewayConfigSchema } from '../gateway/config.js';
import { exitWithError } from './run.js';

const SCHEMAS = { agent: agentConfigSchema, gateway: gatewayConfigSchema } as const;
type Kind = keyof typeof SCHEMAS;

/** An agent config lists devices; a gateway config has an influx, subscribe or broker section. */
function detectKind(doc: unknown): Kind {
  if (
    doc &&
    typeof doc === 'object' &&
    !('devices' in doc) &&
    ('influx' in doc || 'subscribe' in doc || 'broker' in doc)
  )
    return 'gateway';
  return 'agent';
}

function kindOption(value: string): Kind {
  if (value !== 'agent' && value !== 'gateway')
    throw new Error(`--kind must be agent or gateway, got "${value}"`);
  return value;
}

export function registerConfig(program: Command): void {
  const config = program
    .command('config')
    .description('Check config files and print their JSON Schema');
  config
    .command('validate')
    .description(
      'Validate an agent or gateway config; every problem is reported with its YAML path',
    )
    .argument('<file>', 'YAML config file')
    .option('--kind <kind>', 'agent or gateway (default: detected from the content)', kindOption)
    .addHelpText('after', '\nExample:\n  factorylm config validate deploy/examples/micro820.yaml')
    .action(async (file: string, opts: { kind?: Kind }) => {
      const text = await readFile(file, 'utf8').catch(exitWithError);
      try {
        const doc = parseYaml(text, file) ?? {};
        const kind = opts.kind ?? detectKind(doc);
        const parsed = validateConfig(doc, file, SCHEMAS[kind]);
        if (kind === 'agent') {
          const c = parsed as z.output<typeof agentConfigSchema>;
          const tags = c.devices.reduce((n, d) => n + d.tags.length, 0);
          console.log(
            `${file}: valid agent config (node ${c.node}, ${c.devices.length} device(s), ${tags} tag(s))`,
          );
        } else {
          console.log(`${file}: valid gateway config`);
        }
      } catch (err) {
        exitWithError(err);
      }
    });
  config
    .command('schema')
    .description('Print the JSON Schema of a config, for editor completion and validation')
    .option('--kind <kind>', 'agent or gateway', kindOption, 'agent')
    .addHelpText(
      'after',
      '\nExample (VS Code YAML extension):\n  factorylm config schema > agent.schema.json\n  # then start the YAML with: # yaml-language-server: $schema=./agent.schema.json',
    )
    .action((opts: { kind: Kind }) => {
      console.log(
        JSON.stringify(
          z.toJSONSchema(SCHEMAS[opts.kind], { io: 'input', unrepresentable: 'any' }),
          null,
          2,
        ),
      );
    });
}
