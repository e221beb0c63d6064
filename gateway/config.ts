import { z } from 'zod';
import { logConfigSchema } from '../core/logger.js';
import { loadConfigFile } from '../core/config/load.js';
import { brokerSchema } from '../protocols/mqtt/broker.js';

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
      .default(5)
      .describe('Retries of a failed write before it is dropped and counted'),
    maxBufferLines: z
      .int()
      .min(1000)
      .default(200_000)
      .describe('Points held in memory while InfluxDB is unreachable; oldest dropped beyond'),
  })
  .describe('InfluxDB sink');

export const gatewayConfigSchema = z
  .strictObject({
    name: z.string().min(1).default('gateway').describe('Instance name, for logs'),
    mqtt: brokerSchema,
    subscribe: z
      .strictObject({
        site: z.string().default('+').describe('Site to consume, or + for all'),
        shareGroup: z
          .string()
          .regex(/^[^/+#]+$/, 'must be one topic level without wildcards')
          .nullable()
          .default('factorylm-gateway')
          .describe(
            'MQTT shared-subscription group, so several gateways split the load; null to receive everything',
          ),
        qos: z.union([z.literal(0), z.literal(1)]).default(1),
      })
      .prefault({}),
    influx: influxSchema.optional(),
    log: logConfigSchema,
  })
  .describe('FactoryLM gateway: MQTT in, InfluxDB out');

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type InfluxConfig = z.output<typeof influxSchema>;

export function loadGatewayConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GatewayConfig> {
  return loadConfigFile(file, gatewayConfigSchema, env);
}
