import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import {
  cmmsConfigSchema,
  createAtlasDispatcher,
  createWebhookDispatcher,
  marker,
  verifySignature,
  webhookConfigSchema,
  type WorkOrderDispatcher,
  type WorkOrderInfo,
} from '../maintenance/cmms/index.js';
import { SIM_USER, startCmmsSim, type CmmsSim, type SimOrder } from './support/cmms-sim.js';
import { waitFor } from './support/wait.js';

let sim: CmmsSim;
let dir: string;
let dispatcher: WorkOrderDispatcher | undefined;
const seen: [string, WorkOrderInfo][] = [];

async function atlas(extra: Record<string, unknown> = {}): Promise<WorkOrderDispatcher> {
  const config = cmmsConfigSchema.parse({
    url: sim.url,
    frontendUrl: 'http://atlas.example:3000/',
    email: SIM_USER.email,
    passwordEnv: 'ATLAS_PW',
    outbox: { path: join(dir, 'cmms.db') },
    retryMaxMs: 500,
    reconcileDelayMs: 300,
    ...extra,
  });
  ({ dispatcher } = await createAtlasDispatcher(config, {
    name: 'test',
    log: silentLogger,
    env: { ATLAS_PW: SIM_USER.password },
    onWorkOrder: (key, info) => seen.push([key, info]),
  }));
  dispatcher.start();
  return dispatcher;
}

const open = (d: WorkOrderDispatcher, key: string, asset = 'Conveyor') =>
  d.open({
    key,
    site: 'plant',
    asset,
    title: `Fault on ${asset}`,
    description: `Motor overload on ${asset}`,
    priority: 'HIGH',
    assetStatus: 'DOWN',
  });

const drained = (d: WorkOrderDispatcher, timeoutMs = 30_000) =>
  waitFor('outbox drained', () => d.stats().depth === 0, timeoutMs);

const withMarker = (orders: SimOrder[], key: string) =>
  orders.filter((o) => o.description.includes(marker(key)));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cmms-dispatcher-'));
  seen.length = 0;
  sim = await startCmmsSim(['--seed-assets', 'Conveyor,Press']);
});

afterEach(async () => {
  await dispatcher?.stop();
  dispatcher = undefined;
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('work-order dispatcher against the Atlas simulator', () => {
  it('opens one order per key, notes re-occurrences and comments, clears, completes and opens anew', async () => {
    const d = await atlas();
    open(d, 'plant/Conveyor/fault');
    open(d, 'plant/Conveyor/fault');
    d.comment('plant/Conveyor/fault', 'Diagnosis: check the motor breaker');
    d.close('plant/Conveyor/fault', { complete: false, text: '' });
    await drained(d);
    let orders = await sim.orders();
    expect(orders).toHaveLength(1);
    const first = orders[0]!;
    expect(first).toMatchObject({ status: 'OPEN', priority: 'HIGH', title: 'Fault on Conveyor' });
    expect(first.description).toContain('[factorylm:plant/Conveyor/fault]');
    expect(first.comments.map((c) => c.content)).toEqual([
      expect.stringMatching(/^Alarm re-occurred at .*, occurrence 2\.$/),
      'Diagnosis: check the motor breaker',
      expect.stringMatching(/^Alarm cleared at /),
    ]);
    expect((await sim.state())[0]!.assets.find((a) => a.name === 'Conveyor')!.status).toBe('DOWN');
    expect(seen).toEqual([
      [
        'plant/Conveyor/fault',
        {
          id: first.id,
          customId: first.customId,
          url: `http://atlas.example:3000/app/work-orders/${first.id}`,
          open: true,
          adopted: false,
        },
      ],
    ]);

    d.close('plant/Conveyor/fault', { complete: true, text: 'Alarm cleared; motor running' });
    open(d, 'plant/Conveyor/fault');
    await drained(d);
    orders = await sim.orders();
    expect(orders.map((o) => o.status)).toEqual(['COMPLETE', 'OPEN']);
    expect(orders[0]!.feedback).toBe('Alarm cleared; motor running');
    expect(d.stats()).toMatchObject({
      sent: { open: 3, comment: 1, close: 2 },
      ordersCreated: 2,
      depth: 0,
      parked: 0,
    });
  });

  it('reconciles a create whose answer was dropped: still one order, adopted by its marker', async () => {
    await sim.faults({ dropAfterCreate: 1 });
    const d = await atlas();
    open(d, 'plant/Press/jam', 'Press');
    open(d, 'plant/Conveyor/fault');
    await drained(d);
    const orders = await sim.orders();
    expect(withMarker(orders, 'plant/Press/jam')).toHaveLength(1);
    expect(withMarker(orders, 'plant/Conveyor/fault')).toHaveLength(1);
    expect((await sim.stats()).createsDropped).toBe(1);
    expect(d.stats()).toMatchObject({
      ordersCreated: 1,
      ordersAdopted: 1,
      errors: { 'unknown-outcome': 1 },
    });
  });

  it('signs in again when tokens expire mid-run and loses nothing', async () => {
    const d = await atlas();
    for (let i = 0; i < 3; i++) open(d, `plant/Conveyor/r${i}`);
    await drained(d);
    await sim.expireTokens(true);
    for (let i = 3; i < 6; i++) open(d, `plant/Conveyor/r${i}`);
    await drained(d);
    const orders = await sim.orders();
    for (let i = 0; i < 6; i++) expect(withMarker(orders, `plant/Conveyor/r${i}`)).toHaveLength(1);
    expect((await sim.stats()).authRefused).toBe(1);
  });

  it('backs off on 429 and delivers every action once', async () => {
    await sim.faults({ rateLimitPerMinute: 4, rateWindowMs: 1500 });
    const d = await atlas();
    for (let i = 0; i < 8; i++) open(d, `plant/Conveyor/burst${i}`);
    await drained(d, 60_000);
    const orders = await sim.orders();
    expect(orders).toHaveLength(8);
    for (let i = 0; i < 8; i++)
      expect(withMarker(orders, `plant/Conveyor/burst${i}`)).toHaveLength(1);
    expect((await sim.stats()).rateLimited).toBeGreaterThan(0);
  });

  it('parks a create refused by the licence limit: alarm raised, no retry storm, delivered on retryNow', async () => {
    await sim.limits({ workOrders: 1 });
    const d = await atlas();
    open(d, 'plant/Conveyor/fault');
    open(d, 'plant/Press/jam', 'Press');
    await waitFor('parked', () => d.stats().parked === 1);
    const parked = d.stats();
    expect(parked.alarm).toMatch(/You need a license to add a new work order/);
    expect(parked).toMatchObject({ depth: 1, errors: { permanent: 1 } });
    const before = (await sim.stats()).requests;
    // Other keys still go through while one is parked.
    d.comment('plant/Conveyor/fault', 'still here');
    await waitFor('comment delivered', () => d.stats().sent.comment === 1);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await sim.stats()).requests).toBe(before + 1);
    expect(d.stats().errors.permanent).toBe(1);

    await sim.limits({ workOrders: 30 });
    d.retryNow();
    await drained(d);
    expect(withMarker(await sim.orders(), 'plant/Press/jam')).toHaveLength(1);
    expect(d.stats().alarm).toBeUndefined();
  });

  it('refuses an unknown asset unless createAssets, then creates it once', async () => {
    let d = await atlas();
    open(d, 'plant/Mixer/fault', 'Mixer');
    await waitFor('parked', () => d.stats().parked === 1);
    expect(d.stats().alarm).toMatch(/asset "Mixer" not found in Atlas/);
    await d.stop();
    d = await atlas({ createAssets: true });
    await drained(d);
    const state = (await sim.state())[0]!;
    expect(state.assets.filter((a) => a.name === 'Mixer')).toHaveLength(1);
    expect(state.orders[0]!.asset!.name).toBe('Mixer');
  });
});

