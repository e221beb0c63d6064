import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import {
  cmmsConfigSchema,
  createAtlasDispatcher,
  marker,
  type WorkOrderDispatcher,
} from '../maintenance/cmms/index.js';
import { SIM_USER, startCmmsSim, type CmmsSim } from './support/cmms-sim.js';
import { runCli, start, type Running } from './support/processes.js';
import { waitFor } from './support/wait.js';

let sim: CmmsSim;
let dir: string;
let dispatcher: WorkOrderDispatcher | undefined;
const children: Running[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cmms-outage-'));
  sim = await startCmmsSim(['--seed-assets', 'Conveyor,Press']);
});

afterEach(async () => {
  await dispatcher?.stop();
  dispatcher = undefined;
  for (const c of children.splice(0)) await c.stop('SIGKILL');
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('CMMS outages', () => {
  it('keeps accepting while Atlas is down for 60 s and creates each order once after it returns', async () => {
    const config = cmmsConfigSchema.parse({
      url: sim.url,
      email: SIM_USER.email,
      passwordEnv: 'ATLAS_PW',
      outbox: { path: join(dir, 'cmms.db') },
      retryMaxMs: 5000,
      connectTimeoutMs: 1000,
    });
    ({ dispatcher } = await createAtlasDispatcher(config, {
      name: 'test',
      log: silentLogger,
      env: { ATLAS_PW: SIM_USER.password },
    }));
    const d = dispatcher;
    d.start();
    await sim.faults({ down: 'refuse' });
    const downAt = Date.now();
    for (const key of ['plant/Conveyor/fault', 'plant/Press/jam', 'plant/Conveyor/temp'])
      d.open({
        key,
        site: 'plant',
        asset: key.split('/')[1]!,
        title: key,
        description: key,
        priority: 'MEDIUM',
      });
    d.comment('plant/Press/jam', 'diagnosis arrived during the outage');
    await waitFor('a failed attempt', () => d.stats().errors.transient > 0);
    // The outage lasts 60 s, as the issue asks; the dispatcher keeps backing off (capped at 5 s).
    await waitFor('60 s of outage', () => Date.now() - downAt >= 60_000, 70_000, 1000);
    const during = d.stats();
    expect(during).toMatchObject({ depth: 4, ordersCreated: 0 });
    expect(during.oldestAgeMs).toBeGreaterThanOrEqual(59_000);
    // Capped backoff: about one attempt per 5 s, not a tight loop.
    expect(during.errors.transient).toBeGreaterThanOrEqual(8);
    expect(during.errors.transient).toBeLessThan(40);
    await sim.faults({ down: false });
    await waitFor('outbox drained', () => d.stats().depth === 0, 30_000);
    const orders = await sim.orders();
    expect(orders).toHaveLength(3);
    for (const key of ['plant/Conveyor/fault', 'plant/Press/jam', 'plant/Conveyor/temp'])
      expect(orders.filter((o) => o.description.includes(marker(key)))).toHaveLength(1);
    expect(
      orders.find((o) => o.title === 'plant/Press/jam')!.comments.map((c) => c.content),
    ).toEqual(['diagnosis arrived during the outage']);
  }, 120_000);

  it('kill -9 of the dispatcher between "create sent" and the answer: one order after restart', async () => {
    const outbox = join(dir, 'child.db');
    const child = (opens: object[]) => {
      const c = start(
        process.execPath,
        [
          join(process.cwd(), 'dist/test/support/cmms-dispatcher-child.js'),
          JSON.stringify({
            url: sim.url,
            email: SIM_USER.email,
            outbox,
            reconcileDelayMs: 500,
            opens,
          }),
        ],
        { CMMS_TEST_PASSWORD: SIM_USER.password },
      );
      children.push(c);
      return c;
    };
    // Atlas saves the order, then its answer is held: the create is sent and unanswered.
    await sim.faults({ createDelayMs: 600_000 });
    const first = child([
      { key: 'plant/Conveyor/fault', asset: 'Conveyor', title: 'Motor overload' },
    ]);
    await first.waitForOutput(/ready/);
    await waitFor('order saved by Atlas', async () => (await sim.orders()).length === 1);
    await first.stop('SIGKILL');
    expect(first.output()).not.toMatch(/work order/);
    await sim.faults({ createDelayMs: 0 });

    const second = child([]);
    await second.waitForOutput(/work order plant\/Conveyor\/fault \d+ adopted/, 30_000);
    await second.waitForOutput(/idle/);
    const orders = await sim.orders();
    expect(orders).toHaveLength(1);
    expect(second.output()).not.toMatch(/created/);
    expect((await sim.stats()).byRoute['POST /work-orders']).toBe(1);
  });
});

describe('factorylm cmms check', () => {
  it('prints ✔ lines and exits 0 against a working Atlas, ✖ and 1 with a wrong password', async () => {
    const pw = join(dir, 'atlas.pw');
    writeFileSync(pw, `${SIM_USER.password}\n`);
    const base = ['cmms', 'check', '--url', sim.url, '--email', SIM_USER.email, '--password-file'];
    const good = await runCli([...base, pw, '--asset', 'Conveyor', '--asset', 'Lathe']);
    expect(good.stdout).toMatch(/✔ signed in to .* as maintenance@plant\.example/);
    expect(good.stdout).toMatch(/✔ 2 asset\(s\) listed/);
    expect(good.stdout).toMatch(/✔ asset Conveyor: Atlas asset #\d+ Conveyor/);
    expect(good.stdout).toMatch(/✖ asset Lathe: not found in Atlas/);
    expect(good.stdout).toMatch(/✔ search works: 0 unfinished work order/);
    expect(good.code).toBe(1);

    const ok = await runCli([...base, pw, '--asset', 'Press']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('✖');

    writeFileSync(pw, 'wrong-password\n');
    const bad = await runCli([...base, pw]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /✖ sign-in .* refused \(403 Invalid credentials\); check cmms.email/,
    );
    expect(bad.stdout + bad.stderr).not.toContain('wrong-password');
  });
});
