import type { Command } from 'commander';
import { Agent } from '../agent/agent.js';
import { loadAgentConfig } from '../agent/config.js';
import { createRootLogger } from '../core/logger.js';
import { exitWithError, runUntilSignal } from './run.js';

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('Poll the PLCs of a node config and publish their tags to MQTT')
    .requiredOption('-c, --config <file>', 'agent config (YAML); see deploy/examples/micro820.yaml')
    .addHelpText('after', '\nExample:\n  factorylm agent --config /etc/factorylm/agent.yaml')
    .action(async (opts: { config: string }) => {
      const config = await loadAgentConfig(opts.config).catch(exitWithError);
      const log = createRootLogger({ level: config.log.level });
      const agent = new Agent(config, { log });
      await agent.start();
      await runUntilSignal(log, () => agent.stop());
    });
}
