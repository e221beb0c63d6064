import { readFile } from 'node:fs/promises';
import { CORE_SCHEMA, load, YAMLException } from 'js-yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { fieldsAt } from './zod-introspect.js';

/** `['devices', 0, 'tags', 3, 'address']` → `devices[0].tags[3].address`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed config, so secrets live
 * in the environment instead of the file. A reference to an unset variable without a default
 * is an issue at that value's path.
 */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') {
    const replaced = replaceRefs(value, env, issues, path);
    // A value that is one reference takes the variable's type: `port: ${PLC_PORT}` is a number,
    // and `password: ${MQTT_PASSWORD:-}` with nothing set means no password at all.
    if (replaced !== value && WHOLE_REF.test(value)) {
      if (replaced === '') return undefined;
      if (/^-?\d+(\.\d+)?$/.test(replaced)) return Number(replaced);
      if (replaced === 'true' || replaced === 'false') return replaced === 'true';
    }
    return ownCopy(replaced);
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, issues, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const next = substituteEnv(v, env, issues, [...path, k]);
      if (next !== undefined) out[k] = next;
    }
    return out;
  }
  return value;
}

/**
 * A string the YAML parser returns can be a slice of the file's text, which keeps the whole text
 * alive as long as the string lives: a heap snapshot of a 10,000-tag agent held its 630 KB config
 * file through the endpoint string. A copy holds only itself (V8 slices strings of 13 chars up).
 */
function ownCopy(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

const WHOLE_REF = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

function replaceRefs(
  value: string,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  path: PropertyKey[],
): string {
  return value.replace(ENV_REF, (whole, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    issues.push({
      path: formatPath(path),
      message: `environment variable ${name} is not set (referenced as ${whole}); export it or use \${${name}:-default}`,
    });
    return whole;
  });
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur = root;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[part];
  }
  return cur;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(
        up + 1,
        row[j - 1]! + 1,
        diag + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1),
      );
      diag = up;
    }
  }
  return row[b.length]!;
}

/** Turns zod issues into path-named messages a plant engineer can act on. */
export function zodIssues(error: z.ZodError, input: unknown, schema?: z.ZodType): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = schema ? fieldsAt(schema, issue.path) : [];
      for (const key of issue.keys) {
        const near = known
          .map((k) => ({ k, d: editDistance(key, k) }))
          .filter((c) => c.d <= Math.max(2, Math.floor(c.k.length / 3)))
          .sort((x, y) => x.d - y.d)[0];
        out.push({
          path: formatPath([...issue.path, key]),
          message: near
            ? `unknown field; did you mean "${near.k}"?`
            : 'unknown field; check its spelling and indentation (`factorylm config schema` lists every field)',
        });
      }
    } else if (issue.code === 'invalid_type') {
      const value = valueAt(input, issue.path);
      out.push({
        path: formatPath(issue.path),
        message:
          value === undefined
            ? `required field is missing (expected ${issue.expected})`
            : `expected ${issue.expected}, got ${JSON.stringify(value)}`,
      });
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return out;
}

/**
 * YAML text to plain values: YAML 1.2 core schema, duplicate keys refused. js-yaml builds the
 * values as it reads; the yaml package's parseDocument held a syntax tree and a document model
 * at once, 41 MiB for a 10,000-tag config (626 KB) and the agent's peak memory (issue 15).
 */
export function parseYaml(text: string, file: string): unknown {
  try {
    return load(text, { schema: CORE_SCHEMA, filename: file });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const { mark } = err;
    throw new ConfigError(file, [
      {
        path: mark ? `line ${mark.line + 1}, column ${mark.column + 1}` : '',
        message: `YAML syntax: ${err.reason}`,
      },
    ]);
  }
}

/** Parses YAML text, substitutes env variables and validates; throws ConfigError listing every issue. */
export function parseConfigText<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  return validateConfig(parseYaml(text, file) ?? {}, file, schema, env);
}

/** Substitutes env variables in a parsed document and validates it; throws ConfigError listing every issue. */
export function validateConfig<S extends z.ZodType>(
  raw: unknown,
  file: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const issues: ConfigIssue[] = [];
  const substituted = substituteEnv(raw, env, issues);
  if (issues.length > 0) throw new ConfigError(file, issues);
  const result = schema.safeParse(substituted);
  if (!result.success) throw new ConfigError(file, zodIssues(result.error, substituted, schema));
  return result.data;
}

export async function loadConfigFile<S extends z.ZodType>(
  file: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      {
        path: '',
        message:
          code === 'ENOENT'
            ? 'file not found; check the path given to --config'
            : `cannot read: ${String(err)}`,
      },
    ]);
  }
  return parseConfigText(text, file, schema, env);
}
