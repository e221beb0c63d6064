/** Sparkplug B topics (spBv1.0/<group>/<verb>/<edge node>[/<device>]), without the payload codec. */

export const NAMESPACE = 'spBv1.0';

export type NodeVerb = 'NBIRTH' | 'NDEATH' | 'NDATA' | 'NCMD';
export type DeviceVerb = 'DBIRTH' | 'DDEATH' | 'DDATA' | 'DCMD';

export type SparkplugTopic =
  | { group: string; verb: NodeVerb; edgeNode: string }
  | { group: string; verb: DeviceVerb; edgeNode: string; device: string };

const NODE_VERBS = new Set<string>(['NBIRTH', 'NDEATH', 'NDATA', 'NCMD']);
const DEVICE_VERBS = new Set<string>(['DBIRTH', 'DDEATH', 'DDATA', 'DCMD']);

/** A group, edge node or device id is one topic level: not empty, no `/`, `+`, `#` or NUL. */
export function sparkplugIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty';
  if (/[/+#]/.test(id) || id.includes('\0'))
    return 'must not contain "/", "+", "#" or NUL (Sparkplug ids are single MQTT topic levels)';
  return undefined;
}

export function sparkplugTopic(t: SparkplugTopic): string {
  const node = `${NAMESPACE}/${t.group}/${t.verb}/${t.edgeNode}`;
  return 'device' in t ? `${node}/${t.device}` : node;
}

/** Edge node and device topics; anything else (STATE, other namespaces, wrong depth) is undefined. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  const parts = topic.split('/');
  const [namespace, group, verb, edgeNode, device] = parts;
  if (namespace !== NAMESPACE || !group || !verb || !edgeNode) return undefined;
  if (parts.length === 4 && NODE_VERBS.has(verb))
    return { group, verb: verb as NodeVerb, edgeNode };
  if (parts.length === 5 && device && DEVICE_VERBS.has(verb))
    return { group, verb: verb as DeviceVerb, edgeNode, device };
  return undefined;
}

/** What an edge node subscribes to: its own NCMD, and DCMD for any of its devices. */
export function commandFilters(group: string, edgeNode: string): [string, string] {
  return [
    sparkplugTopic({ group, verb: 'NCMD', edgeNode }),
    sparkplugTopic({ group, verb: 'DCMD', edgeNode, device: '+' }),
  ];
}
