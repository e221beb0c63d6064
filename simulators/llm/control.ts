import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../core/logger.js';
import { listenOn } from '../../core/listen.js';
import { llmFaultPatchSchema, type LlmFaultSettings } from './faults.js';
import type { LlmSimulator } from './server.js';

export const CONTROL_ROUTES =
  'GET/PUT/DELETE /faults, GET/DELETE /requests, GET /stats, POST /unload';

/**
 * The LLM simulator's control API, on its own port like the PLC simulator's:
 *   GET /faults, PUT /faults {delayMs, coldLoadMs, fault, count}, DELETE /faults,
 *   GET /requests (what the simulator received), DELETE /requests, GET /stats,
 *   POST /unload (the next request pays coldLoadMs again).
 */
export async function startLlmControl(
  sim: LlmSimulator,
  host: string,
  port: number,
  log: Logger,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    handle(sim, req, res).catch((err: unknown) => {
      log.error({ err }, 'control API request failed');
      if (!res.headersSent) json(res, 500, { error: String(err) });
    });
  });
  return {
    port: await listenOn(server, port, host),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(sim: LlmSimulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  switch (`${req.method} ${path}`) {
    case 'GET /faults':
      return json(res, 200, sim.faults.settings);
    case 'PUT /faults': {
      let body: unknown;
      try {
        body = JSON.parse(await readText(req));
      } catch {
        return json(res, 400, { error: 'body: expected JSON' });
      }
      const parsed = llmFaultPatchSchema.safeParse(body);
      if (!parsed.success) {
        const error = parsed.error.issues
          .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
          .join('; ');
        return json(res, 400, { error });
      }
      // A new cold-load delay is meant to be felt: the model counts as unloaded again.
      if (parsed.data.coldLoadMs !== undefined) sim.unload();
      return json(res, 200, sim.faults.set(parsed.data as Partial<LlmFaultSettings>));
    }
    case 'DELETE /faults':
      sim.faults.reset();
      return json(res, 200, sim.faults.settings);
    case 'GET /requests':
      return json(res, 200, sim.requests());
    case 'DELETE /requests':
      sim.clearRequests();
      return json(res, 200, { ok: true });
    case 'GET /stats':
      return json(res, 200, sim.stats());
    case 'POST /unload':
      sim.unload();
      return json(res, 200, { ok: true });
    default:
      return json(res, 404, { error: `no route ${req.method} ${path}; try ${CONTROL_ROUTES}` });
  }
}

async function readText(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 65_536) throw new Error('control request body too large');
  }
  return text;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
