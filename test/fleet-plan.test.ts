import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * `factorylm fleet plan` against a real gateway's twin: edge-01 publishes a real inventory
 * report (`factorylm inventory --publish`, with the agent's unit in its unit folder) through
 * Mosquitto; the plan compares it with fleet.yaml.
 */
const TOKEN = 'fleet-plan-token-0123456';
let tmp: string;
let mosquitto: Service;
let gateway: Running;
let base: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'flm-fleet-plan-'));
  mosquitto = await startMosquitto();
  const units = join(tmp, 'units');
  mkdirSync(units);
  copyFileSync('deploy/systemd/factorylm-agent.service', join(units, 'factorylm-agent.service'));
  mkdirSync(join(tmp, 'opt'));
  const published = await runCli([
    'inventory',
    join(tmp, 'opt'),
    '--node',
    'edge-01',
    '--site',
    'plant1',
    '--publish',
    '--mqtt-url',
    mosquitto.url,
    '--no-cache',
    '--unit-dir',
    units,
  ]);
  expect(published.code, published.stderr).toBe(0);
  const config = join(tmp, 'gateway.yaml');
  writeFileSync(
    config,
    stringify({
      name: 'fleet-plan',
      mqtt: { url: mosquitto.url },
      twin: { path: join(tmp, 'twin.db') },
      http: { host: '127.0.0.1', port: 0, token: TOKEN },
    }),
  );
  gateway = startCli(['gateway', '--config', config], { STATE_DIRECTORY: tmp });
  await gateway.waitForOutput(/gateway http listening/, 60_000);
  base = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(gateway.output())![1]!;
  await waitFor('the twin to hold edge-01', async () => {
    const res = await fetch(`${base}api/twin/reports`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return ((await res.json()) as { reports: unknown[] }).reports.length === 1;
  });
});

afterAll(async () => {
  await gateway?.stop();
  await mosquitto?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('factorylm fleet plan', () => {
  it('prints, from the twin, which node would be upgraded or installed, its units and configs', async () => {
    const fleet = join(tmp, 'fleet.yaml');
    writeFileSync(
      fleet,
      stringify({
        projects: { 'factorylm-edge': { version: '9.9.9', service: 'factorylm-agent.service' } },
        nodes: { 'edge-01': ['factorylm-edge'], 'edge-02': ['factorylm-edge'] },
      }),
    );
    const configs = join(tmp, 'configs');
    mkdirSync(join(configs, 'edge-01'), { recursive: true });
    writeFileSync(join(configs, 'edge-01', 'agent.yaml'), 'site: plant1\n');
    const r = await runCli(
      ['fleet', 'plan', '--fleet', fleet, '--gateway', base, '--configs', configs],
      { FACTORYLM_TOKEN: TOKEN },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^edge-01 +upgrade 0\.\d+\.\d+ -> 9\.9\.9 +units: factorylm-agent\.service \S+ -> enable$/m,
    );
    // sha256 of "site: plant1\n"
    expect(r.stdout).toMatch(/^ +config agent\.yaml sha256 [0-9a-f]{16}$/m);
    expect(r.stdout).toMatch(/^edge-02 +install 9\.9\.9: not reporting to the gateway yet/m);
    expect(r.stdout).toMatch(/^2 of 2 node\(s\) would change\.$/m);
    const json = await runCli(['fleet', 'plan', '--fleet', fleet, '--gateway', base, '--json'], {
      FACTORYLM_TOKEN: TOKEN,
    });
    expect(JSON.parse(json.stdout).plans.map((p: { action: string }) => p.action)).toEqual([
      'upgrade',
      'install',
    ]);
  });

  it('a wrong token is a clear error, not a crash', async () => {
    const fleet = join(tmp, 'fleet.yaml');
    const r = await runCli([
      'fleet',
      'plan',
      '--fleet',
      fleet,
      '--gateway',
      base,
      '--token',
      'nope',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/HTTP 401/);
  });
});
