import { hostname } from 'node:os';
import { z } from 'zod';
import { stateFileField } from '../core/config/state-file.js';
import { logConfigSchema } from '../core/logger.js';
import { loadConfigFile } from '../core/config/load.js';
import { errorMessage } from '../core/errors.js';
import { AddressError, AREAS } from '../protocols/modbus/address.js';
import {
  BYTE_ORDERS,
  DATA_TYPE_NAMES,
  isDataTypeName,
  parseDataType,
} from '../protocols/modbus/codec.js';
import { describeTransport, type LineTransport } from '../protocols/modbus/line.js';
import { resolveTag } from '../protocols/modbus/tag-spec.js';
import { brokerSchema } from '../protocols/mqtt/broker.js';
import { topicLevelProblem } from '../protocols/mqtt/topics.js';
import { opcuaDeviceSchema } from './opcua-config.js';

const topicLevel = (what: string) =>
  z.string().superRefine((s, ctx) => {
    const problem = topicLevelProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `${what} "${s}" ${problem}` });
  });

const byteOrder = z.enum(BYTE_ORDERS, { error: () => `must be one of ${BYTE_ORDERS.join(', ')}` });

export const tagSchema = z
  .strictObject({
    name: topicLevel('tag name').describe('Tag name; the last MQTT topic level'),
    asset: topicLevel('asset')
      .optional()
      .describe("Asset the tag belongs to; default: the device's asset"),
    address: z
      .union([z.string(), z.int()])
      .describe(
        'Modbus address: coil:N, di:N, ir:N, hr:N (0-based), hr:N.bit, optionally :type:order (hr:100:float32:CDAB); or classic 1-based 40101',
      ),
    type: z
      .string()
      .superRefine((s, ctx) => {
        try {
          parseDataType(s);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: errorMessage(err) });
        }
      })
      .optional()
      .describe(
        `Data type: ${DATA_TYPE_NAMES}; default bool for coil/di and register bits, uint16 for registers`,
      ),
    byteOrder: byteOrder
      .optional()
      .describe(
        "ABCD (big-endian), DCBA, BADC (byte swap) or CDAB (word swap); default: the device's",
      ),
    scale: z
      .number()
      .refine(Number.isFinite, 'must be a finite number')
      .default(1)
      .describe('engineering = raw × scale + offset'),
    offset: z.number().default(0).describe('engineering = raw × scale + offset'),
    unit: z.string().optional().describe('Engineering unit, e.g. rpm, A, °C'),
    deadband: z
      .number()
      .min(0)
      .default(0)
      .describe(
        'Publish only when the value moves more than this (engineering units); 0 = any change',
      ),
    deadbandPercent: z
      .number()
      .min(0)
      .max(100)
      .default(0)
      .describe(
        'Publish only when the value moves more than this percent of the last published value; 0 = off',
      ),
    minIntervalMs: z
      .int()
      .min(0)
      .optional()
      .describe(
        'Publish a value change no more often than this, ms (quality changes always go out); default: publish.minIntervalMs',
      ),
    maxSilenceMs: z
      .int()
      .min(1000)
      .optional()
      .describe('Re-publish an unchanged value after this long, ms; default: publish.heartbeatMs'),
    writable: z
      .boolean()
      .default(false)
      .describe('Allow writes to this tag (off by default: nothing writes to a PLC unless marked)'),
    min: z.number().optional().describe('Smallest value a write may set (engineering units)'),
    max: z.number().optional().describe('Largest value a write may set (engineering units)'),
    description: z.string().optional(),
  })
  .describe('One value read from the device');

const PROTOCOLS = ['modbus-tcp', 'modbus-rtu', 'modbus-rtu-over-tcp'] as const;

export const serialSchema = z
  .strictObject({
    path: z.string().min(1).describe('Serial device, e.g. /dev/ttyUSB0'),
    baudRate: z.int().positive().default(9600).describe('Bits per second'),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  })
  .describe('Serial line settings for modbus-rtu');

