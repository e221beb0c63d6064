import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditResult } from '../inventory/audit.js';
import type { HistoryRow } from '../gateway/twin-store.js';
import { decodeReport, isGzip } from '../inventory/transport.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { launchChromium } from './support/chromium.js';
import { SECRET, writeUnit } from './support/inventory-fixture.js';
import { startGateway, startSimulator, writeConfig } from './support/pipeline.js';
import { runCli, startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'twin-test-token-0123456789abcdef';
const SITE = 'plant1';
const ARTIFACTS = 'test-artifacts';
/** Enough files that each report is over the compression threshold (64 KiB). */
const HISTORIAN_FILES = 1500;

let tmp: string;
let mosquitto: Service;
let sim: Micro820Simulator;
let gateway: Running;
let agent: Running;
let browser: BrowserContext;
let profile: string;
let base: string;
let gatewayConfig: Record<string, unknown>;
let fleet: string;
const roots = { a: '', b: '' };
const paths = { historian: '', historianCopy: '', plcA: '', plcB: '' };
let historianBytes = 0;

function pythonProject(dir: string, version: string, extra: Record<string, string> = {}) {
  const files: Record<string, string> = {
    'pyproject.toml': `[project]\nname = "plc-copilot"\nversion = "${version}"\n`,
    'photo_to_cmms_bot.py': `VERSION = "${version}"\n`,
    'cmms_bot.py': 'def handle(msg):\n    return msg\n',
    ...extra,
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
}

const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, auth);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'factorylm-twin-'));
  roots.a = join(tmp, 'edge-01', 'opt');
  roots.b = join(tmp, 'edge-02', 'opt');
  // edge-01: plc-copilot 1.4.0 (with a .env) and a historian its systemd unit runs.
  paths.plcA = join(roots.a, 'plc-copilot');
  pythonProject(paths.plcA, '1.4.0', { '.env': `TELEGRAM_TOKEN=${SECRET}\n` });
  paths.historian = join(roots.a, 'historian');
  mkdirSync(join(paths.historian, 'lib'), { recursive: true });
  writeFileSync(
    join(paths.historian, 'package.json'),
    JSON.stringify({ name: 'historian', version: '2.0.0' }),
  );
  for (let i = 0; i < HISTORIAN_FILES; i++)
    writeFileSync(join(paths.historian, 'lib', `tag_${i}.js`), `export const tag${i} = ${i};\n`);
  historianBytes = Buffer.byteLength(JSON.stringify({ name: 'historian', version: '2.0.0' }));
  for (let i = 0; i < HISTORIAN_FILES; i++)
    historianBytes += Buffer.byteLength(`export const tag${i} = ${i};\n`);
  writeUnit(join(tmp, 'units-a'), 'historian.service', paths.historian, 'lib/tag_0.js');
  // edge-02: plc-copilot one version behind, and a forgotten copy of edge-01's historian.
  paths.plcB = join(roots.b, 'plc-copilot');
  pythonProject(paths.plcB, '1.3.0');
  paths.historianCopy = join(roots.b, 'backup', 'historian');
  cpSync(paths.historian, paths.historianCopy, { recursive: true });

  mosquitto = await startMosquitto();
  // edge-01 publishes before the gateway runs: the gateway must get it as a retained message.
  const published = await runCli([
    'inventory',
    roots.a,
    '--node',
    'edge-01',
    '--site',
    SITE,
    '--publish',
    '--mqtt-url',
    mosquitto.url,
    '--no-cache',
    '--unit-dir',
    join(tmp, 'units-a'),
  ]);
  expect(published.stderr).toMatch(/published [\d,]+ bytes to factorylm\/plant1\/_nodes\/edge-01/);
  expect(published.code).toBe(0);

  fleet = join(tmp, 'fleet.yaml');
  writeFileSync(
    fleet,
    [
      'projects:',
      '  plc-copilot: { version: 1.4.0 }',
      'nodes:',
      '  edge-01: [plc-copilot, historian]',
      '  edge-02: [plc-copilot]',
      '',
    ].join('\n'),
  );
  gatewayConfig = {
    name: 'twin',
    mqtt: { url: mosquitto.url },
    twin: { path: join(tmp, 'twin.db'), fleet },
    http: { host: '127.0.0.1', port: 0, token: TOKEN },
  };
  gateway = await startGateway(gatewayConfig);
  base = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(gateway.output())![1]!;

  // edge-02 is a real agent that scans at start (inventory.enabled).
  sim = await startSimulator();
  const agentFile = writeConfig('agent', {
    site: SITE,
    area: 'packaging',
    line: 'line1',
    node: 'edge-02',
    mqtt: { url: mosquitto.url },
    devices: [
      {
        name: 'plc',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: sim.port,
        asset: 'conveyor1',
        tags: [{ name: 'motor_speed', address: 'hr:100' }],
      },
    ],
    health: { port: 0, publishIntervalMs: 1000 },
    inventory: {
      enabled: true,
      roots: [roots.b, join(tmp, 'does-not-exist')],
      cacheFile: join(tmp, 'agent-cache.db'),
      unitDirs: [join(tmp, 'no-units')],
      dockerSocket: join(tmp, 'no-docker.sock'),
    },
  });
  agent = startCli(['agent', '--config', agentFile]);
  // The scan parses ~1,500 JS files in a nice 10 child process: slow on a busy machine.
  await agent.waitForOutput(/"msg":"inventory published"/, 180_000);

  profile = mkdtempSync(join(tmpdir(), 'factorylm-chromium-'));
  browser = await launchChromium(profile);
  // Two scans, a gateway, an agent and a browser on a shared 2-core machine.
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await gateway?.stop();
  await sim?.stop();
  await mosquitto?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe(
  'fleet twin: two nodes → Mosquitto → gateway twin store → audit, API and page',
  { timeout: 180_000 },
  () => {
    it('stores both nodes, once each, with the report compressed on the wire', async () => {
      const nodes = await waitFor('both inventories in the twin store', async () => {
        const body = await api<{ nodes: { name: string }[] }>('api/twin/nodes');
        return body.nodes.length === 2 ? body.nodes : undefined;
      });
      expect(nodes.map((n) => n.name)).toEqual(['edge-01', 'edge-02']);
      // The agent's report reaches the gateway twice (shared subscription and the direct one that
      // retained messages need) and is stored once.
      const { history } = await api<{ history: HistoryRow[] }>('api/twin/history');
      expect(history.map((h) => h.node).sort()).toEqual(['edge-01', 'edge-02']);
      expect(history.find((h) => h.node === 'edge-01')).toMatchObject({
        site: SITE,
        projects: 2,
        files: 3 + 1 + HISTORIAN_FILES + 1,
      });

      // What the broker holds, retained: gzip, and a valid report without the secret.
      const client = await mqtt.connectAsync(mosquitto.url);
      const payloads = new Map<string, Buffer>();
      client.on('message', (topic, payload) => payloads.set(topic, payload));
      await client.subscribeAsync(`factorylm/${SITE}/_nodes/+/inventory`);
      await waitFor('both retained inventories', () => payloads.size === 2);
      // The agent's health says what its inventory did.
      await client.subscribeAsync(`factorylm/${SITE}/_nodes/edge-02/health`);
      const health = await waitFor('agent health', () => {
        const h = payloads.get(`factorylm/${SITE}/_nodes/edge-02/health`);
        return h && (JSON.parse(h.toString()) as { inventory?: object }).inventory;
      });
      expect(health).toEqual({
        published: 1,
        failed: 0,
        lastBytes: payloads.get(`factorylm/${SITE}/_nodes/edge-02/inventory`)!.length,
      });
      await client.endAsync();
      for (const node of ['edge-01', 'edge-02']) {
        const topic = `factorylm/${SITE}/_nodes/${node}/inventory`;
        const payload = payloads.get(topic)!;
        expect(isGzip(payload), topic).toBe(true);
        const decoded = decodeReport(payload);
        expect(decoded.ok).toBe(true);
        expect(JSON.stringify(decoded.ok && decoded.value)).not.toContain(SECRET);
      }
    });

    it('finds the cross-node duplicate and the drift from fleet.yaml through factorylm audit --gateway', async () => {
      const r = await runCli([
        'audit',
        '--gateway',
        base,
        '--token',
        TOKEN,
        '--fleet',
        fleet,
        '--json',
        '--check',
      ]);
      expect(r.code).toBe(1);
      const twin = JSON.parse(r.stdout) as AuditResult;
      expect(twin.duplicates.exact).toEqual([
        expect.objectContaining({
          files: HISTORIAN_FILES + 1,
          bytes: historianBytes,
          // The copy a (installed) systemd unit points at is the source.
          source: `edge-01:${paths.historian}`,
          copies: [`edge-02:${paths.historianCopy}`],
        }),
      ]);
      expect(twin.duplicates.kill).toContainEqual(
        expect.objectContaining({
          id: `edge-02:${paths.historianCopy}`,
          files: HISTORIAN_FILES + 1,
          bytes: historianBytes,
          action: 'DELETE',
          reason: `exact copy of edge-01:${paths.historian}`,
        }),
      );
      expect(twin.duplicates.recovered.delete).toBe(historianBytes);
      expect(twin.drift.map((d) => [d.node, d.project, d.kind, d.expected, d.actual])).toEqual([
        ['edge-02', 'plc-copilot', 'version', '1.4.0', '1.3.0'],
        ['*', 'plc-copilot', 'between-nodes', undefined, undefined],
      ]);
      expect(twin.drift[1]!.detail).toBe('versions differ: edge-01=1.4.0, edge-02=1.3.0');
      expect(r.stderr).toContain(`check: duplicate: edge-02:${paths.historianCopy} (DELETE`);

      // The gateway's own audit (with the fleet.yaml of its twin: section) says the same.
      const served = await api<AuditResult>('api/twin');
      expect(served.drift).toEqual(twin.drift);
      expect(served.duplicates.kill).toEqual(twin.duplicates.kill);
      const { versions } = await api<{
        versions: Record<string, Record<string, { version: string }[]>>;
      }>('api/twin/versions');
      expect(versions['plc-copilot']).toEqual({
        'edge-01': [expect.objectContaining({ version: '1.4.0', path: paths.plcA })],
        'edge-02': [expect.objectContaining({ version: '1.3.0', path: paths.plcB })],
      });
      for (const path of ['api/twin/reports', 'api/twin', 'api/twin/projects']) {
        const text = await (await fetch(`${base}${path}`, auth)).text();
        expect(text).not.toContain(SECRET);
      }
      expect((await fetch(`${base}api/twin`)).status).toBe(401);
    });

    it('shows the fleet and the duplicates on the twin page, on a desktop and a phone', async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      for (const [name, viewport] of [
        ['twin-page.png', { width: 1280, height: 900 }],
        ['twin-page-phone.png', { width: 390, height: 844 }],
      ] as const) {
        const page = await browser.newPage();
        await page.setViewportSize(viewport);
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        const res = await page.goto(`${base}twin?token=${TOKEN}`);
        expect(res?.status()).toBe(200);
        await page.waitForSelector('body[data-loaded="true"]', { timeout: 60_000 });
        expect(
          await page
            .locator('#nodes tr[data-node]')
            .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node'))),
        ).toEqual(['edge-01', 'edge-02']);
        const del = page.locator(`#kill tr[data-id="edge-02:${paths.historianCopy}"]`);
        expect(await del.getAttribute('data-action')).toBe('DELETE');
        expect(await del.textContent()).toContain(`exact copy of edge-01:${paths.historian}`);
        expect(await page.locator('#drift tbody tr').count()).toBe(2);
        expect(await page.textContent('#summary')).toMatch(/^2 nodes · 4 projects · /);
        await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
        expect(errors).toEqual([]);
        await page.close();
      }
    });

    it('keeps the reports across a gateway restart (durable store)', async () => {
      const before = await api<{ history: HistoryRow[] }>('api/twin/history');
      // The browser still holds connections to the page: SIGTERM must stop it all the same.
      await gateway.stop();
      expect(gateway.child.exitCode).toBe(0);
      gateway = await startGateway(gatewayConfig);
      base = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(gateway.output())![1]!;
      // The rows come from SQLite; the retained reports the broker sends the new session are
      // recognised as already stored, so no row is added.
      const after = await api<{ history: HistoryRow[] }>('api/twin/history');
      expect(after.history).toEqual(before.history);
      expect(readFileSync(join(tmp, 'twin.db')).length).toBeGreaterThan(0);
    });
  },
);
