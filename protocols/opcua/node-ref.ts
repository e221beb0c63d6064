/**
 * How a tag names its OPC UA node: a node id (`ns=2;s=Line1.Motor.Speed`, `ns=3;i=1001`,
 * `nsu=urn:x;s=Speed`) or a browse path from the Root folder (`/Objects/Plant/Line1/Speed`,
 * elements optionally qualified by namespace index: `/Objects/2:Plant/2:Line1`). Pure parsing.
 */

export interface BrowsePathElement {
  /** Undefined: match the name in any namespace (first hit in browse order). */
  namespaceIndex?: number;
  name: string;
}

export type NodeRef =
  { kind: 'nodeId'; nodeId: string } | { kind: 'browsePath'; elements: BrowsePathElement[] };

export class NodeRefError extends Error {
  override name = 'NodeRefError';
}

const IDENTIFIER =
  /^(?:i=\d{1,10}|s=.+|g=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|b=[A-Za-z0-9+/]+={0,2})$/s;

/** Parses a node id the way OPC UA writes it; throws NodeRefError saying what is wrong. */
export function parseNodeId(text: string): string {
  const trimmed = text.trim();
  let rest = trimmed;
  const ns = /^ns=(\d+);/.exec(rest);
  const nsu = /^nsu=([^;]+);/.exec(rest);
  if (ns) {
    if (Number(ns[1]) > 65535)
      throw new NodeRefError(`namespace index in "${text}" is above 65535`);
    rest = rest.slice(ns[0].length);
  } else if (nsu) rest = rest.slice(nsu[0].length);
  if (!IDENTIFIER.test(rest)) {
    throw new NodeRefError(
      `"${text}" is not a node id; write ns=<index>;i=<number>, ns=<index>;s=<text>, ns=<index>;g=<guid> or ns=<index>;b=<base64>`,
    );
  }
  if (rest.startsWith('i=') && Number(rest.slice(2)) > 0xffffffff)
    throw new NodeRefError(`numeric identifier in "${text}" is above 4294967295`);
  return trimmed;
}

/**
 * Parses `/Objects/Plant/Line1/Speed` (from the Root folder; the leading `/` is optional) into
 * its elements. `2:Plant` pins the namespace index; `\/` and `\:` escape those characters.
 */
export function parseBrowsePath(text: string): BrowsePathElement[] {
  const parts = splitEscaped(text.trim().replace(/^\//, ''), '/');
  if (parts.length === 0 || parts.some((p) => p.trim() === ''))
    throw new NodeRefError(
      `"${text}" is not a browse path; write /Objects/Folder/Variable (empty elements are not allowed)`,
    );
  return parts.map((part) => {
    const m = /^(\d+):(.+)$/s.exec(part);
    if (!m) return { name: unescape(part) };
    const namespaceIndex = Number(m[1]);
    if (namespaceIndex > 65535)
      throw new NodeRefError(`namespace index in browse path element "${part}" is above 65535`);
    return { namespaceIndex, name: unescape(m[2]!) };
  });
}

/** A tag's node: exactly one of `node` (a node id) or `path` (a browse path). */
export function parseNodeRef(ref: { node?: string; path?: string }): NodeRef {
  if (ref.node !== undefined && ref.path !== undefined)
    throw new NodeRefError('give either node (a node id) or path (a browse path), not both');
  if (ref.node !== undefined) return { kind: 'nodeId', nodeId: parseNodeId(ref.node) };
  if (ref.path !== undefined) return { kind: 'browsePath', elements: parseBrowsePath(ref.path) };
  throw new NodeRefError(
    'a tag needs node (e.g. ns=2;s=Line1.Motor.Speed) or path (e.g. /Objects/Plant/Line1/Speed)',
  );
}

export function formatBrowsePath(elements: readonly BrowsePathElement[]): string {
  return (
    '/' +
    elements
      .map((e) => {
        const name = e.name.replace(/[\\/:]/g, (c) => `\\${c}`);
        return e.namespaceIndex === undefined ? name : `${e.namespaceIndex}:${name}`;
      })
      .join('/')
  );
}

function splitEscaped(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[i + 1]!;
      i += 1;
    } else if (c === separator) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}
