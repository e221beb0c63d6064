import { z } from 'zod';
import { stateFileField } from '../core/config/state-file.js';
import { logConfigSchema } from '../core/logger.js';
import { loadConfigFile } from '../core/config/load.js';
import { maintenanceConfigSchema } from '../maintenance/config.js';
import { brokerSchema } from '../protocols/mqtt/broker.js';
import { embeddedBrokerSchema } from './broker-config.js';

export const influxSchema = z
  .strictObject({
    api: z
      .enum(['v2', 'v1'])
      .default('v2')
      .describe(
        'v2: /api/v2/write with token (InfluxDB 2.x, VictoriaMetrics); v1: /write with database (InfluxDB 1.x)',
      ),
    url: z
      .url({ error: 'must be a URL such as http://127.0.0.1:8086' })
      .describe('InfluxDB base URL (env INFLUXDB_URL)'),
    token: z.string().optional().describe('v2 API token (env INFLUXDB_TOKEN)'),
    org: z.string().default('factorylm').describe('v2 organisation (env INFLUXDB_ORG)'),
    bucket: z.string().default('sensors').describe('v2 bucket (env INFLUXDB_BUCKET)'),
    database: z.string().default('sensors').describe('v1 database'),
    retentionPolicy: z
      .string()
      .optional()
      .describe('v1 retention policy; default: the database default'),
    username: z.string().optional().describe('v1 user'),
    password: z
      .string()
      .optional()
      .describe('v1 password; write ${ENV_NAME} to keep it out of the file'),
    batchSize: z.int().min(1).default(5000).describe('Points per write request'),
    flushIntervalMs: z
      .int()
      .min(10)
      .default(1000)
      .describe('Longest a point waits before its batch is sent, ms'),
    maxRetries: z
      .int()
      .min(0)
      .default(3)
      .describe(
        'Retries of a failed write (jittered backoff from 250 ms) before its batch goes to the spool',
      ),
    legacyRegisters: z
      .boolean()
      .default(false)
      .describe(
        'Also write every sample as the old services did, for their queries: measurement plc_registers, tags register_name, register_addr (from the node manifest) and asset, field value',
      ),
    maxBufferLines: z
      .int()
      .min(1000)
      .default(200_000)
      .describe(
        'Points held in memory until they are written or spooled; beyond, the oldest batches go to the spool at once. With QoS 1 the gateway stops reading from the broker well before (at 4 x batchSize)',
      ),
    timeoutMs: z
      .int()
      .min(100)
      .default(10_000)
      .describe('Longest wait for one write request, ms; a timeout counts as a failed write'),
  })
  .describe('InfluxDB sink');

export const spoolSchema = z
  .strictObject({
    path: stateFileField(
      'holding batches while InfluxDB is down',
      'spool-<name>.db',
      '; :memory: is lost on restart',
    ),
    maxBytes: z
      .int()
      .min(1_000_000)
      .default(1024 * 1024 * 1024)
      .describe(
        'Disk the spool may use, bytes; beyond it the oldest points are dropped and counted',
      ),
    maxAgeMs: z
      .int()
      .min(60_000)
      .default(7 * 24 * 3600 * 1000)
      .describe('Points spooled longer ago than this are dropped and counted, ms'),
    drainRatePerSec: z
      .int()
      .min(100)
      .default(200_000)
      .describe(
        'Points per second written back from the spool once InfluxDB answers, beside live data',
      ),
    retryMaxMs: z
      .int()
      .min(100)
      .max(600_000)
      .default(30_000)
      .describe(
        'Longest wait between attempts to reach InfluxDB while it is down (jittered backoff from 500 ms), ms',
      ),
  })
  .prefault({})
  .describe(
    'Durable spool: batches InfluxDB does not take are committed here before their MQTT messages are acknowledged, and written back in order when it returns',
  );

export const httpSchema = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address to listen on; 0.0.0.0 exposes it to the network (set a token then)'),
    port: z
      .int()
      .min(0)
      .max(65_535)
      .default(8080)
      .describe('TCP port of /health, /metrics and the live page; 0 picks a free port'),
    token: z
      .string()
      .min(16, 'must be at least 16 characters')
      .optional()
      .describe(
        'Bearer token every request must carry (the live page takes it as ?token=); write ${ENV_NAME} to keep it out of the file',
      ),
    tls: z
      .strictObject({
        cert: z.string().min(1).describe('PEM certificate file'),
        key: z.string().min(1).describe('PEM private key file'),
      })
      .optional()
      .describe('Serve HTTPS with these files'),
    page: z.boolean().default(true).describe('Serve the live page at / (and its event stream)'),
  })
  .describe('HTTP endpoint: GET /health, GET /metrics (Prometheus) and the live page');

