import type { Command } from 'commander';
import { createRootLogger } from '../core/logger.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { exitWithError, runUntilSignal } from './run.js';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('Consume tag messages from MQTT and write them to InfluxDB')
    .requiredOption(
      '-c, --config <file>',
      'gateway config (YAML); see deploy/examples/gateway.yaml',
    )
    .addHelpText(
      'after',
      '\nExample:\n  INFLUXDB_URL=http://127.0.0.1:8086 factorylm gateway --config deploy/examples/gateway.yaml',
    )
    .action(async (opts: { config: string }) => {
      const config = await loadGatewayConfig(opts.config).catch(exitWithError);
      const log = createRootLogger({ level: config.log.level });
      const { Gateway } = await import('../gateway/gateway.js');
      const gateway = new Gateway(config, { log });
      await gateway.start();
      await runUntilSignal(log, () => gateway.stop());
    });
}
