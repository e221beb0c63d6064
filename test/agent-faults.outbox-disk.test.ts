// Specifies an outbox folder that cannot be created: the agent runs on with an in-memory outbox,
// reports itself degraded, and data still flows.
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import {
  cleanupOn,
  broker,
  simulator,
  startAgent,
  health,
  agentConfig,
  subscribe,
} from './support/agent-faults.js';
import { waitFor } from './support/wait.js';

describe.concurrent('agent under faults (real agent CLI, Mosquitto and PLC simulator)', () => {
  it(
    'outbox folder cannot be created: the agent runs on with an in-memory outbox, says so, and data flows',
    {
      timeout: 60_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup);
      const sub = await subscribe(cleanup, mosquitto.url, { id: 'nodisk' });
      const dir = `/nonexistent-dir-${process.pid}-${Date.now()}`;
      const path = `${dir}/x/outbox.db`;
      const agent = await startAgent(
        cleanup,
        await agentConfig('edge-nodisk', sim.port, { url: mosquitto.url }, { outbox: { path } }),
      );
      const line = agent.logs().find((l) => l.component === 'outbox' && l.level >= 50);
      expect(line?.msg).toMatch(/cannot be opened.*memory only/);
      expect(line?.msg).toContain(path);

      await waitFor('samples at the broker', () => sub.samples('edge-nodisk').length > 20);
      expect(agent.alive()).toBe(true);
      const { http, body } = await health(agent);
      expect(http).toBe(503);
      expect(body.status).toBe('degraded');
      expect(body.outbox!.durable).toBe(false);
      expect(body.outbox!.lastError).toMatch(/cannot be opened.*memory only/);
      expect(body.reasons.join('\n')).toMatch(/outbox is in memory only/);
      expect(body.broker.connected).toBe(true);
      expect(body.outbox!.published.samples).toBeGreaterThan(20);
      expect(existsSync(dir)).toBe(false);
    },
  );
});
