// Specifies an outbox that fills up during a broker outage: the oldest samples are dropped and
// counted, the newest delivered first, and memory and disk stay bounded.
import { existsSync, statSync } from 'node:fs';
import { describe, it } from 'vitest';
import {
  DURABLE_BROKER,
  cleanupOn,
  broker,
  restartBroker,
  crashBroker,
  simulator,
  startAgent,
  health,
  rssMb,
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
    'outbox full during an outage: oldest samples dropped and counted, newest delivered first, memory flat',
    {
      timeout: 150_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const asset = 'edge-full';
      const maxBytes = 1_000_000; // the smallest outbox.maxBytes the config accepts
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, DURABLE_BROKER);
      const sub = await subscribe(cleanup, mosquitto.url, { persistent: true, id: 'full' });
      // 36 tags on the noisy registers with long names, polled at 50 Hz: ~60 KB of backlog a second.
      const tags = Array.from({ length: 36 }, (_, i) => ({
        ...NOISY[i % NOISY.length]!,
        name: `${NOISY[i % NOISY.length]!.name}_with_a_long_name_to_fill_the_outbox_${i}`,
      }));
      const agent = await startAgent(
        cleanup,
        await agentConfig(
          'edge-full',
          sim.port,
          { url: mosquitto.url },
          {
            tags,
            pollIntervalMs: 20,
            outbox: { maxBytes },
          },
        ),
      );
      await waitFor('live samples', () => sub.samples(asset).length > 100);
      await sleep(2500);

      const killedAt = await crashBroker(mosquitto, sub);
      const full = await waitFor(
        'outbox full and dropping',
        async () => {
          const { body } = await health(agent);
          return body.outbox!.dropped.samples > 0 ? body : undefined;
        },
        60_000,
        250,
      );
      const rssEarly = rssMb(agent.pid);
      const rss: number[] = [rssEarly];
      const dropped: number[] = [full.outbox!.dropped.samples];
      let last = full;
      for (let i = 0; i < 4; i++) {
        await sleep(5000);
        last = (await health(agent)).body;
        rss.push(rssMb(agent.pid));
        dropped.push(last.outbox!.dropped.samples);
        // Bounded on disk as in its accounting: the limit plus at most one flush of new samples.
        expect(last.outbox!.depth.bytes).toBeLessThan(maxBytes * 1.2);
      }
      const rssEnd = rss[rss.length - 1]!;
      const dbFiles = ['', '-wal']
        .map((s) => `${full.outbox!.path}${s}`)
        .filter((f) => existsSync(f))
        .reduce((n, f) => n + statSync(f).size, 0);
      console.log(
        `[outbox full] filled after ${full.ts - killedAt} ms; RSS ${rss.map((r) => r.toFixed(1)).join(' → ')} MB; dropped ${dropped.join(' → ')}; depth ${last.outbox!.depth.bytes} bytes; files ${dbFiles} bytes`,
      );
      expect(agent.alive()).toBe(true);
      // It keeps dropping (so the check below is on a full outbox), and memory does not grow.
      for (let i = 1; i < dropped.length; i++) expect(dropped[i]!).toBeGreaterThan(dropped[i - 1]!);
      expect(rssEnd - rssEarly).toBeLessThan(30);
      // On disk: the database plus its WAL, which SQLite lets grow to ~4 MB between checkpoints
      // (so a small maxBytes costs several times itself on disk, but the total stays bounded).
      expect(dbFiles).toBeLessThan(maxBytes * 8);
      expect(last.reasons.join('\n')).toMatch(/MQTT broker not connected/);

      await restartBroker(cleanup, mosquitto, DURABLE_BROKER);
      const restartedAt = Date.now();
      const reconnectedAt = await connectedAgain(agent);
      // The agent's poll latency up to here bounds the gaps between the samples kept.
      const atReconnect = (await health(agent)).body;
      await waitFor(
        'backlog replayed',
        async () => {
          const { body } = await health(agent);
          return !body.outbox!.replaying && body.outbox!.depth.messages === 0;
        },
        30_000,
      );
      const final = await quiesce(agent, sim);
      const out = final.outbox!;
      expect(out.dropped.samples).toBeGreaterThan(0);
      const a = await settle(sub, asset, final.samples.accepted - out.dropped.samples);
      // Exactly what was not dropped arrived.
      expect(a.unique.length).toBe(final.samples.accepted - out.dropped.samples);
      expect(a.conflicting).toEqual([]);
      expect(a.outOfOrder).toEqual([]);
      // The first replayed samples are the newer ones: the start of the outage is gone.
      const replayed = a.unique.filter((s) => s.tag.hist && s.at >= restartedAt);
      expect(replayed.length).toBeGreaterThan(1000);
      const firstReplayed = replayed[0]!;
      const lostSpanMs = firstReplayed.tag.ts - killedAt;
      console.log(
        `[outbox full] dropped ${out.dropped.samples}, delivered ${a.unique.length} (+ duplicates: ${a.duplicates.identical} identical, ${a.duplicates.replayed} replayed), first replayed sample from ${lostSpanMs} ms into the outage (reconnected ${reconnectedAt - restartedAt} ms after the restart)`,
      );
      expect(lostSpanMs).toBeGreaterThan(5000);
      expect(
        a.unique.filter((s) => s.tag.ts > killedAt + 500 && s.tag.ts < firstReplayed.tag.ts).length,
      ).toBe(0);
      // From there on to the reconnect nothing is missing.
      const kept = a.unique.filter(
        (s) => s.tag.ts >= firstReplayed.tag.ts && s.tag.ts < reconnectedAt,
      );
      expect(largestGap(kept, firstReplayed.tag.ts, reconnectedAt - 300)).toBeLessThan(
        allowedGap(atReconnect),
      );
    },
  );
});
