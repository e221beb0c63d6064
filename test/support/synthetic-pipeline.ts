import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import type { GatewayStats } from '../../gateway/gateway.js';
import { writeConfig } from './pipeline.js';
import { CLI, freePort, startCli, type Running } from './processes.js';
import { vmExport } from './services.js';

/**
 * The pipeline a plant runs, every part a real process: `sim modbus --synthetic 1x500 --change 1`
 * → agent CLI (outbox, QoS 1, asset batches, poll 200 ms) → broker → gateway CLI → a database.
 * Every value changes on every poll, so every sample is a distinct point.
 */

/** The last JSON log line of a process with this `msg`, parsed. */
export function lastLog(running: Running, msg: string): Record<string, unknown> | undefined {
  const lines = running
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"msg":"${msg}"`));
  const last = lines[lines.length - 1];
  return last ? (JSON.parse(last) as Record<string, unknown>) : undefined;
}

/** Distinct (series, timestamp) points, and all rows, that VictoriaMetrics holds for the PLC. */
export async function storedPoints(url: string): Promise<{ distinct: number; raw: number }> {
  const series = await vmExport(url, '{__name__="plc_tags_value",site="bench"}');
  let distinct = 0;
  let raw = 0;
  for (const s of series) {
    distinct += new Set(s.timestamps).size;
    raw += s.timestamps.length;
  }
  return { distinct, raw };
}

export async function startSyntheticPlc(): Promise<{ sim: Running; port: number }> {
  const port = await freePort();
  const sim = startCli([
    'sim',
    'modbus',
    '--synthetic',
    '1x500',
    '--change',
    '1',
    '--port',
    String(port),
  ]);
  await sim.waitForOutput(/Modbus server listening/);
  return { sim, port };
}

export async function startSyntheticAgent(plcPort: number, mqttUrl: string): Promise<Running> {
  const config = parse(
    execFileSync(
      process.execPath,
      [CLI, 'sim', 'modbus', '--synthetic', '1x500', '--print-config', '--port', String(plcPort)],
      { encoding: 'utf8' },
    ),
  ) as { devices: { pollIntervalMs: number }[] } & Record<string, unknown>;
  config.mqtt = { url: mqttUrl };
  config.publish = { mode: 'asset', qos: 1 };
  for (const d of config.devices) d.pollIntervalMs = 200;
  const agent = startCli(['agent', '--config', writeConfig('agent', config)]);
  await agent.waitForOutput(/"msg":"agent started"/);
  return agent;
}

export async function startSyntheticGateway(
  name: string,
  mqttUrl: string,
  vmUrl: string,
  extra: Record<string, unknown> = {},
): Promise<Running> {
  const file = writeConfig('gateway', {
    name,
    mqtt: { url: mqttUrl },
    influx: { api: 'v2', url: vmUrl, batchSize: 2000, flushIntervalMs: 200, timeoutMs: 2000 },
    spool: { retryMaxMs: 1000 },
    ...extra,
  });
  const gateway = startCli(['gateway', '--config', file]);
  await gateway.waitForOutput(/"msg":"subscribed"/);
  return gateway;
}

export interface AgentOutboxStats {
  published: { messages: number; samples: number };
  dropped: { messages: number; samples: number };
  depth: { messages: number; samples: number };
}

/** SIGTERM, then the outbox figures the agent logs as it stops. */
export async function stopAgent(agent: Running): Promise<AgentOutboxStats> {
  await agent.stop('SIGTERM');
  const stopped = lastLog(agent, 'agent stopped');
  if (!stopped) throw new Error(`the agent logged no final stats:\n${agent.output().slice(-3000)}`);
  return stopped.outbox as AgentOutboxStats;
}

/** SIGTERM, then the stats the gateway logs as it stops. */
export async function stopGateway(gateway: Running): Promise<GatewayStats> {
  await gateway.stop('SIGTERM');
  const stopped = lastLog(gateway, 'gateway stopped');
  if (!stopped)
    throw new Error(`the gateway logged no final stats:\n${gateway.output().slice(-3000)}`);
  return stopped as unknown as GatewayStats;
}
