/**
 * The bare Node floor of bench/opcua.ts (issue 15): the OPC UA workload done by a process that
 * loads nothing but node-opcua-client and mqtt.js (no project code, config schema, outbox or
 * logger). One session, one subscription at 100 ms, the variables monitored in groups of 1,000
 * with the agent's parameters (sampling 0, queue 2, source and server timestamps), and every
 * 100 ms the changed values published as one JSON batch at QoS 1, the agent's asset batch.
 *
 *   node dist/bench/opcua-floor-client.js <endpoint> <brokerUrl> <variables>
 *
 * Prints `floor ready` once every item is monitored, then `COUNTERS <json>` on SIGUSR2.
 */
import mqtt from 'mqtt';
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  type DataValue,
} from 'node-opcua-client';

const [endpoint = '', brokerUrl = '', variablesArg = '10000'] = process.argv.slice(2);
const VARIABLES = Number(variablesArg);
const CHUNK = 1000;
const names = Array.from({ length: VARIABLES }, (_, i) => `Tag${String(i + 1).padStart(5, '0')}`);
const counters = { notifications: 0, messages: 0, samples: 0 };
let changed = new Map<number, DataValue>();

const broker = await mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0 });
const client = OPCUAClient.create({
  endpointMustExist: false,
  securityMode: MessageSecurityMode.None,
  securityPolicy: SecurityPolicy.None,
  connectionStrategy: { maxRetry: 0 },
});
await client.connect(endpoint);
const session = await client.createSession();
const subscription = await session.createSubscription2({
  requestedPublishingInterval: 100,
  requestedMaxKeepAliveCount: 25,
  requestedLifetimeCount: 75,
  maxNotificationsPerPublish: 0,
  publishingEnabled: true,
  priority: 1,
});
for (let i = 0; i < VARIABLES; i += CHUNK) {
  const group = ClientMonitoredItemGroup.create(
    subscription,
    names
      .slice(i, i + CHUNK)
      .map((n) => ({ nodeId: `ns=2;s=Synthetic.${n}`, attributeId: AttributeIds.Value })),
    { samplingInterval: 0, queueSize: 2, discardOldest: true },
    TimestampsToReturn.Both,
  );
  group.on('changed', (_item, dv, index) => {
    counters.notifications += 1;
    changed.set(i + index, dv);
  });
  await new Promise<void>((resolve) => group.once('initialized', () => resolve()));
}

setInterval(() => {
  if (changed.size === 0) return;
  const v: Record<string, unknown> = {};
  for (const [index, dv] of changed) v[names[index]!] = dv.value.value;
  counters.messages += 1;
  counters.samples += changed.size;
  changed = new Map();
  broker.publish('factorylm/bench/opcua/line1/synthetic', JSON.stringify({ ts: Date.now(), v }), {
    qos: 1,
  });
}, 100);

process.on('SIGUSR2', () => {
  const heapUsedMb = Math.round(process.memoryUsage().heapUsed / 1048576);
  console.log(`COUNTERS ${JSON.stringify({ ...counters, heapUsedMb })}`);
});
console.log('floor ready');
