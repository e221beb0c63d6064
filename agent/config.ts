import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { z } from 'zod';
import { stateFileField } from '../core/config/state-file.js';
import { logConfigSchema } from '../core/logger.js';
import { loadConfigFile } from '../core/config/load.js';
import { stateFile } from '../core/state-dir.js';
import type { ProtocolDriver } from '../protocols/driver.js';
import type { ModbusDeviceConfig } from '../protocols/modbus/config.js';
import { brokerSchema } from '../protocols/mqtt/broker.js';
import type { OpcuaDeviceConfig } from '../protocols/opcua/config.js';
import { deviceSchemas, drivers, PROTOCOLS, type DeviceConfig } from '../protocols/registry.js';
import { topicLevel } from '../protocols/tag-fields.js';

const deviceSchema = z.discriminatedUnion('protocol', deviceSchemas, {
  error: (iss) =>
    iss.code === 'invalid_union' && iss.note === 'No matching discriminator'
      ? `unknown protocol ${JSON.stringify((iss.input as { protocol?: unknown } | undefined)?.protocol)}; supported: ${PROTOCOLS.join(', ')}`
      : undefined,
});

export const agentConfigSchema = z
  .strictObject({
    site: topicLevel('site').describe('Site (plant) name; second MQTT topic level'),
    area: topicLevel('area').describe('Area within the site'),
    line: topicLevel('line').describe('Production line'),
    node: topicLevel('node')
      .default(hostname().replace(/[^A-Za-z0-9_.-]/g, '-'))
      .describe("This edge node's name; default: host name"),
    mqtt: brokerSchema,
    publish: z
      .strictObject({
        qos: z
          .union([z.literal(0), z.literal(1)])
          .default(1)
          .describe('MQTT QoS for tag messages'),
        heartbeatMs: z
          .int()
          .min(1000)
          .default(60_000)
          .describe('Re-publish an unchanged tag after this long, ms'),
        minIntervalMs: z
          .int()
          .min(0)
          .default(0)
          .describe('Publish a value change no more often than this per tag, ms; 0 = every change'),
        maxInflight: z
          .int()
          .min(1)
          .max(65535)
          .default(1000)
          .describe('QoS 1 messages awaiting PUBACK at once'),
        mode: z
          .enum(['tag', 'asset'])
          .default('tag')
          .describe(
            'tag: one message per tag topic; asset: one message per asset per cycle with the changed tags (high tag rates)',
          ),
        output: z
          .enum(['json', 'sparkplug'])
          .default('json')
          .describe(
            'json: the unified namespace of factorylm/…; sparkplug: Sparkplug B on spBv1.0/…',
          ),
      })
      .prefault({})
      .describe('Publishing policy'),
    outbox: z
      .strictObject({
        path: stateFileField('of the durable outbox', 'outbox-<node>.db'),
        maxBytes: z
          .int()
          .min(1_000_000)
          .default(512 * 1024 * 1024)
          .describe('Disk the backlog may use, bytes; beyond it the oldest samples are dropped'),
        maxAgeMs: z
          .int()
          .min(60_000)
          .default(7 * 24 * 3600 * 1000)
          .describe('Samples older than this are dropped from the backlog, ms'),
        flushIntervalMs: z
          .int()
          .min(10)
          .max(10_000)
          .default(200)
          .describe(
            'Unacknowledged samples are committed and fsynced this often, ms: at most this much is lost on power loss or kill -9',
          ),
        replayRatePerSec: z
          .int()
          .min(1)
          .default(2000)
          .describe('Backlog messages replayed per second after an outage, beside live data'),
        maxMemoryMessages: z
          .int()
          .min(100)
          .default(100_000)
          .describe(
            'Messages held in memory when the disk cannot take them; oldest dropped beyond',
          ),
      })
      .prefault({})
      .describe('Durable store-and-forward queue between the PLC polls and the broker'),
    health: z
      .strictObject({
        port: z
          .int()
          .min(0)
          .max(65535)
          .default(9102)
          .describe('Port of GET /health and GET /metrics; 0 = off'),
        host: z.string().default('127.0.0.1').describe('Address to listen on; 0.0.0.0 for all'),
        token: z
          .string()
          .min(16, 'use at least 16 characters')
          .optional()
          .describe('Bearer token required by the endpoints; write ${ENV_NAME}'),
        tls: z
          .strictObject({
            cert: z.string().describe('PEM certificate file'),
            key: z.string().describe('PEM key file'),
          })
          .optional()
          .describe('Serve HTTPS'),
        publishIntervalMs: z
          .int()
          .min(0)
          .default(10_000)
          .describe(
            'Publish health to factorylm/<site>/_nodes/<node>/health this often, ms; 0 = off',
          ),
        maxEventLoopLagMs: z
          .int()
          .min(10)
          .default(500)
          .describe('Event-loop delay (p99 over a minute) above which health reports degraded'),
        maxRssMb: z
          .int()
          .min(32)
          .default(400)
          .describe('Resident memory above which health reports degraded'),
      })
      .prefault({})
      .describe('Health and Prometheus metrics endpoints'),
    writes: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            'Accept write requests on factorylm/<site>/_nodes/<node>/write/<asset>/<tag> for tags marked writable',
          ),
      })
      .prefault({})
      .describe('Writes to PLCs from MQTT'),
    sparkplug: z
      .strictObject({
        groupId: z.string().optional().describe('Sparkplug group id; default: the site'),
      })
      .prefault({})
      .describe('Sparkplug B settings (publish.output: sparkplug)'),
    inventory: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            'Scan this node (projects, services, Docker) and publish the report retained on factorylm/<site>/_nodes/<node>/inventory',
          ),
        roots: z
          .array(z.string().startsWith('/', 'must be an absolute path'))
          .default(['/opt', '/srv'])
          .describe('Folders to scan; missing ones are skipped'),
        intervalHours: z
          .number()
          .min(0.01)
          .default(24)
          .describe('Scan and publish again this often, hours (and once at start)'),
        maxFileMb: z
          .number()
          .positive()
          .default(16)
          .describe('Files larger than this are listed with their size, never read, MiB'),
        ignore: z
          .array(z.string())
          .default([])
          .describe('Extra ignore patterns (.factorylmignore syntax) for every root'),
        cacheFile: z
          .string()
          .optional()
          .describe(
            'Hash cache (SQLite) so unchanged files are not read again; default inventory-cache.db in $STATE_DIRECTORY or ~/.cache/factorylm',
          ),
        unitDirs: z
          .array(z.string())
          .optional()
          .describe('Folders of systemd unit files; default /etc/systemd/system'),
        dockerSocket: z
          .string()
          .optional()
          .describe('Docker Engine socket; default /var/run/docker.sock (absent = no Docker)'),
      })
      .prefault({})
      .describe('Node inventory for the fleet twin (factorylm audit)'),
    log: logConfigSchema,
    devices: z.array(deviceSchema).min(1, 'configure at least one device'),
  })
  .superRefine((config, ctx) => {
    for (const driver of drivers) {
      const own = config.devices.flatMap((device, index) =>
        driver.protocols.includes(device.protocol) ? [{ index, device }] : [],
      );
      // Each driver sees only devices of its own protocols, which its schema parsed.
      (driver as ProtocolDriver).checkDevices?.(own, (index, path, message) =>
        ctx.addIssue({ code: 'custom', path: ['devices', index, ...path], message }),
      );
    }
    const seen = new Map<string, number>();
    const tags = new Map<string, string>();
    config.devices.forEach((d, i) => {
      const first = seen.get(d.name);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'name'],
          message: `duplicate device name "${d.name}" (first at devices[${first}])`,
        });
      else seen.set(d.name, i);
      d.tags.forEach((tag, j) => {
        // Two tags on one topic would overwrite each other's values downstream.
        const key = `${tag.asset ?? d.asset}/${tag.name}`;
        const where = `devices[${i}].tags[${j}]`;
        const firstTag = tags.get(key);
        if (firstTag !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'tags', j, 'name'],
            message: `duplicate tag "${key}" (first at ${firstTag}); asset/name must be unique on a node`,
          });
        } else tags.set(key, where);
      });
    });
  })
  .describe('FactoryLM agent: one edge node, its broker and the PLCs it polls');

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type { DeviceConfig };
export type TagConfig = DeviceConfig['tags'][number];
export type { ModbusDeviceConfig, OpcuaDeviceConfig };

/** The outbox file: outbox.path, else outbox-<node>.db under systemd's StateDirectory or here. */
export function outboxPath(config: AgentConfig): string {
  return config.outbox.path ?? stateFile(`outbox-${config.node}.db`);
}

/** Where drivers keep their own state (OPC UA certificates): beside the outbox. */
export function agentStateDir(config: AgentConfig): string {
  return dirname(outboxPath(config));
}

export function loadAgentConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  return loadConfigFile(file, agentConfigSchema, env);
}
