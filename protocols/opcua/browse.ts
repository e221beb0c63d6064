import {
  AttributeIds,
  BrowseDirection,
  browseAll,
  DataType,
  NodeClass,
  NodeClassMask,
  resolveNodeId,
  type ClientSession,
  type NodeId,
  type ReferenceDescription,
} from 'node-opcua-client';
import type { BrowsePathElement } from './node-ref.js';

const ROOT_FOLDER = 'i=84';
const OBJECTS_FOLDER = 'i=85';

/** Children of a node along hierarchical references (Organizes, HasComponent, HasProperty …). */
export async function browseChildren(
  session: ClientSession,
  nodeId: NodeId | string,
): Promise<ReferenceDescription[]> {
  const result = await browseAll(session, {
    nodeId,
    browseDirection: BrowseDirection.Forward,
    referenceTypeId: 'HierarchicalReferences',
    includeSubtypes: true,
    nodeClassMask: NodeClassMask.Object | NodeClassMask.Variable,
    resultMask: 0x3f,
  });
  if (result.statusCode.isNotGood())
    throw new Error(`browse of ${nodeId.toString()} failed: ${result.statusCode.name}`);
  return result.references ?? [];
}

/**
 * Walks a browse path from the Root folder by names. Listings are cached per parent for one
 * resolution run, so many tags under one folder cost one Browse of that folder.
 */
export async function resolveBrowsePath(
  session: ClientSession,
  elements: readonly BrowsePathElement[],
  cache: Map<string, Promise<ReferenceDescription[]>>,
): Promise<NodeId> {
  let nodeId: NodeId = resolveNodeId(ROOT_FOLDER);
  const walked: string[] = [];
  for (const element of elements) {
    const key = nodeId.toString();
    let children = cache.get(key);
    if (!children) {
      children = browseChildren(session, nodeId);
      cache.set(key, children);
    }
    const match = (await children).find(
      (r) =>
        r.browseName.name === element.name &&
        (element.namespaceIndex === undefined ||
          r.browseName.namespaceIndex === element.namespaceIndex),
    );
    walked.push(element.name);
    if (!match)
      throw new Error(`no node "${element.name}" under /${walked.slice(0, -1).join('/')}`);
    nodeId = match.nodeId;
  }
  return nodeId;
}

export interface BrowsedNode {
  name: string;
  nodeId: string;
  nodeClass: 'Object' | 'Variable';
  /** Browse names from the start node (Objects by default) down to this one. */
  path: string[];
  /** Variables: built-in data type name (Double, Boolean …) and whether the server lets us write. */
  dataType?: string;
  writable?: boolean;
  children: BrowsedNode[];
}

export interface BrowseOptions {
  /** Start here; default the Objects folder. */
  root?: string;
  /** Levels below the root, 1 = its children only. */
  depth: number;
  /** Keep variables whose path or node id contains this (case-insensitive); folders on the way stay. */
  filter?: string;
  /** Stop after this many nodes, so a huge server cannot exhaust memory. */
  maxNodes: number;
}

/** The address space below a node as a tree, variables with their data types and access. */
export async function browseTree(
  session: ClientSession,
  options: BrowseOptions,
): Promise<{ nodes: BrowsedNode[]; truncated: boolean }> {
  let count = 0;
  let truncated = false;
  const variables: BrowsedNode[] = [];
  const visited = new Set<string>();
  const walk = async (nodeId: NodeId, path: string[], level: number): Promise<BrowsedNode[]> => {
    if (level > options.depth) return [];
    const out: BrowsedNode[] = [];
    for (const ref of await browseChildren(session, nodeId)) {
      const id = ref.nodeId.toString();
      // Namespace 0 holds the standard's own nodes (Server diagnostics, Aliases, Locations):
      // never plant data. `visited` guards against reference loops.
      if (ref.nodeId.namespace === 0 || visited.has(id)) continue;
      if (count >= options.maxNodes) {
        truncated = true;
        break;
      }
      visited.add(id);
      count += 1;
      const name = ref.browseName.name ?? id;
      const node: BrowsedNode = {
        name,
        nodeId: id,
        nodeClass: ref.nodeClass === NodeClass.Variable ? 'Variable' : 'Object',
        path: [...path, name],
        children: [],
      };
      if (node.nodeClass === 'Variable') variables.push(node);
      node.children = await walk(ref.nodeId, node.path, level + 1);
      out.push(node);
    }
    return out;
  };
  const root = resolveNodeId(options.root ?? OBJECTS_FOLDER);
  // Paths start at the root's own name, so the default ones are browse paths from Root.
  const rootName = options.root ? await readBrowseName(session, root) : 'Objects';
  const nodes = await walk(root, [rootName], 1);
  await describeVariables(session, variables);
  return { nodes: options.filter ? prune(nodes, options.filter.toLowerCase()) : nodes, truncated };
}

async function readBrowseName(session: ClientSession, nodeId: NodeId): Promise<string> {
  const dv = await session.read({ nodeId, attributeId: AttributeIds.BrowseName });
  return (dv.value.value as { name?: string } | null)?.name ?? nodeId.toString();
}

/** Reads each variable's value (for its built-in type) and user access level, in chunks. */
async function describeVariables(session: ClientSession, variables: BrowsedNode[]): Promise<void> {
  const CHUNK = 500;
  for (let i = 0; i < variables.length; i += CHUNK) {
    const chunk = variables.slice(i, i + CHUNK);
    const results = await session.read(
      chunk.flatMap((v) => [
        { nodeId: v.nodeId, attributeId: AttributeIds.Value },
        { nodeId: v.nodeId, attributeId: AttributeIds.UserAccessLevel },
      ]),
    );
    chunk.forEach((v, j) => {
      const value = results[2 * j]!;
      const access = results[2 * j + 1]!;
      v.dataType = DataType[value.value.dataType] ?? 'Null';
      // Bit 1 of AccessLevel is CurrentWrite.
      v.writable = typeof access.value.value === 'number' && (access.value.value & 2) !== 0;
    });
  }
}

function prune(nodes: BrowsedNode[], filter: string): BrowsedNode[] {
  const out: BrowsedNode[] = [];
  for (const n of nodes) {
    const children = prune(n.children, filter);
    const hit =
      n.nodeClass === 'Variable' &&
      (n.path.join('/').toLowerCase().includes(filter) || n.nodeId.toLowerCase().includes(filter));
    if (hit || children.length > 0) out.push({ ...n, children });
  }
  return out;
}
