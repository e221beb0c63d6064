import { createServer, type Server } from 'node:http';
import { z } from 'zod';
import { sendJson } from '../../core/http-server.js';
import { listenOn } from '../../core/listen.js';
import { DEFAULT_FAULTS, type CmmsSimulator } from './server.js';

export const cmmsFaultSchema = z.strictObject({
  down: z.union([z.literal(false), z.literal('refuse'), z.literal('503')]).optional(),
  delayMs: z.int().min(0).max(600_000).optional(),
  createDelayMs: z.int().min(0).max(600_000).optional(),
  dropAfterCreate: z.int().min(0).max(1000).optional(),
  rateLimitPerMinute: z.int().min(1).optional(),
  signInPerMinute: z.int().min(1).optional(),
  rateWindowMs: z.int().min(100).optional(),
  tokenLifetimeMs: z.int().min(1).optional(),
  authErrorStyle: z.enum(['spring', 'message']).optional(),
});

const limitsSchema = z.strictObject({
  workOrders: z.int().min(0).optional(),
  assets: z.int().min(0).optional(),
  licensed: z.boolean().optional(),
});

/**
 * The simulator's control API on its own port (tests and people steer it; never exposed):
 *   GET/PUT/DELETE /faults, PUT /limits {workOrders, assets, licensed},
 *   POST /tokens/expire {refresh?}, GET /state, GET /stats.
 */
export async function startCmmsControl(
  sim: CmmsSimulator,
  host: string,
  port: number,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const key = `${req.method} ${path}`;
      let body: unknown = {};
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        if (text !== '') body = JSON.parse(text);
      } catch {
        return sendJson(res, 400, { error: 'body is not JSON' });
      }
      const bad = (error: z.ZodError) =>
        sendJson(res, 400, {
          error: error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
        });
      switch (key) {
        case 'GET /faults':
          return sendJson(res, 200, sim.faults);
        case 'PUT /faults': {
          const parsed = cmmsFaultSchema.safeParse(body);
          if (!parsed.success) return bad(parsed.error);
          sim.setFaults(parsed.data).then(
            (faults) => sendJson(res, 200, faults),
            (err: unknown) => sendJson(res, 500, { error: String(err) }),
          );
          return;
        }
        case 'DELETE /faults':
          sim.setFaults({ ...DEFAULT_FAULTS }).then(
            (faults) => sendJson(res, 200, faults),
            (err: unknown) => sendJson(res, 500, { error: String(err) }),
          );
          return;
        case 'PUT /limits': {
          const parsed = limitsSchema.safeParse(body);
          if (!parsed.success) return bad(parsed.error);
          Object.assign(sim.model.limits, parsed.data);
          return sendJson(res, 200, sim.model.limits);
        }
        case 'POST /tokens/expire':
          sim.expireTokens((body as { refresh?: unknown }).refresh === true);
          return sendJson(res, 200, { expired: true });
        case 'GET /state':
          return sendJson(res, 200, sim.state());
        case 'GET /stats':
          return sendJson(res, 200, sim.stats);
        default:
          return sendJson(res, 404, {
            error: `no route ${key}; try GET/PUT/DELETE /faults, PUT /limits, POST /tokens/expire, GET /state, GET /stats`,
          });
      }
    });
  });
  const bound = await listenOn(server, port, host);
  return {
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
