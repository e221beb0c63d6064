/**
 * The unified-namespace topic scheme of ARCHITECTURE.md:
 *   factorylm/<site>/<area>/<line>/<asset>/<tag>   one tag
 *   factorylm/<site>/<area>/<line>/<asset>         asset batch
 *   factorylm/<site>/_nodes/<node>/…               node status, inventory, writes
 *   factorylm/<site>/_alarms/<asset>/<rule>        alarm state (the gateway's maintenance bridge)
 */
export const ROOT = 'factorylm';
export const NODES = '_nodes';

export interface AssetPath {
  site: string;
  area: string;
  line: string;
  asset: string;
}

export interface TagPath extends AssetPath {
  tag: string;
}

export type ParsedTopic =
  | ({ kind: 'tag' } & TagPath)
  | ({ kind: 'asset' } & AssetPath)
  | { kind: 'node'; site: string; node: string; rest: string[] }
  /** Another `_`-prefixed level (`_alarms`): what gateways publish themselves, not telemetry. */
  | { kind: 'reserved'; site: string; level: string }
  | { kind: 'other' };

/** A name can be one topic level: not empty, no `/`, no wildcards, no NUL, not `_`-prefixed (reserved). */
export function topicLevelProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (/[/+#]/.test(name) || name.includes('\0'))
    return 'must not contain "/", "+", "#" or NUL (it becomes one MQTT topic level)';
  if (name.startsWith('_')) return 'must not start with "_" (reserved for _nodes)';
  if (name.startsWith('$')) return 'must not start with "$" (reserved by MQTT brokers)';
  return undefined;
}

export function tagTopic(p: TagPath): string {
  return `${ROOT}/${p.site}/${p.area}/${p.line}/${p.asset}/${p.tag}`;
}

export function assetTopic(p: AssetPath): string {
  return `${ROOT}/${p.site}/${p.area}/${p.line}/${p.asset}`;
}

export function nodeTopic(site: string, node: string, ...rest: string[]): string {
  return [ROOT, site, NODES, node, ...rest].join('/');
}

/** Every telemetry and node topic of one site (`+` for all sites). */
export function siteFilter(site = '+'): string {
  return `${ROOT}/${site}/#`;
}

export function parseTopic(topic: string): ParsedTopic {
  const parts = topic.split('/');
  if (parts[0] !== ROOT || parts.length < 4) return { kind: 'other' };
  const [, site, second, third] = parts as [string, string, string, string];
  if (second === NODES) return { kind: 'node', site, node: third, rest: parts.slice(4) };
  if (second.startsWith('_')) return { kind: 'reserved', site, level: second };
  if (parts.length === 6) {
    return { kind: 'tag', site, area: second, line: third, asset: parts[4]!, tag: parts[5]! };
  }
  if (parts.length === 5)
    return { kind: 'asset', site, area: second, line: third, asset: parts[4]! };
  return { kind: 'other' };
}