export const twinSchema = z
  .strictObject({
    path: stateFileField('of the inventory reports', 'twin-<name>.db'),
    historyPerNode: z
      .int()
      .min(1)
      .default(30)
      .describe('Reports kept per node, newest first; older ones are deleted'),
    fleet: z
      .string()
      .optional()
      .describe(
        'Desired state (fleet.yaml) that drift is measured against; see deploy/examples/fleet.yaml',
      ),
    forkThreshold: z
      .number()
      .gt(0)
      .max(100)
      .default(60)
      .describe('A folder sharing at least this percentage of its files with another is a fork'),
  })
  .describe(
    'Fleet twin: keep every node inventory (factorylm/<site>/_nodes/<node>/inventory) and serve the audit at /api/twin and the page at /twin',
  );

export const gatewayConfigSchema = z
  .strictObject({
    name: z.string().min(1).default('gateway').describe('Instance name, for logs'),
    // Optional with broker.embedded, whose gateway client connects to the embedded broker itself.
    mqtt: brokerSchema.prefault({ url: 'mqtt://127.0.0.1:1883' }),
    broker: embeddedBrokerSchema.optional(),
    subscribe: z
      .strictObject({
        site: z.string().default('+').describe('Site to consume, or + for all'),
        shareGroup: z
          .string()
          .regex(/^[^/+#]+$/, 'must be one topic level without wildcards')
          .nullable()
          .default(null)
          .describe(
            'MQTT shared-subscription group, so several gateways split the load; null (the default) to receive everything in this instance. Mosquitto 2.0 loses the queued messages of a shared subscription when it restarts, and a shared group turns off the sequence check (see deploy/README.md, "Scaling out")',
          ),
        sequenceGraceMs: z
          .int()
          .min(1000)
          .default(120_000)
          .describe(
            "How long a gap in a node's message sequence may stay open (the outbox backlog replays out of order) before its messages count as missing, ms. Checked only without a shareGroup, where this gateway sees every message",
          ),
        qos: z
          .union([z.literal(0), z.literal(1)])
          .default(1)
          .describe(
            'QoS 1: a message is acknowledged only once its points are in InfluxDB or the spool; QoS 0 can lose messages',
          ),
        persistentSession: z
          .boolean()
          .default(true)
          .describe(
            'Keep the MQTT session (client id factorylm-gateway-<name>) across restarts: the broker keeps messages for this gateway while it is down and redelivers those not yet acknowledged. Give every instance its own name',
          ),
        sessionExpirySec: z
          .int()
          .min(0)
          .default(86_400)
          .describe(
            'MQTT 5: how long the broker keeps the session, and queues messages, for a stopped gateway, s',
          ),
        receiveMaximum: z
          .int()
          .min(1)
          .max(65_535)
          .default(5000)
          .describe(
            'MQTT 5: messages the broker may send before the gateway acknowledges them (it does once their points are durable); bounds memory, and a batch closes at half of it',
          ),
        sparkplug: z
          .strictObject({
            enabled: z.boolean().default(false).describe('Also consume Sparkplug B (spBv1.0/…)'),
            groups: z
              .array(z.string().regex(/^[^/#]+$/, 'must be one topic level, or +'))
              .min(1)
              .default(['+'])
              .describe('Sparkplug group ids to consume (the site of their points), or + for all'),
          })
          .prefault({})
          .describe(
            'Sparkplug B consumer: births on every instance, DDATA through the share group; DDATA without a known birth or alias is counted and answered with a rebirth request (NCMD, at most once per node per 10 s)',
          ),
      })
      .prefault({}),
    influx: influxSchema.optional(),
    spool: spoolSchema,
    http: httpSchema.optional(),
    twin: twinSchema.optional(),
    maintenance: maintenanceConfigSchema.optional(),
    log: logConfigSchema,
  })
  .describe('FactoryLM gateway: MQTT in, InfluxDB out, alarms to work orders');

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type InfluxConfig = z.output<typeof influxSchema>;
export type SpoolConfig = z.output<typeof spoolSchema>;
export type HttpConfig = z.output<typeof httpSchema>;
export type TwinConfig = z.output<typeof twinSchema>;

export function loadGatewayConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GatewayConfig> {
  return loadConfigFile(file, gatewayConfigSchema, env);
}
