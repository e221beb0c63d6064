import { describe, expect, it } from 'vitest';
import { agentConfigSchema, type AgentConfig } from './config.js';
import { planReload } from './reload-plan.js';

const running: AgentConfig = agentConfigSchema.parse({
  site: 'plant',
  area: 'a',
  line: 'l',
  node: 'edge1',
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  publish: { qos: 1, mode: 'tag' },
  devices: [
    {
      name: 'plc',
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      asset: 'm',
      tags: [{ name: 'speed', address: 'hr:0' }],
    },
  ],
});

const change = (patch: (c: AgentConfig) => void): AgentConfig => {
  const next = structuredClone(running);
  patch(next);
  return next;
};

describe('planReload', () => {
  it.each<[string, (c: AgentConfig) => void, string[]]>([
    ['nothing changed', () => {}, []],
    [
      'a tag added',
      (c) => {
        const d = c.devices[0]!;
        if (d.protocol !== 'opcua') d.tags.push({ ...d.tags[0]!, name: 'x' });
      },
      [],
    ],
    ['poll interval', (c) => (c.devices[0]!.pollIntervalMs = 250), []],
    [
      'publish mode and heartbeat',
      (c) => ((c.publish.mode = 'asset'), (c.publish.heartbeatMs = 5000)),
      [],
    ],
    ['log level', (c) => (c.log.level = 'debug'), []],
    ['writes enabled', (c) => (c.writes.enabled = true), []],
    ['broker url', (c) => (c.mqtt.url = 'mqtt://10.0.0.1:1883'), ['mqtt']],
    ['node name', (c) => (c.node = 'edge2'), ['node']],
    ['site and line', (c) => ((c.site = 'p2'), (c.line = 'l2')), ['site', 'line']],
    ['outbox size', (c) => (c.outbox.maxBytes = 2_000_000), ['outbox']],
    ['health port', (c) => (c.health.port = 9999), ['health']],
    ['sparkplug group', (c) => (c.sparkplug.groupId = 'g'), ['sparkplug']],
    ['inventory', (c) => (c.inventory.enabled = true), ['inventory']],
    ['output', (c) => (c.publish.output = 'sparkplug'), ['publish.output']],
    [
      'qos and inflight',
      (c) => ((c.publish.qos = 0), (c.publish.maxInflight = 10)),
      ['publish.qos', 'publish.maxInflight'],
    ],
  ])('%s', (_what, patch, restartNeeded) => {
    const next = change(patch);
    const plan = planReload(running, next);
    expect(plan.restartNeeded).toEqual(restartNeeded);
    // What needs a restart keeps its running value; everything else is the new config's.
    const expected = structuredClone(next);
    for (const key of restartNeeded) {
      const [top, sub] = key.split('.') as [keyof AgentConfig, string | undefined];
      if (sub)
        (expected.publish as Record<string, unknown>)[sub] = (
          running.publish as Record<string, unknown>
        )[sub];
      else (expected as Record<string, unknown>)[top] = running[top];
    }
    expect(plan.config).toEqual(expected);
  });
});
