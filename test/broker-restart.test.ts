import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './support/processes.js';
import {
  startMosquitto,
  startVictoriaMetrics,
  vmExport,
  type Service,
} from './support/services.js';
import {
  startSyntheticAgent,
  startSyntheticGateway,
  startSyntheticPlc,
  stopAgent,
  stopGateway,
  storedPoints,
} from './support/synthetic-pipeline.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 12: a graceful Mosquitto restart (package upgrade, reboot) while the gateway has a
 * backlog, with the faults a plant sees together. Every part is a real process. Every sample
 * the broker acknowledged to the agent must be in the database, or be counted as missing.
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mosquitto's own defaults with persistence on: the configuration a plant runs. */
async function broker(port: number, dir?: string): Promise<Service> {
  return startMosquitto({ port, persistence: true, ...(dir ? { dir } : {}) });
}

describe('Mosquitto restart with a gateway backlog (issue 12)', () => {
  it('VictoriaMetrics down, Mosquitto restarted, VictoriaMetrics back: every acknowledged sample is stored, none counted missing', async () => {
    const mqttPort = await freePort();
    let mosquitto = await broker(mqttPort);
    const { dir } = mosquitto;
    cleanup.push(() => mosquitto.stop());
    let vm = await startVictoriaMetrics();
    const { port: vmPort, dir: vmDir } = vm;
    cleanup.push(() => vm.stop());
    const { sim, port: plcPort } = await startSyntheticPlc();
    cleanup.push(() => sim.stop('SIGKILL'));
    // The default subscription: no share group, so this gateway checks every node's sequence.
    const gateway = await startSyntheticGateway('restart', mosquitto.url, vm.url);
    cleanup.push(() => gateway.stop('SIGKILL'));
    const agent = await startSyntheticAgent(plcPort, mosquitto.url);
    cleanup.push(() => agent.stop('SIGKILL'));

    await sleep(5000);
    await vm.kill('SIGTERM');
    await gateway.waitForOutput(/InfluxDB unreachable: spooling/, 20_000);
    await sleep(5000);
    await mosquitto.kill('SIGTERM');
    await sleep(5000);
    mosquitto = await broker(mqttPort, dir);
    await sleep(10_000);
    vm = await startVictoriaMetrics({ port: vmPort, dir: vmDir });
    await gateway.waitForOutput(/InfluxDB answers again/, 30_000);
    await sleep(5000);
    const outbox = await stopAgent(agent);
    expect(outbox.dropped.samples).toBe(0);
    expect(outbox.depth.samples).toBe(0);
    const acknowledged = outbox.published.samples;
    expect(acknowledged).toBeGreaterThan(40_000);

    let stored = { distinct: 0, raw: 0 };
    await waitFor(
      'every acknowledged sample in VictoriaMetrics',
      async () => {
        stored = await storedPoints(vm.url);
        return stored.distinct >= acknowledged;
      },
      60_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${acknowledged} acknowledged, ${stored.distinct} stored\n${gateway.output().slice(-3000)}`,
      );
    });
    const stats = await stopGateway(gateway);
    console.log(
      `Mosquitto restart, no share group: ${acknowledged} samples acknowledged to the agent in ` +
        `${outbox.published.messages} messages, ${stored.distinct} stored, ${stored.raw - stored.distinct} ` +
        `stored twice; gateway sequence check ${JSON.stringify(stats.sequence)}`,
    );
    expect(stored.distinct).toBe(acknowledged);
    expect(stats.sequence).toMatchObject({ missing: 0, nodes: 1, unattributed: 0 });
    expect(stats.sequence!.received - stats.sequence!.duplicates).toBe(outbox.published.messages);
  }, 240_000);

  it('with a share group the gateway receives again after the restart (Mosquitto 2.0 restores a dead shared subscription)', async () => {
    const mqttPort = await freePort();
    let mosquitto = await broker(mqttPort);
    const { dir } = mosquitto;
    cleanup.push(() => mosquitto.stop());
    const vm = await startVictoriaMetrics();
    cleanup.push(() => vm.stop());
    const { sim, port: plcPort } = await startSyntheticPlc();
    cleanup.push(() => sim.stop('SIGKILL'));
    const gateway = await startSyntheticGateway('restart-shared', mosquitto.url, vm.url, {
      subscribe: { shareGroup: 'factorylm-gateway' },
    });
    cleanup.push(() => gateway.stop('SIGKILL'));
    const agent = await startSyntheticAgent(plcPort, mosquitto.url);
    cleanup.push(() => agent.stop('SIGKILL'));

    await sleep(4000);
    await mosquitto.kill('SIGTERM');
    await sleep(3000);
    mosquitto = await broker(mqttPort, dir);
    await gateway.waitForOutput(/"msg":"subscribed"[\s\S]*"msg":"subscribed"/, 30_000);
    const resumedAt = Date.now() + 3000;
    await sleep(10_000);
    const before = (await storedPoints(vm.url)).distinct;
    // Data polled well after both reconnected: every poll's 500 samples arrive.
    const series = await vmExport(vm.url, '{__name__="plc_tags_value",site="bench",tag="t00000"}');
    const recent = (series[0]?.timestamps ?? []).filter((ts) => ts > resumedAt).sort();
    const longestPause = Math.max(...recent.slice(1).map((ts, i) => ts - recent[i]!));
    await stopAgent(agent);
    await stopGateway(gateway);
    console.log(
      `Mosquitto restart, share group: ${before} points stored, ${recent.length} polls of t00000 after the restart, longest pause ${longestPause} ms`,
    );
    // Without the unsubscribe/subscribe on reconnect nothing after the restart arrives.
    expect(recent.length).toBeGreaterThan(20);
    expect(longestPause).toBeLessThan(1000);
  }, 180_000);
});