const modbusDeviceSchema = z
  .strictObject({
    name: topicLevel('device name').describe('Device name, unique on this node'),
    protocol: z
      .enum(PROTOCOLS, {
        error: (iss) =>
          `unknown protocol ${JSON.stringify(iss.input)}; supported: ${PROTOCOLS.join(', ')}`,
      })
      .describe('modbus-tcp, modbus-rtu (serial) or modbus-rtu-over-tcp (serial gateway)'),
    host: z
      .string()
      .min(1)
      .optional()
      .describe('PLC or gateway host (modbus-tcp, modbus-rtu-over-tcp)'),
    port: z.int().min(1).max(65535).default(502).describe('TCP port'),
    serial: serialSchema.optional(),
    unitId: z
      .int()
      .min(0)
      .max(255)
      .default(1)
      .describe('Modbus unit id (slave id); devices on one line differ by it'),
    byteOrder: byteOrder.default('ABCD').describe('Default byte order of multi-byte values'),
    publishMode: z
      .enum(['tag', 'asset'])
      .optional()
      .describe("Override publish.mode for this device's tags"),
    asset: topicLevel('asset').describe("Default asset for this device's tags"),
    pollIntervalMs: z
      .int()
      .min(10, 'must be at least 10 ms')
      .default(1000)
      .describe('Poll interval, ms'),
    timeoutMs: z
      .int()
      .min(10, 'must be at least 10 ms')
      .default(1000)
      .describe('Response timeout per request, ms'),
    retries: z
      .int()
      .min(0)
      .max(5)
      .default(1)
      .describe('Extra attempts of a request that timed out'),
    interRequestDelayMs: z
      .int()
      .min(0)
      .max(10_000)
      .default(0)
      .describe('Pause between requests on the line, for slow devices, ms'),
    maxInflight: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe('Requests in flight per TCP connection, where the device allows (RTU: always 1)'),
    maxGap: z
      .int()
      .min(0)
      .max(124)
      .default(8)
      .describe('Unused registers a read may span to merge two requests'),
    maxRegistersPerRead: z
      .int()
      .min(1)
      .max(125)
      .default(125)
      .describe('Device limit on registers per read'),
    maxBitsPerRead: z
      .int()
      .min(1)
      .max(2000)
      .default(2000)
      .describe('Device limit on coils/inputs per read'),
    tags: z.array(tagSchema).min(1, 'a device needs at least one tag'),
  })
  .superRefine((device, ctx) => {
    if (device.protocol === 'modbus-rtu' && !device.serial) {
      ctx.addIssue({
        code: 'custom',
        path: ['serial'],
        message: 'modbus-rtu needs serial: { path: /dev/ttyUSB0, baudRate: 9600, … }',
      });
    }
    if (device.protocol !== 'modbus-rtu' && !device.host) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `${device.protocol} needs host: the PLC's IP address or name`,
      });
    }
    device.tags.forEach((tag, i) => {
      let spec;
      try {
        spec = resolveTag(tag.name, tag, device.byteOrder);
      } catch (err) {
        // An unknown type name is already reported on the type field itself.
        if (
          err instanceof AddressError &&
          err.field === 'type' &&
          tag.type !== undefined &&
          !isDataTypeName(tag.type)
        )
          return;
        const field = err instanceof AddressError ? err.field : 'address';
        ctx.addIssue({ code: 'custom', path: ['tags', i, field], message: errorMessage(err) });
        return;
      }
      const area = AREAS[spec.address.area];
      if (tag.writable && !area.writable) {
        ctx.addIssue({
          code: 'custom',
          path: ['tags', i, 'writable'],
          message: `${tag.address} is a ${area.label}, which Modbus cannot write; use a coil or holding register`,
        });
      } else if (tag.writable && spec.address.bit !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tags', i, 'writable'],
          message: `${tag.address} is one bit of a register; writing it would race the PLC (read-modify-write), so it cannot be writable`,
        });
      }
    });
  })
  .describe('A PLC this node polls');

const DEVICE_PROTOCOLS = [...PROTOCOLS, 'opcua'];

export const deviceSchema = z.discriminatedUnion(
  'protocol',
  [modbusDeviceSchema, opcuaDeviceSchema(tagSchema, topicLevel)],
  {
    error: (iss) =>
      iss.code === 'invalid_union' && iss.note === 'No matching discriminator'
        ? `unknown protocol ${JSON.stringify((iss.input as { protocol?: unknown } | undefined)?.protocol)}; supported: ${DEVICE_PROTOCOLS.join(', ')}`
        : undefined,
  },
);

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
    const seen = new Map<string, number>();
    const tags = new Map<string, string>();
    const lines = new Map<string, { index: number; serial: string; unitIds: Set<number> }>();
    config.devices.forEach((d, i) => {
      // Modbus devices on one line share its connection; OPC UA devices have no line.
      if (d.protocol !== 'opcua') {
        const line = describeTransport(lineTransport(d));
        const serial = JSON.stringify(d.serial ?? null);
        const shared = lines.get(line);
        if (!shared) lines.set(line, { index: i, serial, unitIds: new Set([d.unitId]) });
        else {
          if (shared.serial !== serial) {
            ctx.addIssue({
              code: 'custom',
              path: ['devices', i, 'serial'],
              message: `devices on one serial line need the same settings as devices[${shared.index}]`,
            });
          }
          if (shared.unitIds.has(d.unitId)) {
            ctx.addIssue({
              code: 'custom',
              path: ['devices', i, 'unitId'],
              message: `unit id ${d.unitId} is already used on ${line} by devices[${shared.index}] or another device`,
            });
          }
          shared.unitIds.add(d.unitId);
        }
      }
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
export type DeviceConfig = AgentConfig['devices'][number];
export type TagConfig = DeviceConfig['tags'][number];
export type OpcuaDeviceConfig = Extract<DeviceConfig, { protocol: 'opcua' }>;
export type ModbusDeviceConfig = Exclude<DeviceConfig, OpcuaDeviceConfig>;

/** The connection a device's requests travel on; devices with the same one share it. */
export function lineTransport(d: DeviceConfig): LineTransport {
  if (d.protocol === 'opcua')
    throw new Error(`${d.name} is an OPC UA device, not on a Modbus line`);
  if (d.protocol === 'modbus-rtu') {
    const s = d.serial!;
    return {
      kind: 'rtu',
      path: s.path,
      baudRate: s.baudRate,
      parity: s.parity,
      dataBits: s.dataBits,
      stopBits: s.stopBits,
    };
  }
  return {
    kind: d.protocol === 'modbus-tcp' ? 'tcp' : 'rtu-over-tcp',
    host: d.host!,
    port: d.port,
  };
}

export function loadAgentConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  return loadConfigFile(file, agentConfigSchema, env);
}
