import { stringify } from 'yaml';
import type { BrowsedNode } from './browse.js';

/** One variable as a tag of the agent config's `devices[].tags`. */
export interface TagEntry {
  name: string;
  asset: string;
  node: string;
  /** Omitted when the browsed value's type is not one a tag can carry. */
  type?: 'number' | 'boolean' | 'string';
  description: string;
}

/** Built-in OPC UA types as tag value types. */
function valueType(dataType: string | undefined): TagEntry['type'] {
  if (dataType === 'Boolean') return 'boolean';
  if (dataType === 'String' || dataType === 'LocalizedText') return 'string';
  if (dataType !== undefined && /^(S?Byte|U?Int(16|32|64)|Float|Double|DateTime)$/.test(dataType))
    return 'number';
  return undefined;
}

/** A topic level may hold letters, digits, `_`, `.`, `-`; anything else becomes `_`. */
export function topicSafe(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');
  return safe === '' ? 'unnamed' : safe;
}

/**
 * Every variable under the browsed tree, named after itself and grouped by its parent object as
 * the asset (`Plant/Line1/Conveyor/MotorSpeed` → asset Conveyor, tag MotorSpeed). A variable
 * inside a variable (a property such as EURange) is left out: it is metadata, not a reading.
 * Names that collide within an asset get their parent's name prefixed, then a counter.
 */
export function tagEntries(nodes: readonly BrowsedNode[], defaultAsset: string): TagEntry[] {
  const out: TagEntry[] = [];
  const taken = new Set<string>();
  const visit = (node: BrowsedNode, parents: BrowsedNode[]) => {
    if (node.nodeClass === 'Variable') {
      const parent = parents.at(-1);
      const asset = topicSafe(parent?.name ?? defaultAsset);
      let name = topicSafe(node.name);
      if (taken.has(`${asset}/${name}`) && parents.length >= 2)
        name = `${topicSafe(parents.at(-2)!.name)}_${name}`;
      for (let i = 2; taken.has(`${asset}/${name}`); i++) name = `${topicSafe(node.name)}_${i}`;
      taken.add(`${asset}/${name}`);
      const type = valueType(node.dataType);
      out.push({
        name,
        asset,
        node: node.nodeId,
        ...(type ? { type } : {}),
        description: `/${node.path.join('/')} (${node.dataType ?? 'unknown type'}${node.writable ? ', writable on the server' : ''})`,
      });
      return;
    }
    for (const child of node.children) visit(child, [...parents, node]);
  };
  for (const n of nodes) visit(n, []);
  return out;
}

/** An agent `devices:` entry for the server, ready to paste into a config; writes stay off. */
export function deviceYaml(
  endpoint: string,
  deviceName: string,
  entries: readonly TagEntry[],
): string {
  const header = `# ${entries.length} variables browsed from ${endpoint}. Tags are read-only until you set\n# writable: true on each one that may be written (and writes.enabled on the agent).\n`;
  return (
    header +
    stringify({
      devices: [
        {
          name: deviceName,
          protocol: 'opcua',
          endpoint,
          securityMode: 'None',
          securityPolicy: 'None',
          asset: entries[0]?.asset ?? topicSafe(deviceName),
          tags: entries.map((e) => ({
            name: e.name,
            asset: e.asset,
            node: e.node,
            ...(e.type ? { type: e.type } : {}),
            description: e.description,
          })),
        },
      ],
    })
  );
}
