import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfigText } from './load.js';
import { fieldsAt, schemaDef, VERIFIED_ZOD } from './zod-introspect.js';

const ZOD = (
  JSON.parse(
    readFileSync(new URL('../../node_modules/zod/package.json', import.meta.url), 'utf8'),
  ) as { version: string }
).version;

const tag = z.strictObject({ name: z.string(), address: z.string(), scale: z.number().default(1) });
const modbus = z.strictObject({ kind: z.literal('modbus'), host: z.string(), tags: z.array(tag) });
const opcua = z.strictObject({ kind: z.literal('opcua'), endpoint: z.string() });
const config = z.strictObject({
  name: z.string(),
  mqtt: z.strictObject({ url: z.string(), qos: z.number().optional() }).optional(),
  devices: z.array(z.discriminatedUnion('kind', [modbus, opcua])),
  influx: z.strictObject({ url: z.string() }).nullable().default(null),
  http: z.union([z.literal(false), z.strictObject({ port: z.number() })]).optional(),
  log: z.strictObject({ level: z.string() }).readonly().optional(),
  piped: z.strictObject({ a: z.string() }).pipe(z.strictObject({ a: z.string() })),
});

describe(`zod ${ZOD} internals (core/config/zod-introspect.ts verified against ${VERIFIED_ZOD})`, () => {
  it('runs on the version the adapter was verified against', () => {
    // An upgrade stops here first: re-read zod's $Zod*Def interfaces, rerun this file, then
    // move VERIFIED_ZOD.
    expect(ZOD, 'zod changed: re-check core/config/zod-introspect.ts').toBe(VERIFIED_ZOD);
  });

  it.each([
    { kind: 'object', schema: tag, type: 'object', has: 'shape' },
    { kind: 'strict object', schema: modbus, type: 'object', has: 'shape' },
    { kind: 'optional', schema: z.string().optional(), type: 'optional', has: 'innerType' },
    { kind: 'nullable', schema: z.string().nullable(), type: 'nullable', has: 'innerType' },
    { kind: 'default', schema: z.number().default(1), type: 'default', has: 'innerType' },
    { kind: 'readonly', schema: tag.readonly(), type: 'readonly', has: 'innerType' },
    { kind: 'array', schema: z.array(tag), type: 'array', has: 'element' },
    { kind: 'union', schema: z.union([tag, opcua]), type: 'union', has: 'options' },
    {
      kind: 'discriminated union',
      schema: z.discriminatedUnion('kind', [modbus, opcua]),
      type: 'union',
      has: 'options',
    },
    { kind: 'pipe', schema: opcua.pipe(opcua), type: 'pipe', has: 'in' },
  ] as const)('schemaDef of $kind: type $type, with $has', ({ schema, type, has }) => {
    const def = schemaDef(schema);
    expect(def.type).toBe(type);
    expect(def[has], `zod's ${type} def has no ${has}`).toBeDefined();
  });

  it.each([
    { path: [], fields: ['name', 'mqtt', 'devices', 'influx', 'http', 'log', 'piped'] },
    { path: ['mqtt'], fields: ['url', 'qos'] },
    { path: ['devices', 0], fields: ['kind', 'host', 'tags', 'endpoint'] },
    { path: ['devices', 2, 'tags', 5], fields: ['name', 'address', 'scale'] },
    { path: ['influx'], fields: ['url'] },
    { path: ['http'], fields: ['port'] },
    { path: ['log'], fields: ['level'] },
    { path: ['piped'], fields: ['a'] },
    { path: ['name'], fields: [] },
    { path: ['nothing', 'here'], fields: [] },
  ])('fieldsAt($path)', ({ path, fields }) => {
    expect(fieldsAt(config, path)).toEqual(fields);
  });

  it('suggests the field a typo meant, through the config loader', () => {
    expect(() =>
      parseConfigText('name: a\ndevices: []\nmqtt: { ulr: x }\n', 'c.yaml', config),
    ).toThrow(/mqtt\.ulr: unknown field; did you mean "url"\?/);
  });

  it('fails loudly when zod keeps the definition elsewhere', () => {
    expect(() => schemaDef({} as z.ZodType)).toThrow(/_zod\.def/);
  });
});
