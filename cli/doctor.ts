import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  clockCheck,
  fail,
  formatChecks,
  nodeVersionCheck,
  ok,
  warn,
  type Check,
} from '../core/checks.js';
import { parseYaml } from '../core/config/load.js';
import { errorMessage } from '../core/errors.js';
import { createRootLogger } from '../core/logger.js';

/** Exit codes above this would collide with the shell's signal codes (128 + n). */
const MAX_EXIT = 100;
const DEFAULT_CONFIGS = ['/etc/factorylm/agent.yaml', '/etc/factorylm/gateway.yaml'];

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** An agent config has devices; anything else is taken for a gateway config. */
function kindOf(file: string): 'agent' | 'gateway' {
  const doc = parseYaml(readFileSync(file, 'utf8'), file);
  return doc && typeof doc === 'object' && 'devices' in doc ? 'agent' : 'gateway';
}

async function configChecks(file: string): Promise<Check[]> {
  let kind: 'agent' | 'gateway';
  try {
    kind = kindOf(file);
  } catch (err) {
    return [fail(`config ${file}`, errorMessage(err), 'check the path and the YAML syntax')];
  }
  const name = `${kind} config ${file}`;
  const log = createRootLogger({ level: 'error' });
  try {
    if (kind === 'agent') {
      const { loadAgentConfig } = await import('../agent/config.js');
      const config = await loadAgentConfig(file);
      const tags = config.devices.reduce((n, d) => n + d.tags.length, 0);
      const { agentChecks } = await import('../agent/doctor.js');
      const valid = ok(
        name,
        `valid: node ${config.node}, ${plural(config.devices.length, 'device')}, ${plural(tags, 'tag')}`,
      );
      return [valid, ...(await agentChecks(config, log))];
    }
    const { loadGatewayConfig } = await import('../gateway/config.js');
    const config = await loadGatewayConfig(file);
    const { gatewayChecks } = await import('../gateway/doctor.js');
    return [ok(name, `valid: gateway ${config.name}`), ...(await gatewayChecks(config))];
  } catch (err) {
    return [fail(name, errorMessage(err), `fix the config: factorylm config validate ${file}`)];
  }
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      "Check this machine and a node's whole setup before starting the service: one line per check with the fix",
    )
    .option(
      '-c, --config <file...>',
      'agent or gateway config(s) to check (default: /etc/factorylm/agent.yaml and gateway.yaml, where present)',
    )
    .option('--json', 'print the checks as JSON, for scripts')
    .addHelpText(
      'after',
      [
        '',
        'Checks: Node.js version (24 recommended), clock synchronised (timedatectl or chrony), the',
        'config valid; for an agent: outbox folder writable with free disk for outbox.maxBytes, health',
        'port free, broker reachable with the configured credentials and TLS, serial ports present and',
        'accessible (dialout), every device answering every tag (Modbus and OPC UA, with certificate',
        'trust); for a gateway: broker, InfluxDB reachable and writable, spool folder, HTTP port free.',
        'Nothing is published or written, except an empty InfluxDB write and a probe file removed at once.',
        'Exit code: the number of failed checks (0 = all passed; at most 100). Warnings do not count.',
        '',
        'Example:',
        '  factorylm doctor --config /etc/factorylm/agent.yaml',
      ].join('\n'),
    )
    .action(async (opts: { config?: string[]; json?: boolean }) => {
      const files = opts.config ?? DEFAULT_CONFIGS.filter((f) => existsSync(f));
      const checks: Check[] = [nodeVersionCheck(process.version), await clockCheck()];
      if (files.length === 0)
        checks.push(
          warn('config', 'none given and none in /etc/factorylm', 'pass --config agent.yaml'),
        );
      for (const file of files) checks.push(...(await configChecks(file)));
      const failed = checks.filter((c) => c.status === 'fail').length;
      if (opts.json) console.log(JSON.stringify({ failed, checks }, null, 2));
      else
        console.log(
          formatChecks(`factorylm doctor: ${files.join(', ') || 'this machine'}`, checks),
        );
      process.exitCode = Math.min(failed, MAX_EXIT);
    });
}
