import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { startCmmsSim, SIM_USER, type CmmsSim, type SimOrder } from './support/cmms-sim.js';
import { startLlmSim, type LlmSim } from './support/llm-sim.js';
import { startAgent, startSimulator, writeConfig } from './support/pipeline.js';
import { freePort, runCli, startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';
import { testDir } from './support/temp.js';

/**
 * Issue 13 end to end, every part a real process but the PLC (in this process, so the test can
 * trip it): Micro 820 simulator → agent CLI → Mosquitto → gateway CLI with a maintenance:
 * section → `factorylm sim llm` and `factorylm sim cmms`. The work orders are read back from the
 * CMMS simulator.
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Loop {
  sim: Micro820Simulator;
  broker: Service;
  llm: LlmSim;
  cmms: CmmsSim;
  agent: Running;
}

async function startLoop(llmArgs: string[] = []): Promise<Loop> {
  const broker = await startMosquitto();
  cleanup.push(() => broker.stop());
  const sim = await startSimulator();
  cleanup.push(() => sim.stop());
  const llm = await startLlmSim(llmArgs);
  cleanup.push(() => llm.stop());
  const cmms = await startCmmsSim(['--seed-assets', 'conveyor1']);
  cleanup.push(() => cmms.stop());
  const { agent } = await startAgent(sim.port, broker.url);
  cleanup.push(() => agent.stop('SIGKILL'));
  return { sim, broker, llm, cmms, agent };
}

/** A gateway CLI whose maintenance: section points at the simulators. */
async function startBridgeGateway(
  loop: Loop,
  name: string,
  options: { waitMs?: number; shareGroup?: string; leaseTtlSec?: number } = {},
): Promise<{ gateway: Running; http: string }> {
  const port = await freePort();
  const state = testDir('factorylm-bridge-');
  const file = writeConfig('gateway', {
    name,
    mqtt: { url: loop.broker.url },
    subscribe: { shareGroup: options.shareGroup ?? null },
    http: { host: '127.0.0.1', port, page: false },
    maintenance: {
      rules: [{ kind: 'micro820', asset: 'conveyor1', onDelayMs: 1000, offDelayMs: 4000 }],
      alarms: { statePath: join(state, 'alarms.db') },
      llm: { url: loop.llm.url, waitMs: options.waitMs ?? 10_000, timeoutMs: 60_000 },
      cmms: {
        url: loop.cmms.url,
        email: SIM_USER.email,
        passwordEnv: 'ATLAS_PASSWORD',
        outbox: { path: join(state, 'cmms.db') },
        retryMaxMs: 2000,
        reconcileDelayMs: 1000,
      },
      leaseTtlSec: options.leaseTtlSec ?? 15,
    },
  });
  const gateway = startCli(['gateway', '--config', file], { ATLAS_PASSWORD: SIM_USER.password });
  cleanup.push(() => gateway.stop('SIGKILL'));
  await gateway.waitForOutput(/"msg":"subscribed"/);
  return { gateway, http: `http://127.0.0.1:${port}` };
}

async function ordersOf(cmms: CmmsSim): Promise<SimOrder[]> {
  return (await cmms.orders()).filter((o) => o.asset?.name === 'conveyor1');
}

describe('maintenance bridge end to end (issue 13)', () => {
  it('a fault makes one diagnosed work order; it clears with a comment; back within the off-delay it makes no new order', async () => {
    const loop = await startLoop();
    const { gateway, http } = await startBridgeGateway(loop, 'bridge-1');
    await gateway.waitForOutput(/holding the maintenance lease/);
    await sleep(3000);
    expect(await ordersOf(loop.cmms)).toEqual([]);

    loop.sim.model.injectFault(1);
    await waitFor('a work order', async () => (await ordersOf(loop.cmms)).length > 0, 30_000);
    // The diagnosis is in the order, not pending: the simulated LLM answers at once.
    const [order] = await ordersOf(loop.cmms);
    expect(order!.priority).toBe('HIGH');
    expect(order!.title).toMatch(/conveyor1: error_code = 1: motor overload/);
    expect(order!.description).toMatch(/\[factorylm:plant1\/conveyor1\/fault\]/);
    expect(order!.description).toMatch(/overload/i);
    expect(order!.description).not.toMatch(/Diagnosis pending/);
    // fault_alarm and error_code are one fault: one order.
    await sleep(3000);
    expect(await ordersOf(loop.cmms)).toHaveLength(1);

    const alarms = (await (await fetch(`${http}/api/alarms`)).json()) as {
      alarms: { key: string; state: string; workOrder?: { id: number } }[];
    };
    expect(alarms.alarms.map((a) => a.key).sort()).toEqual([
      'plant1/conveyor1/error_code',
      'plant1/conveyor1/fault_alarm',
    ]);
    expect(alarms.alarms.every((a) => a.workOrder?.id === order!.id)).toBe(true);

    // The operator surface: the CLI against the gateway's API.
    const listed = await runCli(['alarms', 'list', '--gateway', http]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      /plant1\/conveyor1\/error_code .*active_unacked.*HIGH.*motor overload/,
    );
    expect(listed.stdout).toContain(order!.customId);
    const acked = await runCli([
      'alarms',
      'ack',
      'plant1/conveyor1/error_code',
      '--by',
      'tester',
      '--gateway',
      http,
    ]);
    expect(acked.stdout).toMatch(/active_acked/);
    const unknown = await runCli(['alarms', 'ack', 'plant1/nothing/x', '--gateway', http]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/404/);

    // Off for less than the off-delay (4 s), then back: the same activation, no new order.
    loop.sim.model.resetFault();
    await sleep(1500);
    loop.sim.model.injectFault(1);
    await sleep(6000);
    expect(await ordersOf(loop.cmms)).toHaveLength(1);

    loop.sim.model.resetFault();
    await waitFor(
      'the cleared comment',
      async () => {
        const [o] = await ordersOf(loop.cmms);
        return o!.comments.some((c) => /cleared at/i.test(c.content));
      },
      30_000,
    );
    const [after] = await ordersOf(loop.cmms);
    expect(after!.status).toBe('OPEN');
    expect(await ordersOf(loop.cmms)).toHaveLength(1);
    // One diagnosis asked for the one fault.
    expect((await loop.llm.generations()).length).toBe(1);
  }, 120_000);

  it('an LLM slower than waitMs: the order goes out with "diagnosis pending", the diagnosis follows as a comment', async () => {
    const loop = await startLoop();
    await loop.llm.setFaults({ delayMs: 6000 });
    const { gateway } = await startBridgeGateway(loop, 'bridge-slow', { waitMs: 1000 });
    await gateway.waitForOutput(/holding the maintenance lease/);
    await sleep(2000);
    const faultAt = Date.now();
    loop.sim.model.injectFault(2);
    await waitFor('a work order', async () => (await ordersOf(loop.cmms)).length > 0, 30_000);
    const createdAfter = Date.now() - faultAt;
    const [order] = await ordersOf(loop.cmms);
    expect(order!.description).toMatch(/Diagnosis pending/);
    expect(order!.comments).toEqual([]);
    await waitFor(
      'the diagnosis as a comment',
      async () => (await ordersOf(loop.cmms))[0]!.comments.length > 0,
      30_000,
    );
    const [later] = await ordersOf(loop.cmms);
    expect(later!.comments[0]!.content).toMatch(/temperature/i);
    console.log(`slow LLM: order ${createdAfter} ms after the fault, diagnosis as a comment later`);
    expect(await ordersOf(loop.cmms)).toHaveLength(1);
  }, 90_000);

  it('two gateways in a share group, the lease holder killed with SIGKILL: still one work order per fault', async () => {
    const loop = await startLoop();
    const a = await startBridgeGateway(loop, 'bridge-a', { shareGroup: 'g', leaseTtlSec: 3 });
    const b = await startBridgeGateway(loop, 'bridge-b', { shareGroup: 'g', leaseTtlSec: 3 });
    await waitFor(
      'one lease holder',
      () => /holding the maintenance lease/.test(a.gateway.output() + b.gateway.output()),
      20_000,
    );
    const [holder, other] = /holding the maintenance lease/.test(a.gateway.output())
      ? [a, b]
      : [b, a];
    await sleep(2000);
    loop.sim.model.injectFault(3);
    await waitFor('a work order', async () => (await ordersOf(loop.cmms)).length > 0, 30_000);
    holder.gateway.child.kill('SIGKILL');
    await other.gateway.waitForOutput(/holding the maintenance lease/, 30_000);
    // The fault is still active: the new holder raises it again and finds the open order.
    await sleep(8000);
    expect(await ordersOf(loop.cmms)).toHaveLength(1);
    loop.sim.model.resetFault();
    await waitFor(
      'the cleared comment',
      async () =>
        (await ordersOf(loop.cmms))[0]!.comments.some((c) => /cleared at/i.test(c.content)),
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${other.gateway.output().slice(-6000)}`);
    });
    // The order stays open (closeOnClear false): the next fault is noted on it, not a new order.
    loop.sim.model.injectFault(4);
    await sleep(8000);
    const orders = await ordersOf(loop.cmms);
    console.log(
      `hand-over: ${orders.length} orders: ${orders.map((o) => `${o.customId} ${o.title}`).join('; ')}`,
    );
    expect(orders).toHaveLength(1);
    expect(orders[0]!.comments.some((c) => /Re-occurred|Also/i.test(c.content))).toBe(true);
  }, 150_000);
});
