import type { Command } from 'commander';
import { loadAgentConfig, type AgentConfig } from '../agent/config.js';
import { errorMessage } from '../core/errors.js';
import { createRootLogger } from '../core/logger.js';
import { systemdNotifier } from '../core/sd-notify.js';
import { exitWithError, parseIntOption, runUntilSignal } from './run.js';

interface AgentCliOptions {
  config: string;
  statsInterval?: number;
  test?: boolean;
  json?: boolean;
}

/** `--test`: read once, print, exit 1 when anything is bad (agent/dry-run.ts). */
async function dryRun(config: AgentConfig, opts: AgentCliOptions): Promise<void> {
  const { runDryRun, formatDryRun } = await import('../agent/dry-run.js');
  const report = await runDryRun(config, createRootLogger({ level: 'warn' }));
  console.log(opts.json ? JSON.stringify(report, null, 2) : formatDryRun(report, opts.config));
  process.exitCode = report.bad.devices + report.bad.tags > 0 ? 1 : 0;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('Poll the PLCs of a node config and publish their tags to MQTT')
    .requiredOption('-c, --config <file>', 'agent config (YAML); see deploy/examples/micro820.yaml')
    .option(
      '--stats-interval <s>',
      'log an "agent stats" line (samples, poll latency, memory) every s seconds',
      parseIntOption('--stats-interval'),
    )
    .option(
      '--test',
      'dry run: read every tag of every device once, print what would be published and the request plan; publish nothing, touch no outbox; exit 1 if any device or tag is bad',
    )
    .option('--json', 'with --test: print the report as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Samples wait in a durable outbox (outbox.path, SQLite) until the broker acknowledges them;',
        'after an outage they are replayed in order, marked historical. A crash loses at most',
        'outbox.flushIntervalMs (200 ms).',
        'SIGHUP re-reads the config (devices, tags, publishing, writes); an invalid file is refused',
        'and the running config stays.',
        'Health: GET http://127.0.0.1:9102/health and /metrics (health.port, health.token).',
        'Writes: factorylm/<site>/_nodes/<node>/write/<asset>/<tag>, only with writes.enabled: true',
        'and writable: true on the tag; results on …/write-result/<asset>/<tag>.',
        'publish.output: sparkplug publishes Sparkplug B on spBv1.0/<group>/… instead.',
        'inventory.enabled: true scans inventory.roots (code projects, services, Docker) at start and',
        'every inventory.intervalHours, published retained on …/_nodes/<node>/inventory (factorylm audit).',
        'OPC UA devices (protocol: opcua) are subscribed to or polled and reconnect by themselves;',
        'the agent creates its OPC UA certificate in opcua-pki/ beside the outbox on first start and',
        'logs the file the server operator must trust (deploy/README.md, "OPC UA certificates").',
      ].join('\n') +
        '\n\nExample:\n  factorylm agent --config /etc/factorylm/agent.yaml --test   # before starting the service\n  factorylm agent --config /etc/factorylm/agent.yaml\n  kill -HUP $(pidof -s factorylm)   # after editing the config',
    )
    .action(async (opts: AgentCliOptions) => {
      const config = await loadAgentConfig(opts.config).catch(exitWithError);
      if (opts.test) return dryRun(config, opts);
      const log = createRootLogger({ level: config.log.level });
      // Loaded here, not at the top: every other command (the gateway too) would carry it.
      const { Agent } = await import('../agent/agent.js');
      const agent = new Agent(config, { log });
      await agent.start();
      // Under systemd (Type=notify): ready once started, then the watchdog fed from the event loop.
      const notifier = systemdNotifier(log);
      await notifier?.ready();
      // SIGHUP: re-read the config; a config that does not validate is refused and the old one runs on.
      let reloading = Promise.resolve();
      process.on('SIGHUP', () => {
        reloading = reloading.then(async () => {
          log.info({ component: 'agent', file: opts.config }, 'SIGHUP: reloading the config');
          let next;
          try {
            next = await loadAgentConfig(opts.config);
          } catch (err) {
            agent.reloadRejected(errorMessage(err));
            return;
          }
          await agent.reload(next);
        });
      });
      const timer =
        opts.statsInterval &&
        setInterval(() => {
          const m = process.memoryUsage();
          const mb = (n: number) => Math.round(n / 1e5) / 10;
          log.info(
            {
              component: 'agent',
              ...agent.stats,
              window: agent.takeWindow(),
              memoryMb: {
                rss: mb(m.rss),
                heapUsed: mb(m.heapUsed),
                heapTotal: mb(m.heapTotal),
                external: mb(m.external),
              },
            },
            'agent stats',
          );
        }, opts.statsInterval * 1000);
      await runUntilSignal(log, async () => {
        await notifier?.stopping();
        if (timer) clearInterval(timer);
        await agent.stop();
      });
    });
}
