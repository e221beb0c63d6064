// Specifies a broker that refuses the agent (wrong credentials, a certificate from another CA):
// the agent says why, stays up, retries, and connects once the cause is fixed.
import mqtt from 'mqtt';
import { describe, it } from 'vitest';
import {
  PREFIX,
  cleanupOn,
  broker,
  restartBroker,
  simulator,
  startAgent,
  health,
  sleep,
  agentConfig,
  subscribe,
  makeCertificates,
} from './support/agent-faults.js';
import { waitFor } from './support/wait.js';

describe.concurrent('agent under faults (real agent CLI, Mosquitto and PLC simulator)', () => {
  it(
    'broker refuses the credentials: the agent keeps running, says why, retries with backoff and connects once the broker accepts them',
    {
      timeout: 60_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, {
        users: { agent: 'right-password', watcher: 'watcher-password' },
      });
      const agent = await startAgent(
        cleanup,
        await agentConfig('edge-auth', sim.port, {
          url: mosquitto.url,
          username: 'agent',
          password: 'wrong-password',
        }),
      );
      await agent.running.waitForOutput(/"msg":"MQTT error/);
      const refused = agent.logs().find((l) => /^MQTT error/.test(l.msg))!;
      expect(refused.level).toBeGreaterThanOrEqual(40);
      expect(String(refused.err)).toMatch(/Bad User Name or Password|Not authorized/i);
      expect(refused.msg).toMatch(/credentials/);

      const { http, body } = await health(agent);
      expect(http).toBe(503);
      expect(body.status).not.toBe('ok');
      expect(body.broker.connected).toBe(false);
      expect(body.broker.lastError).toMatch(/Bad User Name or Password|Not authorized/i);
      expect(body.reasons.join('\n')).toMatch(
        /MQTT broker not connected \(Connection refused: (Bad User Name or Password|Not authorized)\)/,
      );

      // Alive after several seconds, the same process, retrying on a backoff rather than in a loop.
      await sleep(6000);
      expect(agent.alive()).toBe(true);
      const attempts = agent.logs().filter((l) => /^MQTT error/.test(l.msg)).length;
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(attempts).toBeLessThanOrEqual(6);
      // The password never reaches the log.
      expect(agent.running.output()).not.toContain('wrong-password');

      // The operator gives the agent's user the password the agent has and restarts the broker
      // (Mosquitto 2.0.11 drops its clients on a SIGHUP reload of a changed password file): the
      // agent gets in by itself, without a restart, and data flows, which also proves the
      // broker's setup sound.
      await mosquitto.kill();
      const fixed = await restartBroker(cleanup, mosquitto, {
        users: { agent: 'wrong-password', watcher: 'watcher-password' },
      });
      const sub = mqtt.connect(fixed.url, {
        username: 'watcher',
        password: 'watcher-password',
        clientId: `agent-faults-auth-${process.pid}`,
      });
      cleanup(() => sub.endAsync(true));
      const seen: string[] = [];
      sub.on('message', (topic) => seen.push(topic));
      await waitFor('watcher connected', () => sub.connected);
      await sub.subscribeAsync(`${PREFIX}/edge-auth/#`, { qos: 1 });
      await waitFor('samples once the broker accepts the agent', () => seen.length > 0, 40_000);
      const { http: okHttp, body: okBody } = await health(agent);
      expect(okBody.broker.connected).toBe(true);
      expect(okHttp).toBe(200);
      expect(agent.pid).toBe(agent.running.child.pid);
    },
  );

  it(
    'broker certificate from another CA: clear error, health reason, process alive; the right CA connects and data flows',
    {
      timeout: 60_000,
    },
    async ({ expect, onTestFinished }) => {
      const cleanup = cleanupOn(onTestFinished);
      const tls = makeCertificates(cleanup);
      const sim = await simulator(cleanup);
      const mosquitto = await broker(cleanup, {
        tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
      });
      expect(mosquitto.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:/);
      const wrong = await startAgent(
        cleanup,
        await agentConfig('edge-tls-wrong', sim.port, {
          url: mosquitto.url,
          tls: { ca: tls.otherCa },
        }),
      );
      const right = await startAgent(
        cleanup,
        await agentConfig('edge-tls-right', sim.port, { url: mosquitto.url, tls: { ca: tls.ca } }),
      );
      const sub = await subscribe(cleanup, mosquitto.url, { ca: tls.ca, id: 'tls' });

      await wrong.running.waitForOutput(/"msg":"MQTT error/);
      const error = wrong.logs().find((l) => /^MQTT error/.test(l.msg))!;
      expect(error.level).toBeGreaterThanOrEqual(40);
      const certProblem = /certificate|self[- ]signed|issuer/i;
      expect(String(error.err)).toMatch(certProblem);
      expect(error.msg).toMatch(/TLS/);

      await waitFor(
        'samples from the agent with the right CA',
        () => sub.samples('edge-tls-right').length > 5,
      );
      await sleep(3000);
      expect(wrong.alive()).toBe(true);
      expect(right.alive()).toBe(true);
      const { http, body } = await health(wrong);
      expect(http).toBe(503);
      expect(body.status).not.toBe('ok');
      expect(body.broker.connected).toBe(false);
      expect(body.broker.lastError).toMatch(certProblem);
      expect(body.reasons.join('\n')).toMatch(
        /MQTT broker not connected \(.*(certificate|issuer)/i,
      );
      expect(sub.samples('edge-tls-wrong')).toEqual([]);
      const good = await health(right);
      expect(good.body.broker.connected).toBe(true);
      expect(good.http).toBe(200);
    },
  );
});
