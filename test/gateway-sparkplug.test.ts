import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAgentConfig, type AgentConfig } from '../agent/config.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import {
  EXAMPLE,
  exampleEnv,
  mismatches,
  startGateway,
  startSimulator,
  writeConfig,
} from './support/pipeline.js';
import { startCli, type Running } from './support/processes.js';
import {
  startMosquitto,
  startVictoriaMetrics,
  vmExport,
  type Service,
  type VmSeries,
} from './support/services.js';
import { waitFor } from './support/wait.js';

// The real agent CLI publishing Sparkplug B (NBIRTH/DBIRTH with aliases, DDATA by alias) →
// Mosquitto → the gateway CLI with subscribe.sparkplug → VictoriaMetrics.

let mosquitto: Service;
let vm: Service;
let sim: Micro820Simulator;
let agent: Running;
let gateway: Running;
let late: Running | undefined;
let config: AgentConfig;

function gatewayConfig(name: string): Record<string, unknown> {
  return {
    name,
    mqtt: { url: mosquitto.url, protocolVersion: 5 },
    subscribe: { sparkplug: { enabled: true, groups: ['plant1'] } },
    influx: { api: 'v2', url: vm.url, batchSize: 500, flushIntervalMs: 200 },
  };
}

/** Stats of a stopped gateway CLI, from its "gateway stopped" log line. */
function stoppedStats(g: Running): { points: number; invalid: Record<string, number> } {
  const line = g
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"gateway stopped"'));
  if (!line) throw new Error(`no "gateway stopped" line in\n${g.output().slice(-3000)}`);
  return JSON.parse(line) as { points: number; invalid: Record<string, number> };
}

beforeAll(async () => {
  [mosquitto, vm] = await Promise.all([startMosquitto(), startVictoriaMetrics()]);
  sim = await startSimulator();
  gateway = await startGateway(gatewayConfig('sp-main'));
  // The shipped example config, switched to Sparkplug output.
  const doc = parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
  doc.publish = { ...doc.publish, output: 'sparkplug' };
  const file = writeConfig('agent', doc);
  const env = exampleEnv(sim.port, mosquitto.url);
  config = await loadAgentConfig(file, env);
  agent = startCli(['agent', '--config', file], env);
  await agent.waitForOutput(/"msg":"agent started"/);
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await late?.stop();
  await gateway?.stop();
  await sim?.stop();
  await Promise.all([mosquitto?.stop(), vm?.stop()]);
});

describe('agent (Sparkplug B) → Mosquitto → gateway → VictoriaMetrics', () => {
  it('stores every tag of the Micro 820 map with the values the PLC served (±1 poll)', async () => {
    expect(config.publish.output).toBe('sparkplug');
    const names = config.devices[0]!.tags.map((t) => t.name);
    let series: VmSeries[] = [];
    await waitFor(
      'all tags in VictoriaMetrics with a ramped motor',
      async () => {
        series = await vmExport(vm.url, '{__name__="plc_tags_value"}');
        const speed = series.find((s) => s.metric.tag === 'motor_speed');
        const current = series.find((s) => s.metric.tag === 'motor_current');
        return (
          series.length === names.length &&
          speed?.values.includes(1750) &&
          new Set(current?.values).size >= 3
        );
      },
      30_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- gateway ---\n${gateway.output().slice(-3000)}`);
    });
    expect(series.map((s) => s.metric.tag).sort()).toEqual([...names].sort());
    let checked = 0;
    for (const s of series) {
      // Sparkplug carries no area or line: those labels are absent.
      expect(s.metric).toEqual({
        __name__: 'plc_tags_value',
        site: 'plant1',
        asset: 'conveyor1',
        node: 'edge-01',
        tag: s.metric.tag,
      });
      const points = s.values.map((value, i) => ({ ts: s.timestamps[i]!, value }));
      expect(mismatches(sim, config, s.metric.tag!, points)).toEqual([]);
      checked += points.length;
    }
    expect(checked).toBeGreaterThan(names.length);
    expect(gateway.output()).not.toMatch(/"reason":"sparkplug-/);
  });

  it('a gateway that missed the births counts the DDATA and gets them by a rebirth request', async () => {
    // Starts after the agent's births: its first DDATA has no birth, so it asks for a rebirth
    // (NCMD Node Control/Rebirth) and the agent answers with NBIRTH and DBIRTH again.
    late = await startGateway({
      ...gatewayConfig('sp-late'),
      subscribe: { shareGroup: null, sparkplug: { enabled: true } },
    });
    await late.waitForOutput(/"reason":"sparkplug-no-birth"/, 15_000);
    await late.waitForOutput(/"msg":"Sparkplug rebirth requested"/, 5_000);
    // Points flow once the new births are in (the agent polls every second).
    await new Promise((r) => setTimeout(r, 3000));
    await late.stop();
    const stats = stoppedStats(late);
    expect(stats.points).toBeGreaterThan(0);
    expect(stats.invalid['sparkplug-no-birth']).toBeGreaterThanOrEqual(1);
    // One rebirth request per node per 10 s at most.
    expect(late.output().match(/Sparkplug rebirth requested/g)).toHaveLength(1);
  });
});
