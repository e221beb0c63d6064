import type { Command } from 'commander';
import { createRootLogger } from '../core/logger.js';
import { systemdNotifier } from '../core/sd-notify.js';
import { loadGatewayConfig } from '../gateway/config.js';
import type { TagPoint } from '../gateway/points.js';
import { exitWithError, runUntilSignal } from './run.js';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description(
      'Consume tag messages from MQTT and write them to InfluxDB; optionally run the MQTT broker too (broker.embedded)',
    )
    .requiredOption(
      '-c, --config <file>',
      'gateway config (YAML); see deploy/examples/gateway.yaml and gateway-embedded-broker.yaml',
    )
    .addHelpText(
      'after',
      '\nA twin: section keeps every node inventory and serves the fleet twin at /twin and /api/twin (needs http:).\n' +
        '\nExamples:\n  INFLUXDB_URL=http://127.0.0.1:8086 factorylm gateway --config deploy/examples/gateway.yaml\n  factorylm gateway --config deploy/examples/gateway-embedded-broker.yaml   # no Mosquitto needed',
    )
    .action(async (opts: { config: string }) => {
      const config = await loadGatewayConfig(opts.config).catch(exitWithError);
      const log = createRootLogger({ level: config.log.level });
      let broker: import('../gateway/embedded-broker.js').EmbeddedBroker | undefined;
      if (config.broker?.embedded) {
        const { EmbeddedBroker, defaultPersistencePath } =
          await import('../gateway/embedded-broker.js');
        const brokerConfig = {
          ...config.broker,
          persistence: {
            ...config.broker.persistence,
            path: config.broker.persistence.path ?? defaultPersistencePath(config.name),
          },
        };
        broker = new EmbeddedBroker(brokerConfig, log.child({ component: 'broker' }), {
          internalClient: true,
        });
        await broker.start().catch(exitWithError);
        const internal = broker.internal!;
        // The gateway's own client: the embedded broker's private loopback port, a one-off
        // credential, MQTT 3.1.1. One gateway per broker, so no shared subscription.
        config.mqtt = {
          ...config.mqtt,
          url: internal.url,
          username: internal.username,
          password: internal.password,
          protocolVersion: 4,
          tls: undefined,
        };
        config.subscribe.shareGroup = null;
      }
      const { Gateway } = await import('../gateway/gateway.js');
      let http: import('../gateway/http.js').GatewayHttp | undefined;
      const gateway = new Gateway(config, {
        log,
        // Only with the live page: it is a call per point.
        ...(config.http ? { onPoint: (p: TagPoint) => http?.point(p) } : {}),
      });
      if (config.http) {
        const { GatewayHttp } = await import('../gateway/http.js');
        http = new GatewayHttp(config.http, config.name, gateway, log.child({ component: 'http' }));
        await http.start().catch(exitWithError);
      }
      // A twin.fleet file that is missing or invalid stops the start with its error.
      await gateway.start().catch(exitWithError);
      // Under systemd (Type=notify): ready once started, then the watchdog fed from the event loop.
      const notifier = systemdNotifier(log);
      await notifier?.ready();
      await runUntilSignal(log, async () => {
        await notifier?.stopping();
        await http?.stop();
        await gateway.stop();
        await broker?.stop();
      });
    });
}
