import { hostname } from 'node:os';
import { z } from 'zod';
import { loadConfigFile } from '../core/config/load.js';
import { AddressError, AREAS, parseAddress } from '../protocols/modbus/address.js';
import { DATA_TYPES } from '../protocols/modbus/codec.js';
import { brokerSchema } from '../protocols/mqtt/broker.js';
import { topicLevelProblem } from '../protocols/mqtt/topics.js';

const topicLevel = (what: string) =>
  z.string().superRefine((s, ctx) => {
    const problem = topicLevelProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `${what} "${s}" ${problem}` });
  });

export const tagSchema = z
  .strictObject({
    name: topicLevel('tag name').describe('Tag name; the last MQTT topic level'),
    asset: topicLevel('asset')
      .optional()
      .describe("Asset the tag belongs to; default: the device's asset"),
    address: z
      .string()
      .superRefine((s, ctx) => {
        try {
          parseAddress(s);
        } catch (err) {
          if (err instanceof AddressError) ctx.addIssue({ code: 'custom', message: err.message });
          else throw err;
        }
      })
      .describe('Modbus address, 0-based: coil:N, di:N, hr:N, ir:N'),
    type: z
      .enum(DATA_TYPES, { error: () => `must be one of ${DATA_TYPES.join(', ')}` })
      .optional()
      .describe('Data type; default bool for coil/di, uint16 for hr/ir'),
    wordOrder: z
      .enum(['big', 'little'])
      .default('big')
      .describe('32-bit word order: big = high word first (ABCD)'),
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
    writable: z
      .boolean()
      .default(false)
      .describe('Allow writes to this tag (off by default: nothing writes to a PLC unless marked)'),
    description: z.string().optional(),
  })
  .superRefine((tag, ctx) => {
    let area;
    try {
      area = parseAddress(tag.address).area;
    } catch {
      return; // reported on `address` already
    }
    if (tag.type && AREAS[area].bits && tag.type !== 'bool') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `a ${AREAS[area].label} holds one bit; type must be bool, not ${tag.type}`,
      });
    }
    if (tag.writable && !AREAS[area].writable) {
      ctx.addIssue({
        code: 'custom',
        path: ['writable'],
        message: `${tag.address} is a ${AREAS[area].label}, which Modbus cannot write; use a coil or holding register`,
      });
    }
  });

const PROTOCOLS = ['modbus-tcp'] as const;

export const deviceSchema = z
  .strictObject({
    name: topicLevel('device name').describe('Device name, unique on this node'),
    protocol: z
      .enum(PROTOCOLS, {
        error: (iss) =>
          `unknown protocol ${JSON.stringify(iss.input)}; supported: ${PROTOCOLS.join(', ')}`,
      })
      .describe('Protocol driver'),
    host: z.string().min(1).describe('PLC host name or IP address'),
    port: z.int().min(1).max(65535).default(502).describe('TCP port'),
    unitId: z.int().min(0).max(255).default(1).describe('Modbus unit id (slave id)'),
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
    maxGap: z
      .int()
      .min(0)
      .max(124)
      .default(8)
      .describe('Unused registers a read may span to merge two requests'),
    tags: z.array(tagSchema).min(1, 'a device needs at least one tag'),
  })
  .describe('A PLC this node polls');

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
        maxQueue: z
          .int()
          .min(100)
          .default(100_000)
          .describe(
            'Samples held in memory while the broker is unreachable; oldest dropped beyond',
          ),
        maxInflight: z
          .int()
          .min(1)
          .max(65535)
          .default(1000)
          .describe('QoS 1 messages awaiting PUBACK at once'),
      })
      .prefault({})
      .describe('Publishing policy'),
    log: z
      .strictObject({
        level: z
          .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
          .default('info'),
      })
      .prefault({}),
    devices: z.array(deviceSchema).min(1, 'configure at least one device'),
  })
  .superRefine((config, ctx) => {
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
export type DeviceConfig = AgentConfig['devices'][number];
export type TagConfig = DeviceConfig['tags'][number];

export function loadAgentConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  return loadConfigFile(file, agentConfigSchema, env);
}
