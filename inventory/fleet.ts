import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { loadConfigFile, parseConfigText } from '../core/config/load.js';

const want = {
  path: z.string().startsWith('/').optional().describe('Folder it must be in on the node'),
  version: z.string().optional().describe('Version its manifest must declare'),
  commit: z
    .string()
    .regex(/^[0-9a-f]{4,40}$/, 'must be a git commit id (4 to 40 hex digits)')
    .optional()
    .describe('Git HEAD it must be at (a prefix is enough)'),
  service: z.string().optional().describe('systemd unit or container that must be running it'),
};

const nodeProjectSchema = z.union([
  z.string().min(1).describe('Project name, with the desired state from projects:'),
  z.strictObject({ project: z.string().min(1), ...want }),
]);

/**
 * The desired state of a fleet: which project, at which version or commit, runs on which node.
 * `factorylm audit --fleet fleet.yaml` reports every difference as drift.
 */
export const fleetSchema = z
  .strictObject({
    projects: z
      .record(z.string(), z.strictObject(want).prefault({}))
      .default({})
      .describe('Desired state per project name, for every node that lists it'),
    nodes: z
      .record(z.string(), z.array(nodeProjectSchema))
      .describe('Projects each node must have; per-node fields override projects:'),
  })
  .describe('Fleet desired state');

export type Fleet = z.output<typeof fleetSchema>;

/** One project a node must have, with projects: defaults and the node's overrides merged. */
export interface Desired {
  node: string;
  project: string;
  path?: string;
  version?: string;
  commit?: string;
  service?: string;
}

export function desiredState(fleet: Fleet): Desired[] {
  const out: Desired[] = [];
  for (const [node, list] of Object.entries(fleet.nodes)) {
    for (const item of list) {
      const own = typeof item === 'string' ? { project: item } : item;
      const defaults = fleet.projects[own.project] ?? {};
      const merged: Desired = { ...defaults, ...own, node };
      // A node's field left out must not hide the project's default with an explicit undefined.
      for (const k of ['path', 'version', 'commit', 'service'] as const)
        merged[k] = own[k] ?? defaults[k];
      out.push(merged);
    }
  }
  return out;
}

/** Reads and validates a fleet.yaml; `referencedBy` (`--fleet`, `twin.fleet`) names it in errors. */
export async function loadFleet(file: string, referencedBy = '--fleet'): Promise<Fleet> {
  if (!existsSync(file))
    throw new ConfigError(file, [{ path: '', message: `fleet file not found (${referencedBy})` }]);
  return loadConfigFile(file, fleetSchema, process.env);
}

export function parseFleet(text: string, file = 'fleet.yaml'): Fleet {
  return parseConfigText(text, file, fleetSchema, process.env);
}
