import { NODES, ROOT } from '../protocols/mqtt/topics.js';
import type { Role } from './broker-passwd.js';

/**
 * Who a connected client is, for the embedded broker's ACL: a user of the password file (its
 * role, and for a node its site and node), or an anonymous client where anonymous access is on.
 */
export interface Principal {
  user?: string;
  role: Role | 'anonymous';
  site?: string;
  node?: string;
}

export type Decision = { ok: true } | { ok: false; reason: string };
export type SubscribeDecision = { ok: true; filter: string } | { ok: false; reason: string };

const deny = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/**
 * What a client may publish.
 *
 * - node (site S, node N): tag and asset topics of its site, `factorylm/S/<area>/<line>/<asset>`
 *   and `…/<asset>/<tag>` (area not starting with `_`), and its own node topics
 *   `factorylm/S/_nodes/N/<anything>` except `…/write/…` (write requests come from gateways
 *   and admins). Its Will must be one of these too. Nothing else: no other site, no other
 *   node's `_nodes/<node>/`, no Sparkplug, no `$` topics.
 * - gateway: anything under `factorylm/` (write requests, its own status).
 * - admin and anonymous clients: anything but `$` topics (`$SYS/…` is the broker's).
 */
export function mayPublish(p: Principal, topic: string): Decision {
  if (topic.startsWith('$')) return deny('topics starting with $ are reserved for the broker');
  if (p.role === 'admin' || p.role === 'anonymous') return { ok: true };
  const parts = topic.split('/');
  if (parts[0] !== ROOT) return deny(`${p.role} users may publish only under ${ROOT}/`);
  if (p.role === 'gateway') return { ok: true };
  const { site, node } = p;
  if (parts[1] !== site) return deny(`outside its site subtree ${ROOT}/${site}/`);
  if (parts.some((level) => level === '')) return deny('empty topic level');
  if (parts[2] === NODES) {
    if (parts[3] !== node)
      return deny(`another node's ${NODES} topics (this user is node ${node})`);
    if (parts.length < 5)
      return deny(`nothing to publish on ${ROOT}/${site}/${NODES}/${node} itself`);
    if (parts[4] === 'write')
      return deny('write requests are for gateway and admin users, not nodes');
    return { ok: true };
  }
  if ((parts.length === 5 || parts.length === 6) && !parts[2]!.startsWith('_')) return { ok: true };
  return deny(
    `not a tag or asset topic ${ROOT}/${site}/<area>/<line>/<asset>[/<tag>] nor under ${ROOT}/${site}/${NODES}/${node}/`,
  );
}

/**
 * What a client may subscribe to. A node: only its own write requests, filters under
 * `factorylm/S/_nodes/N/write/` (the agent uses `…/write/+/+`). Gateway, admin and anonymous
 * clients: anything. aedes has no shared subscriptions, so `$share/<group>/<filter>` is served
 * as `<filter>`: every subscriber of the group receives every message (run one gateway on an
 * embedded broker; several split the load only on Mosquitto or EMQX).
 */
export function maySubscribe(p: Principal, filter: string): SubscribeDecision {
  let plain = filter;
  if (filter.startsWith('$share/')) {
    const m = /^\$share\/([^/+#]+)\/(.+)$/.exec(filter);
    if (!m) return deny('a shared subscription is $share/<group>/<filter>');
    plain = m[2]!;
  }
  if (p.role !== 'node') return { ok: true, filter: plain };
  if (plain !== filter) return deny('node users may not use shared subscriptions');
  const prefix = [ROOT, p.site, NODES, p.node, 'write'];
  const parts = filter.split('/');
  if (parts.length < prefix.length || prefix.some((level, i) => parts[i] !== level))
    return deny(`node users may subscribe only to ${prefix.join('/')}/#`);
  return { ok: true, filter };
}
