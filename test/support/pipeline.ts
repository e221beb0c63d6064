import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadAgentConfig, type AgentConfig, type ModbusDeviceConfig } from '../../agent/config.js';
import { toEngineering } from '../../protocols/tag-values.js';
import { AREAS, parseTagAddress } from '../../protocols/modbus/address.js';
import { REGISTER_BASE } from '../../simulators/micro820/model.js';
import { Micro820Simulator } from '../../simulators/micro820/simulator.js';
import { startCli, type Running } from './processes.js';
import { testDir } from './temp.js';

export const EXAMPLE = 'deploy/examples/micro820.yaml';

/** The shipped example config, pointed at a simulator port and a broker. */
export function exampleEnv(plcPort: number, mqttUrl: string): NodeJS.ProcessEnv {
  return {
    PLC_HOST: '127.0.0.1',
    PLC_PORT: String(plcPort),
    MQTT_URL: mqttUrl,
    MQTT_USERNAME: '',
    MQTT_PASSWORD: '',
    LOG_LEVEL: 'info',
    // Each agent its own outbox and a free health port, so parallel tests never share them.
    FACTORYLM_OUTBOX: join(testDir('factorylm-outbox-'), 'outbox.db'),
    HEALTH_PORT: '0',
  };
}

export async function startSimulator(port = 0): Promise<Micro820Simulator> {
  const sim = new Micro820Simulator({ port, historyMs: 10 * 60_000, tickMs: 50 });
  await sim.start();
  return sim;
}

/** Writes a config document to a YAML file in a fresh temporary folder; returns its path. */
export function writeConfig(name: string, doc: Record<string, unknown>): string {
  const dir = testDir('factorylm-');
  const file = join(dir, `${name}.yaml`);
  if (doc.devices) {
    // An agent config: its outbox goes beside the file, and the health endpoint off (port 0).
    doc = {
      ...doc,
      outbox: { path: join(dir, 'outbox.db'), ...(doc.outbox as object) },
      health: { port: 0, ...(doc.health as object) },
    };
  } else if (doc.influx) {
    // A gateway config: its spool goes beside the file unless the test names one.
    doc = { ...doc, spool: { path: join(dir, 'spool.db'), ...(doc.spool as object) } };
  }
  writeFileSync(file, stringify(doc));
  return file;
}

/** Writes a gateway config to a temporary file and starts `factorylm gateway` on it. */
export async function startGateway(config: Record<string, unknown>): Promise<Running> {
  const file = writeConfig('gateway', config);
  const gateway = startCli(['gateway', '--config', file]);
  await gateway.waitForOutput(/"msg":"subscribed"/);
  return gateway;
}

/** `extraEnv` adds to or overrides exampleEnv, e.g. `HEALTH_PUBLISH_MS` (health every N ms). */
export async function startAgent(
  plcPort: number,
  mqttUrl: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ agent: Running; config: AgentConfig }> {
  const env = { ...exampleEnv(plcPort, mqttUrl), ...extraEnv };
  const config = await loadAgentConfig(EXAMPLE, env);
  const agent = startCli(['agent', '--config', EXAMPLE], env);
  await agent.waitForOutput(/"msg":"agent started"/);
  return { agent, config };
}

export interface Pipeline {
  sim: Micro820Simulator;
  gateway: Running;
  agent: Running;
  config: AgentConfig;
  stop: () => Promise<void>;
}

/**
 * Simulator (in this process, recording what it served) → agent CLI → broker → gateway CLI →
 * the given InfluxDB sink, started in that order so the gateway sees the agent's first samples.
 * `agentEnv` adds to the agent's environment (see startAgent).
 */
export async function startPipeline(
  name: string,
  mqttUrl: string,
  influx: Record<string, unknown>,
  agentEnv: NodeJS.ProcessEnv = {},
): Promise<Pipeline> {
  const sim = await startSimulator();
  const gateway = await startGateway({
    name,
    mqtt: { url: mqttUrl },
    influx: { batchSize: 500, flushIntervalMs: 200, ...influx },
  });
  const { agent, config } = await startAgent(sim.port, mqttUrl, agentEnv);
  return {
    sim,
    gateway,
    agent,
    config,
    stop: async () => {
      await agent.stop();
      await gateway.stop();
      await sim.stop();
    },
  };
}

export interface StoredPoint {
  ts: number;
  value: number | boolean;
}

/**
 * Points whose value the simulator never served within one poll interval of the point's
 * timestamp. Empty means every stored value is one the PLC really had at that time (±1 poll).
 */
export function mismatches(
  sim: Micro820Simulator,
  config: AgentConfig,
  tagName: string,
  points: StoredPoint[],
): string[] {
  const device = config.devices[0] as ModbusDeviceConfig;
  const tag = device.tags.find((t) => t.name === tagName);
  if (!tag) return [`no tag ${tagName} in the config`];
  const address = parseTagAddress(tag.address);
  const poll = device.pollIntervalMs;
  const served = (raw: { coils: boolean[]; registers: number[] }) => {
    const value = AREAS[address.area].bits
      ? raw.coils[address.offset]!
      : raw.registers[address.offset - REGISTER_BASE]!;
    return Number(toEngineering(value, tag.scale, tag.offset));
  };
  const out: string[] = [];
  for (const p of points) {
    const candidates = sim.servedBetween(p.ts - poll, p.ts + poll).map(served);
    const stored = typeof p.value === 'boolean' ? Number(p.value) : p.value;
    if (!candidates.some((c) => Math.abs(c - stored) < 1e-9)) {
      out.push(
        `${tagName}@${p.ts}: stored ${stored}, simulator served ${[...new Set(candidates)].join('|') || 'nothing'} within ±${poll} ms`,
      );
    }
  }
  return out;
}
