import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonBody, sendJson, type RawRoute } from '../core/http-server.js';
import type { MaintenanceBridge } from '../maintenance/bridge.js';

/** Longest shelve the API takes when the config allows more; the engine checks its own limit. */
const MINUTE_MS = 60_000;

/**
 * The maintenance bridge over HTTP: `GET /api/alarms` (alarms with their work orders, and the
 * bridge's figures), and operator actions as POST with a JSON body naming the alarm `key`
 * (`<site>/<asset>/<rule>`) and who acts: `/api/alarms/ack`, `/api/alarms/shelve` (`minutes`,
 * `reason`), `/api/alarms/unshelve`, `/api/alarms/retry` (parked CMMS actions, after a fix).
 * The bridge starts with the gateway, which may be after this: it is looked up per request.
 * Without a bridge the GET answers `{enabled: false, hint}` and the actions 404.
 */
export function alarmRoutes(bridge: () => MaintenanceBridge | undefined): {
  routes: Map<string, RawRoute>;
  actions: Map<string, RawRoute>;
} {
  const OFF = 'this gateway runs no maintenance bridge: add a maintenance: section to its config';
  const off = (res: ServerResponse) => sendJson(res, 404, { error: OFF });
  const action =
    (handler: (b: MaintenanceBridge, body: Record<string, unknown>) => object | string): RawRoute =>
    async (req: IncomingMessage, res: ServerResponse) => {
      const b = bridge();
      if (!b) return off(res);
      let body: Record<string, unknown>;
      try {
        body = await readJsonBody(req);
      } catch (err) {
        return sendJson(res, 400, { error: (err as Error).message });
      }
      const out = handler(b, body);
      if (typeof out === 'string') return sendJson(res, 400, { error: out });
      const result = out as { ok?: boolean; status?: string };
      if (result.ok === false)
        return sendJson(res, result.status === 'not-found' ? 404 : 409, result);
      sendJson(res, 200, result);
    };
  const keyAndBy = (body: Record<string, unknown>): { key: string; by: string } | string => {
    if (typeof body.key !== 'string' || body.key === '')
      return 'body needs "key": the alarm key <site>/<asset>/<rule> (see GET /api/alarms)';
    const by = typeof body.by === 'string' && body.by !== '' ? body.by : 'http';
    return { key: body.key, by };
  };
  return {
    routes: new Map<string, RawRoute>([
      [
        '/api/alarms',
        (req, res) => {
          const b = bridge();
          // A page asks on every gateway: an answer, not an error, when the feature is off.
          if (!b) return sendJson(res, 200, { enabled: false, hint: OFF, alarms: [] });
          const all = new URLSearchParams((req.url ?? '').split('?', 2)[1] ?? '').has('all');
          sendJson(res, 200, {
            enabled: true,
            active: b.isActive,
            alarms: b.list(all),
            stats: b.stats,
          });
        },
      ],
    ]),
    actions: new Map<string, RawRoute>([
      [
        '/api/alarms/ack',
        action((b, body) => {
          const who = keyAndBy(body);
          return typeof who === 'string' ? who : b.ack(who.key, who.by);
        }),
      ],
      [
        '/api/alarms/shelve',
        action((b, body) => {
          const who = keyAndBy(body);
          if (typeof who === 'string') return who;
          const minutes = body.minutes;
          if (typeof minutes !== 'number' || !(minutes > 0))
            return 'body needs "minutes": how long the alarm stays shelved (a positive number)';
          const reason = typeof body.reason === 'string' ? body.reason : '';
          return b.shelve(who.key, {
            untilMs: Date.now() + minutes * MINUTE_MS,
            by: who.by,
            reason,
          });
        }),
      ],
      [
        '/api/alarms/unshelve',
        action((b, body) => {
          const who = keyAndBy(body);
          return typeof who === 'string' ? who : b.unshelve(who.key, who.by);
        }),
      ],
      [
        '/api/alarms/retry',
        action((b) => {
          b.retryNow();
          return { ok: true };
        }),
      ],
    ]),
  };
}
