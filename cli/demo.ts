import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadAgentConfig } from '../agent/config.js';
import { createRootLogger } from '../core/logger.js';
import { packageRoot } from '../core/package-info.js';
import { gatewayConfigSchema } from '../gateway/config.js';
import type { TagPoint } from '../gateway/points.js';
import { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { REGISTER_NAMES } from '../simulators/micro820/model.js';
import { exitWithError, parseIntOption, runUntilSignal } from './run.js';

interface DemoOptions {
  brokerPort: number;
  simPort: number;
  httpPort: number;
  duration?: number;
  logLevel: string;
  faultAfter: number;
}

/** The demo's simulated Atlas service account (the simulated CMMS accepts only it). */
const DEMO_CMMS_USER = { email: 'maintenance@plant.example', password: 'factorylm-demo' };
/** How long the demo's fault lasts before the PLC is reset, s. */
const FAULT_SECONDS = 25;

/** Log lines held for the next summary on a terminal; more are counted and not shown. */
const MAX_PENDING_LOGS = 50;

const BITS = [
  'motor_running',
  'conveyor_running',
  'sensor_1_active',
  'sensor_2_active',
  'fault_alarm',
  'e_stop_active',
];

function summary(
  latest: Map<string, TagPoint>,
  units: Map<string, string>,
  counts: { messages: number; rate: number; points: number; invalid: number; influx: string },
): string {
  const show = (tag: string) => {
    const p = latest.get(tag);
    if (!p) return `${tag} …`;
    if (p.quality !== 'good') return `${tag} BAD`;
    if (typeof p.value === 'boolean') return `${tag} ${p.value ? 'ON' : 'off'}`;
    return `${tag} ${p.value}${units.get(tag) ? ` ${units.get(tag)}` : ''}`;
  };
  return [
    `  ${REGISTER_NAMES.map(show).join('  ')}`,
    `  ${BITS.map(show).join('  ')}`,
    `  broker messages ${counts.messages} (${counts.rate}/s) · points ${counts.points} · invalid ${counts.invalid} · InfluxDB: ${counts.influx}`,
  ].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .slice(0, 24)
    .map((l) => `    ${l}`)
    .join('\n');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Run simulated PLC → agent → embedded MQTT broker → gateway on this machine, no outside services',
    )
    .option(
      '--broker-port <n>',
      'embedded MQTT broker port (0 = any free port)',
      parseIntOption('--broker-port'),
      1883,
    )
    .option(
      '--sim-port <n>',
      'Modbus simulator port (0 = any free port)',
      parseIntOption('--sim-port'),
      0,
    )
    .option(
      '--http-port <n>',
      'port of the live page, /health and /metrics on 127.0.0.1 (0 = any free port)',
      parseIntOption('--http-port'),
      0,
    )
    .option(
      '--duration <s>',
      'stop after this many seconds (default: run until Ctrl-C)',
      parseIntOption('--duration'),
    )
    .option(
      '--fault-after <s>',
      'trip the simulated PLC (error_code 1, motor overload) after this many seconds, to show the alarm → diagnosis → work order loop; 0 = never',
      parseIntOption('--fault-after'),
      20,
    )
    .option(
      '--log-level <level>',
      'log level of the components (readable lines on stderr; above the summary on a terminal)',
      'warn',
    )
    .addHelpText(
      'after',
      "\nSet INFLUXDB_URL (and INFLUXDB_TOKEN, INFLUXDB_ORG, INFLUXDB_BUCKET) to also write to InfluxDB.\nThe demo's agent inventories this project's own folder, so the fleet twin page (/twin) has a node.\nThe gateway runs the maintenance bridge against a simulated maintenance LLM and Atlas CMMS: after\n--fault-after seconds the PLC trips, and the work order that appears in the CMMS is printed.\nCtrl-C stops polling, delivers what the agent holds, then closes everything in order.\n\nExample:\n  npm start\n  factorylm demo --broker-port 0 --duration 60",
    )
    .action(async (opts: DemoOptions) => {
      // Loaded here so that other commands (the agent on a Pi) do not pay for aedes and the InfluxDB client.
      const [
        { Agent },
        { EmbeddedBroker },
        { Gateway },
        { GatewayHttp },
        { LlmSimulator },
        { CmmsSimulator },
      ] = await Promise.all([
        import('../agent/agent.js'),
        import('../gateway/embedded-broker.js'),
        import('../gateway/gateway.js'),
        import('../gateway/http.js'),
        import('../simulators/llm/server.js'),
        import('../simulators/cmms/server.js'),
      ]);
      const tty = process.stdout.isTTY === true;
      // Log lines for people, never JSON; on a terminal they wait for the next summary and are
      // printed above it, so the summary is not torn apart (bounded: a storm is counted, not kept).
      const pending: string[] = [];
      let logsDropped = 0;
      const log = createRootLogger({
        level: opts.logLevel,
        format: 'pretty',
        sink: tty
          ? (text) => (pending.length < MAX_PENDING_LOGS ? pending.push(text) : (logsDropped += 1))
          : (text) => process.stderr.write(text),
      });
      const state = mkdtempSync(join(tmpdir(), 'factorylm-demo-'));
      // Anonymous on 127.0.0.1 (the broker refuses anonymous access on other addresses), and
      // nothing kept across runs.
      const broker = new EmbeddedBroker(
        { tcp: { host: '127.0.0.1', port: opts.brokerPort }, persistence: { path: ':memory:' } },
        log.child({ component: 'broker' }),
      );
      const brokerUrl = await broker
        .start()
        .catch((err) =>
          exitWithError(
            new Error(
              `cannot start the embedded broker on port ${opts.brokerPort} (${err.message}); pass --broker-port 0 for any free port`,
            ),
          ),
        );
      const sim = new Micro820Simulator(
        { port: opts.simPort },
        log.child({ component: 'sim-modbus' }),
      );
      const simPort = await sim.start();
      // The maintenance LLM and Atlas CMMS cannot run here: their simulators, on free ports.
      const llmSim = new LlmSimulator(
        { host: '127.0.0.1', port: 0, models: ['llama3.2:3b'], parallel: 1, maxQueue: 64 },
        log.child({ component: 'sim-llm' }),
      );
      const llmUrl = `http://127.0.0.1:${await llmSim.start()}`;
      const cmmsSim = new CmmsSimulator(
        { host: '127.0.0.1', port: 0, users: [DEMO_CMMS_USER], seedAssets: ['conveyor1'] },
        log.child({ component: 'sim-cmms' }),
      );
      const cmmsUrl = `http://127.0.0.1:${await cmmsSim.start()}`;
      process.env.FACTORYLM_DEMO_CMMS_PASSWORD = DEMO_CMMS_USER.password;
      const env = {
        ...process.env,
        MQTT_URL: brokerUrl,
        PLC_HOST: '127.0.0.1',
        PLC_PORT: String(simPort),
        MQTT_USERNAME: '',
        MQTT_PASSWORD: '',
        FACTORYLM_OUTBOX: join(state, 'outbox.db'),
        // The agent's own health port off: a real agent on this machine may hold 9102.
        HEALTH_PORT: '0',
      };
      const agentConfig = await loadAgentConfig(
        join(packageRoot(), 'deploy/examples/micro820.yaml'),
        env,
      ).catch(exitWithError);
      agentConfig.mqtt.protocolVersion = 4;
      // The twin has something to show: this project, as the demo's node sees it.
      agentConfig.inventory = {
        ...agentConfig.inventory,
        enabled: true,
        roots: [packageRoot()],
        cacheFile: join(state, 'inventory-cache.db'),
      };
      const influxUrl = process.env.INFLUXDB_URL;
      const gatewayConfig = gatewayConfigSchema.parse({
        name: 'demo',
        mqtt: { url: brokerUrl, protocolVersion: 4 },
        subscribe: { shareGroup: null },
        http: { host: '127.0.0.1', port: opts.httpPort },
        twin: { path: join(state, 'twin.db') },
        maintenance: {
          rules: [{ kind: 'micro820', asset: '*', onDelayMs: 1000, offDelayMs: 3000 }],
          alarms: { statePath: join(state, 'alarms.db') },
          llm: { url: llmUrl, waitMs: 10_000 },
          cmms: {
            url: cmmsUrl,
            email: DEMO_CMMS_USER.email,
            passwordEnv: 'FACTORYLM_DEMO_CMMS_PASSWORD',
            outbox: { path: join(state, 'cmms-outbox.db') },
          },
          leaseTtlSec: 6,
        },
        ...(influxUrl
          ? {
              influx: {
                url: influxUrl,
                token: process.env.INFLUXDB_TOKEN,
                org: process.env.INFLUXDB_ORG ?? 'factorylm',
                bucket: process.env.INFLUXDB_BUCKET ?? 'sensors',
              },
              spool: { path: join(state, 'spool.db') },
            }
          : {}),
      });
      const latest = new Map<string, TagPoint>();
      // The live page reads the gateway's stats when asked, so it can exist before the gateway.
      const http = new GatewayHttp(
        gatewayConfig.http!,
        'demo',
        {
          get stats() {
            return gateway.stats;
          },
          get brokerConnected() {
            return gateway.brokerConnected;
          },
          get twin() {
            return gateway.twin;
          },
          get maintenance() {
            return gateway.maintenance;
          },
        },
        log.child({ component: 'http' }),
      );
      const gateway = new Gateway(gatewayConfig, {
        log,
        onPoint: (p) => {
          latest.set(p.tag, p);
          http.point(p);
        },
      });
      const pageUrl = await http
        .start()
        .catch((err) =>
          exitWithError(
            new Error(
              `cannot serve the live page on port ${opts.httpPort} (${err.message}); pass --http-port 0 for any free port`,
            ),
          ),
        );
      const agent = new Agent(agentConfig, { log });
      let messages = 0;
      broker.onPublish(() => (messages += 1));
      await gateway.start();
      await agent.start();
      const units = new Map(
        agentConfig.devices.flatMap((d) => d.tags.map((t) => [t.name, t.unit ?? ''] as const)),
      );
      console.log(
        `FactoryLM demo: PLC modbus://127.0.0.1:${simPort}/1 → agent → broker ${brokerUrl} → gateway${influxUrl ? ` → ${influxUrl}` : ''}`,
      );
      console.log(`Live page: ${pageUrl}   (health ${pageUrl}health, metrics ${pageUrl}metrics)`);
      console.log(`Fleet twin: ${pageUrl}twin   (this project, scanned by the demo's agent)`);
      console.log(
        `Maintenance: alarms ${pageUrl}api/alarms · LLM (simulated) ${llmUrl} · Atlas CMMS (simulated) ${cmmsUrl}` +
          (opts.faultAfter > 0 ? ` · the PLC trips in ${opts.faultAfter} s` : ''),
      );
      console.log(
        `Watch the raw messages with: mosquitto_sub -h 127.0.0.1 -p ${broker.port} -t 'factorylm/#' -v   (Ctrl-C stops the demo)\n`,
      );
      let lastMessages = 0;
      let printed = 0;
      const ticker = setInterval(() => {
        const s = gateway.stats;
        const text = summary(latest, units, {
          messages,
          rate: messages - lastMessages,
          points: s.points,
          invalid: Object.values(s.invalid).reduce((a, b) => a + b, 0),
          influx: s.sink
            ? `${s.sink.written} written, ${s.sink.pending} pending`
            : 'off (set INFLUXDB_URL)',
        });
        lastMessages = messages;
        printed += 1;
        if (tty) {
          // Up over the last summary, clear it, log lines since, the new summary below them.
          const logs = pending.splice(0).join('');
          const dropped = logsDropped ? `(${logsDropped} more log lines not shown)\n` : '';
          logsDropped = 0;
          process.stdout.write(`${printed > 1 ? '\x1b[3F\x1b[J' : ''}${logs}${dropped}${text}\n`);
        } else if (printed % 5 === 1) console.log(text);
      }, 1000);
      // The loop the product is for: a fault on the line becomes a diagnosed work order.
      const announce = (text: string) => (tty ? pending.push(`${text}\n`) : console.log(text));
      const faultTimers: NodeJS.Timeout[] = [];
      const shown = new Set<string>();
      const watchOrders = setInterval(() => {
        for (const o of cmmsSim.model.orders) {
          const comments = cmmsSim.model.comments.filter((c) => c.workOrderId === o.id);
          for (const [id, text] of [
            [
              `${o.id}`,
              `\n▶ Work order ${o.customId} in the CMMS: "${o.title}", priority ${o.priority}\n${indent(o.description)}\n`,
            ],
            ...comments.map((c) => [`${o.id}/${c.id}`, `▶ ${o.customId} comment: ${c.content}`]),
          ] as [string, string][]) {
            if (shown.has(id)) continue;
            shown.add(id);
            announce(text);
          }
        }
      }, 1000);
      if (opts.faultAfter > 0) {
        faultTimers.push(
          setTimeout(() => {
            announce('\n▶ Tripping the PLC: error_code 1 (motor overload), fault_alarm on');
            sim.model.injectFault(1);
          }, opts.faultAfter * 1000),
          setTimeout(
            () => {
              announce('▶ Resetting the PLC: the fault clears');
              sim.model.resetFault();
            },
            (opts.faultAfter + FAULT_SECONDS) * 1000,
          ),
        );
      }
      const stop = async () => {
        clearInterval(ticker);
        clearInterval(watchOrders);
        faultTimers.forEach(clearTimeout);
        process.stdout.write(pending.splice(0).join(''));
        console.log('\nStopping: agent (delivers what it holds), gateway, simulator, broker…');
        // The agent first, while the broker and gateway still take what it flushes.
        await agent.stop();
        await gateway.stop();
        await http.stop();
        await sim.stop();
        await llmSim.stop();
        await cmmsSim.stop();
        await broker.stop();
        rmSync(state, { recursive: true, force: true });
        process.stdout.write(pending.splice(0).join(''));
        console.log('Demo stopped.');
      };
      if (opts.duration !== undefined) {
        setTimeout(() => process.kill(process.pid, 'SIGTERM'), opts.duration * 1000).unref();
      }
      await runUntilSignal(log, stop);
    });
}
