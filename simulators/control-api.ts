import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { FaultSettings } from './faults.js';
import type { SimulatorRuntime } from './runtime.js';

const rate = z.number().min(0).max(1);
export const faultPatchSchema = z.strictObject({
  delayMs: z.int().min(0).max(60_000).optional(),
  timeoutRate: rate.optional(),
  dropRate: rate.optional(),
  garbageRate: rate.optional(),
  exceptions: z
    .array(
      z.strictObject({
        unitId: z.int().min(0).max(255).optional(),
        area: z.enum(['coil', 'di', 'hr', 'ir']),
        address: z.int().min(0).max(65535),
        code: z.int().min(1).max(255),
      }),
    )
    .optional(),
  silentUnits: z.array(z.int().min(0).max(255)).optional(),
});

export interface MachineControl {
  injectFault(code: number, unitId?: number): void;
  resetFault(unitId?: number): void;
}

/**
 * A small HTTP API to steer a running simulator from a test or by hand:
 *   GET /faults, PUT /faults {delayMs, timeoutRate, dropRate, garbageRate, exceptions, silentUnits},
 *   DELETE /faults, GET /stats, POST /connections/drop, POST /machine/fault {code, unitId?},
 *   POST /machine/reset {unitId?}.
 */
export function createControlApi(
  sim: SimulatorRuntime,
  log: Logger,
  machine?: MachineControl,
): FastifyInstance {
  // fastify types its logger against its own copy of pino; ours is the same API.
  const app = Fastify({ loggerInstance: log as unknown as FastifyBaseLogger });
  app.get('/faults', async () => sim.faults.settings);
  app.put('/faults', async (req, reply) => {
    const parsed = faultPatchSchema.safeParse(req.body);
    if (!parsed.success) {
      return reply.code(400).send({
        error: parsed.error.issues
          .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
          .join('; '),
      });
    }
    return sim.faults.set(parsed.data as Partial<FaultSettings>);
  });
  app.delete('/faults', async () => {
    sim.faults.reset();
    return sim.faults.settings;
  });
  app.get('/stats', async () => ({
    server: sim.stats,
    faults: sim.faults.counts,
    units: [...sim.devices.keys()],
  }));
  app.post('/connections/drop', async () => ({ dropped: sim.dropConnections() }));
  if (machine) {
    const body = z.strictObject({ code: z.int().min(1).max(5), unitId: z.int().optional() });
    app.post('/machine/fault', async (req, reply) => {
      const parsed = body.safeParse(req.body);
      if (!parsed.success)
        return reply.code(400).send({ error: 'expected {"code": 1..5, "unitId"?: n}' });
      machine.injectFault(parsed.data.code, parsed.data.unitId);
      return { ok: true };
    });
    app.post('/machine/reset', async (req) => {
      const unitId = (req.body as { unitId?: number } | undefined)?.unitId;
      machine.resetFault(unitId);
      return { ok: true };
    });
  }
  return app;
}