describe('webhook target', () => {
  it('POSTs each action signed with HMAC-SHA256 and retries the same delivery after a 500', async () => {
    const secret = 'webhook-secret-for-tests';
    const received: { body: string; headers: IncomingHttpHeaders; valid: boolean }[] = [];
    let failNext = 1;
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = req.headers['x-factorylm-signature'] as string | undefined;
        received.push({ body, headers: req.headers, valid: verifySignature(body, header, secret) });
        res.writeHead(failNext-- > 0 ? 500 : 204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    const d = await createWebhookDispatcher(
      webhookConfigSchema.parse({
        url: `http://127.0.0.1:${port}/webhook/factorylm`,
        secretEnv: 'HOOK_SECRET',
        outbox: { path: join(dir, 'webhook.db') },
        retryMaxMs: 300,
      }),
      { name: 'gw1', log: silentLogger, env: { HOOK_SECRET: secret } },
    );
    dispatcher = d;
    d.start();
    d.open({
      key: 'plant/Conveyor/fault',
      site: 'plant',
      asset: 'Conveyor',
      title: 'Fault',
      description: 'x',
      priority: 'LOW',
    });
    d.close('plant/Conveyor/fault', { complete: true, text: 'cleared' });
    await drained(d);
    receiver.close();
    expect(received).toHaveLength(3);
    expect(received.every((r) => r.valid)).toBe(true);
    const bodies = received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(bodies.map((b) => b.type)).toEqual(['open', 'open', 'close']);
    expect(bodies[0]).toMatchObject({
      key: 'plant/Conveyor/fault',
      source: 'gw1',
      priority: 'LOW',
    });
    expect(received[0]!.headers['x-factorylm-delivery']).toBe(
      received[1]!.headers['x-factorylm-delivery'],
    );
    expect(received[2]!.headers['x-factorylm-delivery']).not.toBe(
      received[0]!.headers['x-factorylm-delivery'],
    );
    expect(Number(received[0]!.headers['x-factorylm-timestamp'])).toBe(bodies[0]!.sentAt);
    expect(
      verifySignature(
        received[0]!.body.replace('LOW', 'HIGH'),
        received[0]!.headers['x-factorylm-signature'] as string,
        secret,
      ),
    ).toBe(false);
    expect(d.stats()).toMatchObject({ sent: { open: 1, close: 1 }, errors: { transient: 1 } });
  });
});
