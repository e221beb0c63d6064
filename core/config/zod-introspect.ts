import type { z } from 'zod';

/**
 * The one place that reads a zod schema's structure, to suggest the field a typo meant. zod 4
 * keeps it in the schema's `_zod.def` (its internals; zod's public `.shape` exists only on
 * objects and is lost behind optional, default or union). Read in this version;
 * `zod-introspect.test.ts` checks every kind of schema the configs use and fails when an upgrade
 * changes it. On an upgrade: re-read zod's v4/core/schemas.ts (the `$Zod*Def` interfaces), rerun
 * that test, then move this.
 */
export const VERIFIED_ZOD = '4.6.7';

/** The parts of `_zod.def` read here. */
export interface SchemaDef {
  type: string;
  /** object */
  shape?: Record<string, z.ZodType>;
  /** array */
  element?: z.ZodType;
  /** optional, nullable, default, prefault, readonly, catch, nonoptional */
  innerType?: z.ZodType;
  /** pipe */
  in?: z.ZodType;
  /** union, discriminated union */
  options?: z.ZodType[];
}

/** A schema's definition. Throws when zod keeps it elsewhere. */
export function schemaDef(schema: z.ZodType): SchemaDef {
  const def = (schema as unknown as { _zod?: { def?: SchemaDef } })._zod?.def;
  if (!def || typeof def.type !== 'string')
    throw new Error('zod has no schema._zod.def; re-check core/config/zod-introspect.ts');
  return def;
}

/** The object fields a schema allows at `path`, to suggest the field a typo meant. */
export function fieldsAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  let cur: z.ZodType | undefined = schema;
  let i = 0;
  while (cur) {
    const def = schemaDef(cur);
    if (def.innerType) cur = def.innerType;
    else if (def.in) cur = def.in;
    // A union (device kinds): the fields of every option, so a typo in any of them is matched.
    else if (def.options)
      return [...new Set(def.options.flatMap((o) => fieldsAt(o, path.slice(i))))];
    else if (i === path.length) return def.shape ? Object.keys(def.shape) : [];
    else if (def.element) {
      cur = def.element;
      i += 1;
    } else if (def.shape) cur = def.shape[String(path[i++])];
    else return [];
  }
  return [];
}
