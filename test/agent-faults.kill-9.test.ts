// Specifies kill -9 of the agent during a broker outage: the restarted agent delivers the
// backlog from its outbox, and at most one flush interval of samples is lost.
import { describe, it } from 'vitest';
import type { TagPayload } from '../protocols/mqtt/payload.js';
import {
  POLL_MS,
  FLUSH_MS,
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
  STEADY,
  agentConfig,
  subscribe,
  largestGap,
  allowedGap,
  quiesce,
  settle,
} from './support/agent-faults.js';
import { waitFor } from './support/wait.js';

describe.concurrent('agent under faults (real agent CLI, Mosquitto and PLC simulator)', () => {
  it(
    'kill -9 during an outage: the restarted agent delivers the backlog; at most one flush interval is lost',
    {
      timeout: 90_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const asset = 'edge-kill9';
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, DURABLE_BROKER);
      const sub = await subscribe(cleanup, mosquitto.url, { persistent: true, id: 'kill9' });
      const config = await agentConfig(asset, sim.port, { url: mosquitto.url });
      const first = await startAgent(cleanup, config);
      await waitFor('live samples', () => sub.samples(asset).length > 20);
      await sleep(2500);

      const brokerDownAt = await crashBroker(mosquitto, sub);
      // Watch the agent's own count of accepted samples, then kill it right after one reading.
      const series: { at: number; accepted: number }[] = [];
      while (Date.now() - brokerDownAt < 6000) {
        const { body } = await health(first);
        series.push({ at: Date.now(), accepted: body.samples.accepted });
        await sleep(50);
      }
      const { body: lastSeen } = await health(first);
      first.running.child.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor('first agent gone', () => first.running.child.signalCode === 'SIGKILL');
      expect(lastSeen.broker.connected).toBe(false);
      expect(lastSeen.outbox!.depth.samples).toBeGreaterThan(20);

      const second = await startAgent(cleanup, config);
      const backlogLine = second.logs().find((l) => /backlog from before the restart/.test(l.msg));
      expect(backlogLine).toBeDefined();
      await sleep(1500);
      await restartBroker(cleanup, mosquitto, DURABLE_BROKER);
      await waitFor(
        'second agent connected',
        async () => (await health(second)).body.broker.connected,
        30_000,
      );
      const final = await quiesce(second, sim);
      expect(second.alive()).toBe(true);

      const fromFirst = (s: { tag: TagPayload }) => s.tag.ts < killedAt;
      // The loss window: what the first agent accepted in the last flush interval (plus one poll
      // of timer slack) before its last health reading.
      const windowStart = lastSeen.ts - FLUSH_MS - POLL_MS;
      const committedBefore = [...series].reverse().find((p) => p.at <= windowStart)!.accepted;
      const allowedLoss = lastSeen.samples.accepted - committedBefore;
      const a = await settle(sub, asset, committedBefore, fromFirst);
      expect(a.conflicting).toEqual([]);
      expect(a.outOfOrder).toEqual([]);
      const delivered = a.unique.filter(fromFirst).length;
      const lost = lastSeen.samples.accepted - delivered;
      console.log(
        `[kill -9] duplicates: ${a.duplicates.identical} identical, ${a.duplicates.replayed} replayed; first agent accepted ${lastSeen.samples.accepted}, delivered ${delivered}, lost ${lost} (allowed ${allowedLoss}: the last ${FLUSH_MS} ms)`,
      );
      expect(lost).toBeLessThanOrEqual(allowedLoss);
      // Nothing invented: at most the poll that may have run between the last reading and the kill.
      expect(delivered).toBeLessThanOrEqual(
        lastSeen.samples.accepted + NOISY.length + STEADY.length,
      );
      // The backlog from inside the outage, before the kill, arrived marked historical.
      const outage = a.unique.filter(
        (s) => s.tag.ts > brokerDownAt + 300 && s.tag.ts < killedAt - FLUSH_MS - POLL_MS,
      );
      expect(outage.length).toBeGreaterThan(30);
      expect(outage.every((s) => s.tag.hist === true)).toBe(true);
      expect(largestGap(outage, brokerDownAt + 300, killedAt - FLUSH_MS - POLL_MS)).toBeLessThan(
        allowedGap(lastSeen),
      );
      // And the second agent's own samples all arrived too.
      const b = a.unique.filter((s) => s.tag.ts >= killedAt);
      expect(b.length).toBe(final.samples.accepted);
      expect(final.outbox!.dropped.samples).toBe(0);
    },
  );
});
