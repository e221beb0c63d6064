import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtlasClient, type AtlasClientOptions } from '../maintenance/cmms/atlas-client.js';
import { CmmsError } from '../maintenance/cmms/errors.js';
import { statusFilter, unfinishedOrdersOf } from '../maintenance/cmms/marker.js';
import { SIM_USER, startCmmsSim, type CmmsSim } from './support/cmms-sim.js';

let sim: CmmsSim;
let logText = '';

function client(options: Partial<AtlasClientOptions> = {}): AtlasClient {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  return new AtlasClient(
    {
      url: sim.url,
      email: SIM_USER.email,
      password: () => SIM_USER.password,
      connectTimeoutMs: 2000,
      timeoutMs: 10_000,
      requestsPerMinute: 1000,
      maxRateLimitRetries: 5,
      backoff: { initialMs: 100, maxMs: 1000, jitter: 0 },
      ...options,
    },
    pino({ level: 'debug' }, sink),
  );
}

const order = (assetId: number, title = 'Motor overload') => ({
  title,
  description: `${title}\n\n[factorylm:plant/Conveyor/fault]`,
  priority: 'HIGH' as const,
  asset: { id: assetId },
});

beforeEach(async () => {
  logText = '';
  sim = await startCmmsSim([
    '--seed-assets',
    'Conveyor,Press',
    '--user',
    'bot@other-plant.example:other-secret-pw',
  ]);
});

afterEach(async () => {
  await sim?.stop();
});

describe('Atlas client against the simulator', () => {
  it('signs in, lists assets, creates and finds orders; status needs `in`, companies are apart', async () => {
    const atlas = client();
    const assets = await atlas.miniAssets();
    expect(assets.map((a) => a.name)).toEqual(['Conveyor', 'Press']);
    const conveyor = assets[0]!;
    const created = await atlas.createWorkOrder(order(conveyor.id));
    expect(created).toMatchObject({ status: 'OPEN', priority: 'HIGH', customId: 'WO000001' });
    const found = await atlas.searchWorkOrders(unfinishedOrdersOf(conveyor.id));
    expect(found.content.map((o) => o.id)).toEqual([created.id]);
    expect(found.totalElements).toBe(1);
    const eq = await atlas.searchWorkOrders([{ field: 'status', operation: 'eq', value: 'OPEN' }]);
    expect(eq.totalElements).toBe(0);
    expect((await atlas.workOrdersOfAsset(conveyor.id)).map((o) => o.id)).toEqual([created.id]);
    await atlas.addComment(created.id, 'checked the breaker');
    expect((await atlas.comments(created.id)).map((c) => c.content)).toEqual([
      'checked the breaker',
    ]);
    const done = await atlas.changeStatus(created.id, 'COMPLETE', 'fixed');
    expect(done).toMatchObject({ status: 'COMPLETE', feedback: 'fixed' });
    expect((await atlas.searchWorkOrders([statusFilter(['OPEN'])])).totalElements).toBe(0);

    const other = client({ email: 'bot@other-plant.example', password: () => 'other-secret-pw' });
    expect((await other.searchWorkOrders([])).totalElements).toBe(0);
    await expect(other.getWorkOrder(created.id)).rejects.toMatchObject({
      kind: 'permanent',
      status: 403,
    });
  });

  it('refreshes or signs in again when the server refuses the token, in both answer styles', async () => {
    const atlas = client();
    await atlas.searchWorkOrders([]);
    expect(atlas.stats).toMatchObject({ signIns: 1, reLogins: 0 });
    await sim.expireTokens(false);
    await atlas.searchWorkOrders([]);
    expect(atlas.stats).toMatchObject({ signIns: 1, refreshes: 1, reLogins: 1 });
    await sim.faults({ authErrorStyle: 'message' });
    await sim.expireTokens(true);
    await atlas.searchWorkOrders([]);
    expect(atlas.stats).toMatchObject({ signIns: 2, reLogins: 2 });
    expect((await sim.stats()).authRefused).toBe(2);
  });

  it('waits out 429s and gets every request through', async () => {
    await sim.faults({ rateLimitPerMinute: 5, rateWindowMs: 2000 });
    const atlas = client({ maxRateLimitRetries: 20 });
    for (let i = 0; i < 12; i++) await atlas.searchWorkOrders([]);
    expect(atlas.stats.rateLimited).toBeGreaterThan(0);
    expect((await sim.stats()).rateLimited).toBe(atlas.stats.rateLimited);
  });

  it('classifies a bad password and the licence limit as permanent; never logs secrets', async () => {
    const wrong = client({ password: () => 'not-the-password' });
    const err = await wrong.miniAssets().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CmmsError);
    expect(err).toMatchObject({ kind: 'permanent', status: 403 });
    expect((err as Error).message).toMatch(/sign-in as maintenance@plant\.example refused/);

    const atlas = client();
    const [conveyor] = await atlas.miniAssets();
    await sim.limits({ workOrders: 1 });
    await atlas.createWorkOrder(order(conveyor!.id));
    await expect(atlas.createWorkOrder(order(conveyor!.id, 'second'))).rejects.toMatchObject({
      kind: 'permanent',
      status: 403,
      licence: true,
    });
    await sim.expireTokens(true);
    await atlas.miniAssets();
    expect(logText).toContain('signed in to Atlas CMMS');
    expect(logText).not.toContain(SIM_USER.password);
    expect(logText).not.toContain('not-the-password');
    expect(logText).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(logText).not.toMatch(/[0-9a-f]{48}/);
  });

  it('reports a create whose answer never came as unknown-outcome, and a refused connection as transient', async () => {
    const atlas = client();
    const [conveyor] = await atlas.miniAssets();
    await sim.faults({ dropAfterCreate: 1 });
    await expect(atlas.createWorkOrder(order(conveyor!.id))).rejects.toMatchObject({
      kind: 'unknown-outcome',
    });
    expect(await sim.orders()).toHaveLength(1);
    await sim.faults({ down: 'refuse' });
    await expect(atlas.searchWorkOrders([])).rejects.toMatchObject({ kind: 'transient' });
    await sim.faults({ down: '503' });
    await expect(atlas.searchWorkOrders([])).rejects.toMatchObject({
      kind: 'transient',
      status: 503,
    });
    await sim.faults({ down: false });
    expect((await atlas.searchWorkOrders([])).totalElements).toBe(1);
  });
});
