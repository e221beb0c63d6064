// Specifies a 60 s broker outage (Mosquitto killed, then restarted): the agent loses nothing,
// keeps order and marks what it replays as historical.
import { describe, it } from 'vitest';
import type { AgentHealth } from '../agent/agent.js';
import {
  DURABLE_BROKER,
  cleanupOn,
  broker,
  restartBroker,
  crashBroker,
  simulator,
  startAgent,
  health,
  sleep,
  NOISY,
  agentConfig,
  subscribe,
  largestGap,
  allowedGap,
  quiesce,
  settle,
  connectedAgain,
} from './support/agent-faults.js';
import { waitFor } from './support/wait.js';

describe.concurrent('agent under faults (real agent CLI, Mosquitto and PLC simulator)', () => {
  it(
    'loses nothing over a 60 s broker outage at 10 Hz: every accepted sample arrives, in order, replayed ones marked hist',
    {
      timeout: 170_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const asset = 'edge-outage60';
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, DURABLE_BROKER);
      const sub = await subscribe(cleanup, mosquitto.url, { persistent: true, id: 'outage60' });
      const agent = await startAgent(
        cleanup,
        await agentConfig(asset, sim.port, { url: mosquitto.url }),
      );
      await waitFor('live samples of every noisy tag', () =>
        NOISY.every((t) => sub.samples(asset).some((s) => s.topic.endsWith(`/${t.name}`))),
      );
      // Long enough for the broker to have saved the subscriber's session at least once.
      await sleep(2500);

      const killedAt = await crashBroker(mosquitto, sub);
      const during: AgentHealth[] = [];
      while (Date.now() - killedAt < 60_000) {
        await sleep(5000);
        during.push((await health(agent)).body);
      }
      expect(agent.alive()).toBe(true);
      const mid = during[during.length - 1]!;
      expect(mid.broker.connected).toBe(false);
      // 60 s of samples wait in the outbox, none dropped.
      expect(mid.outbox!.depth.samples).toBeGreaterThan(300);
      expect(mid.outbox!.dropped.samples).toBe(0);

      await restartBroker(cleanup, mosquitto, DURABLE_BROKER);
      const restartedAt = Date.now();
      const reconnectedAt = await connectedAgain(agent);
      // The agent's poll latency up to here bounds the gaps between outage samples.
      const atReconnect = (await health(agent)).body;
      // Live samples for a moment after the replay, then a quiet agent to count against.
      await waitFor(
        'backlog replayed',
        async () => {
          const { body } = await health(agent);
          return !body.outbox!.replaying && body.outbox!.depth.messages === 0;
        },
        30_000,
      );
      await sleep(1000);
      const final = await quiesce(agent, sim);
      expect(agent.alive()).toBe(true);
      expect(agent.pid).toBe(agent.running.child.pid);

      const out = final.outbox!;
      expect(out.dropped.samples).toBe(0);
      expect(out.accepted.samples).toBe(final.samples.accepted);
      expect(out.published.samples).toBe(final.samples.accepted);
      expect(final.broker.reconnects).toBe(1);
      const a = await settle(sub, asset, final.samples.accepted);
      // Not one sample the agent accepted is missing, and none is invented.
      expect(a.unique.length).toBe(final.samples.accepted);
      expect(a.conflicting).toEqual([]);
      expect(a.outOfOrder).toEqual([]);

      // What was read during the outage arrived after it, replayed and marked historical.
      const outage = a.unique.filter(
        (s) => s.tag.ts > killedAt + 300 && s.tag.ts < reconnectedAt - 300,
      );
      expect(outage.filter((s) => !s.tag.hist)).toEqual([]);
      expect(outage.every((s) => s.at >= restartedAt)).toBe(true);
      for (const t of NOISY)
        expect(outage.filter((s) => s.topic.endsWith(`/${t.name}`)).length).toBeGreaterThan(150);
      // Continuous at 10 Hz: the noisy tags together have a sample on nearly every poll, and no
      // gap is longer than the slowest poll the agent measured (see allowedGap).
      expect(largestGap(outage, killedAt + 300, reconnectedAt - 300)).toBeLessThan(
        allowedGap(atReconnect),
      );
      // Live again after the reconnect.
      const after = a.unique.filter((s) => s.tag.ts > reconnectedAt + 300);
      expect(after.length).toBeGreaterThan(0);
      expect(after.filter((s) => s.tag.hist)).toEqual([]);
      console.log(
        `[outage 60 s] accepted ${final.samples.accepted}, delivered ${a.unique.length} (+ duplicates: ${a.duplicates.identical} identical, ${a.duplicates.replayed} replayed), outage samples ${outage.length}, reconnect ${reconnectedAt - restartedAt} ms after the broker restart`,
      );
    },
  );
});
