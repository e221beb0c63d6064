import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe, type Principal } from './broker-acl.js';
import {
  anonymousAllowed,
  anonymousProblem,
  embeddedBrokerSchema,
  isLoopbackHost,
} from './broker-config.js';

const node: Principal = { user: 'edge-01', role: 'node', site: 'plant1', node: 'edge-01' };
const gateway: Principal = { user: 'gw', role: 'gateway' };
const admin: Principal = { user: 'root', role: 'admin' };

describe('embedded broker ACL: publish', () => {
  it.each([
    'factorylm/plant1/packaging/line1/conveyor1/motor_speed',
    'factorylm/plant1/packaging/line1/conveyor1',
    'factorylm/plant1/_nodes/edge-01/status',
    'factorylm/plant1/_nodes/edge-01/tags',
    'factorylm/plant1/_nodes/edge-01/devices/micro820',
    'factorylm/plant1/_nodes/edge-01/write-result/conveyor1/motor_running',
  ])('lets a node publish its own topic %s', (topic) => {
    expect(mayPublish(node, topic)).toEqual({ ok: true });
  });

  it.each([
    ['factorylm/plant2/packaging/line1/conveyor1/motor_speed', /site subtree factorylm\/plant1\//],
    ['factorylm/plant1/_nodes/edge-02/status', /another node's _nodes/],
    ['factorylm/plant1/_nodes/edge-01/write/conveyor1/motor_running', /write requests/],
    ['factorylm/plant1/_nodes/edge-01', /nothing to publish/],
    ['factorylm/plant1/packaging/line1', /not a tag or asset topic/],
    ['factorylm/plant1/a/b/c/d/e', /not a tag or asset topic/],
    ['factorylm/plant1/_private/line1/asset/tag', /not a tag or asset topic/],
    ['factorylm/plant1/packaging//conveyor1/x', /empty topic level/],
    ['spBv1.0/plant1/NDATA/edge-01', /only under factorylm\//],
    ['$SYS/x', /reserved/],
    ['other/topic', /only under factorylm\//],
  ])('refuses a node publishing %s', (topic, reason) => {
    const d = mayPublish(node, topic);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toMatch(reason);
  });

  it('lets a gateway publish under factorylm/ only, an admin anything but $ topics', () => {
    expect(mayPublish(gateway, 'factorylm/plant1/_nodes/edge-01/write/a/b').ok).toBe(true);
    expect(mayPublish(gateway, 'elsewhere/x').ok).toBe(false);
    expect(mayPublish(admin, 'elsewhere/x').ok).toBe(true);
    expect(mayPublish(admin, '$SYS/broker/x').ok).toBe(false);
    expect(mayPublish({ role: 'anonymous' }, 'anything/at/all').ok).toBe(true);
  });
});

describe('embedded broker ACL: subscribe', () => {
  it('lets a node read only its own write requests', () => {
    expect(maySubscribe(node, 'factorylm/plant1/_nodes/edge-01/write/+/+')).toEqual({
      ok: true,
      filter: 'factorylm/plant1/_nodes/edge-01/write/+/+',
    });
    expect(maySubscribe(node, 'factorylm/plant1/_nodes/edge-01/write/#').ok).toBe(true);
    for (const filter of [
      'factorylm/plant1/_nodes/edge-02/write/#',
      'factorylm/plant1/_nodes/+/write/#',
      'factorylm/plant1/_nodes/edge-01/#',
      'factorylm/plant1/#',
      '#',
      '$share/g/factorylm/plant1/_nodes/edge-01/write/#',
    ])
      expect(maySubscribe(node, filter).ok, filter).toBe(false);
  });

  it('serves $share/<group>/<filter> as <filter> to gateways (aedes has no shared subscriptions)', () => {
    expect(maySubscribe(gateway, '$share/factorylm-gateway/factorylm/+/#')).toEqual({
      ok: true,
      filter: 'factorylm/+/#',
    });
    expect(maySubscribe(admin, '#')).toEqual({ ok: true, filter: '#' });
    expect(maySubscribe(gateway, '$share//x').ok).toBe(false);
  });
});

describe('embedded broker config', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'plant-gw.local'])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  it('is anonymous only on loopback without a password file, unless said explicitly', () => {
    const local = embeddedBrokerSchema.parse({ embedded: true });
    expect(local.tcp).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(anonymousAllowed(local)).toBe(true);
    const exposed = { tcp: { host: '0.0.0.0', port: 1883 } };
    expect(anonymousProblem(exposed)).toMatch(/reachable from other machines.*passwordFile/);
    expect(embeddedBrokerSchema.safeParse({ embedded: true, ...exposed }).success).toBe(false);
    expect(anonymousProblem({ ...exposed, allowAnonymous: true })).toBeUndefined();
    expect(anonymousProblem({ ...exposed, passwordFile: 'users' })).toBeUndefined();
    expect(anonymousAllowed({ ...exposed, passwordFile: 'users' })).toBe(false);
    expect(anonymousProblem({ tcp: null, allowAnonymous: false })).toMatch(/no client could/);
    expect(embeddedBrokerSchema.safeParse({ embedded: true, tcp: null }).success).toBe(false);
  });
});
