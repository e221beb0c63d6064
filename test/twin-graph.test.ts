import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditResult } from '../inventory/audit.js';
import { launchChromium } from './support/chromium.js';
import { writeCodeTwinFixture, type CodeTwinFixture } from './support/code-twin-fixture.js';
import { startGateway } from './support/pipeline.js';
import { runCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * The code graph on the gateway's twin page: the code-twin workspace (alpha run by a systemd
 * unit, beta with alpha's modules pasted in, gamma importing alpha, a scratch script) scanned
 * and published by the CLI through a real Mosquitto, stored by a real gateway, drawn by
 * cytoscape in headless Chromium. What the page drew is read back from its cytoscape instance.
 */
const TOKEN = 'twin-graph-token-0123456789abcdef';
const SITE = 'plant1';
const NODE = 'edge-01';
const ARTIFACTS = 'test-artifacts';

/** CLASS_COLOURS of inventory/code/graph-render.ts, as the browser reports computed colours. */
const RGB = {
  production: 'rgb(31,138,76)',
  experimental: 'rgb(214,137,16)',
  dead: 'rgb(192,57,43)',
};

let tmp: string;
let fx: CodeTwinFixture;
let mosquitto: Service;
let gateway: Running;
let browser: BrowserContext;
let profile: string;
let base: string;
const project = (rel: string) => `${NODE}:${fx.at(rel)}`;
const file = (rel: string) => `${NODE}:${fx.at(rel)}`;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'factorylm-twin-graph-'));
  fx = writeCodeTwinFixture(tmp);
  mosquitto = await startMosquitto();
  gateway = await startGateway({
    name: 'twin-graph',
    mqtt: { url: mosquitto.url },
    twin: { path: join(tmp, 'twin.db') },
    http: { host: '127.0.0.1', port: 0, token: TOKEN },
  });
  base = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(gateway.output())![1]!;
  const published = await runCli(
    [
      'inventory',
      fx.root,
      '--node',
      NODE,
      '--site',
      SITE,
      '--publish',
      '--mqtt-url',
      mosquitto.url,
      '--no-cache',
      '--unit-dir',
      fx.units,
      '--docker-socket',
      join(tmp, 'no-docker.sock'),
    ],
    fx.env,
  );
  expect(published.stderr).toMatch(/published [\d,]+ bytes to factorylm\/plant1\/_nodes\/edge-01/);
  expect(published.code).toBe(0);
  profile = mkdtempSync(join(tmpdir(), 'factorylm-chromium-'));
  browser = await launchChromium(profile);
  // A scan, a gateway and a browser on a shared 2-core machine: minutes, not seconds, at worst.
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await mosquitto?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface DrawnNode {
  id: string;
  cls: string;
  colour: string;
  visible: boolean;
}
interface DrawnEdge {
  source: string;
  target: string;
  kind: string;
  count: number;
  lineStyle: string;
}

/** The part of cytoscape's API the tests read (the page exposes its graph as twinGraph). */
interface CyElement {
  id(): string;
  data(key: string): unknown;
  style(key: string): string;
  visible(): boolean;
  renderedPosition(): { x: number; y: number };
  renderedBoundingBox(): { x1: number; y1: number; x2: number; y2: number };
}
interface TwinPage {
  twinGraph: {
    nodes(): CyElement[];
    edges(): CyElement[];
    $id(id: string): CyElement;
    width(): number;
    height(): number;
  };
}

/** What cytoscape drew, from the page's instance. */
function drawn(page: Page): Promise<{ nodes: DrawnNode[]; edges: DrawnEdge[] }> {
  return page.evaluate(() => {
    const cy = (globalThis as unknown as TwinPage).twinGraph;
    const inside = (n: CyElement) => {
      const b = n.renderedBoundingBox();
      return n.visible() && b.x1 >= 0 && b.y1 >= 0 && b.x2 <= cy.width() && b.y2 <= cy.height();
    };
    return {
      nodes: cy.nodes().map((n) => ({
        id: n.id(),
        cls: n.data('cls') as string,
        colour: n.style('background-color').replace(/\s/g, ''),
        visible: inside(n),
      })),
      edges: cy.edges().map((e) => ({
        source: e.data('source') as string,
        target: e.data('target') as string,
        kind: e.data('kind') as string,
        count: e.data('count') as number,
        lineStyle: e.style('line-style'),
      })),
    };
  });
}

describe('twin page: the code graph (cytoscape)', { timeout: 180_000 }, () => {
  it('serves cytoscape without the token, as it holds no data', async () => {
    const res = await fetch(`${base}cytoscape.min.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await res.text()).toContain('cytoscape');
  });

  it('draws projects coloured by class, imports and copies as edges; a click lists the files', async () => {
    const twin = await waitFor('the report in the twin store', async () => {
      const res = await fetch(`${base}api/twin`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      const body = (await res.json()) as AuditResult;
      return body.nodes.length === 1 ? body : undefined;
    });
    expect(twin.code?.graph.projects).toHaveLength(4);

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    expect((await page.goto(`${base}twin?token=${TOKEN}`))?.status()).toBe(200);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 60_000 });
    await page.locator('#graph').scrollIntoViewIfNeeded();

    const { nodes, edges } = await drawn(page);
    expect(nodes.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([
      { id: project('alpha'), cls: 'production', colour: RGB.production, visible: true },
      { id: project('beta'), cls: 'experimental', colour: RGB.experimental, visible: true },
      { id: project('gamma'), cls: 'dead', colour: RGB.dead, visible: true },
      { id: project('scratch'), cls: 'experimental', colour: RGB.experimental, visible: true },
    ]);
    // Imports inside a project are not project edges; gamma imports alpha, beta copied it.
    expect(edges.sort((a, b) => (a.kind < b.kind ? -1 : 1))).toEqual([
      {
        source: project('beta'),
        target: project('alpha'),
        kind: 'copies',
        count: 2,
        lineStyle: 'dashed',
      },
      {
        source: project('gamma'),
        target: project('alpha'),
        kind: 'imports',
        count: 1,
        lineStyle: 'solid',
      },
    ]);
    expect(await page.textContent('#code-summary')).toMatch(
      /^14 code files, [\d,]+ lines · 12 imports resolved, 1 unresolved · 2 clone groups, 2 copied, not imported · /,
    );

    // A real mouse click on beta's node, where cytoscape drew it.
    const box = (await page.locator('#graph').boundingBox())!;
    const at = await page.evaluate(
      (id) => (globalThis as unknown as TwinPage).twinGraph.$id(id).renderedPosition(),
      project('beta'),
    );
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await page.waitForSelector(`body[data-project="${project('beta')}"]`, { timeout: 60_000 });
    const rows = await page
      .locator('#files tr[data-file]')
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.getAttribute('data-file'),
          tr.getAttribute('data-class'),
          tr.children[4]!.textContent,
        ]),
      );
    expect(rows).toEqual([
      [
        file('beta/core_copy.py'),
        'experimental',
        expect.stringMatching(
          new RegExp(`^${escape(file('alpha/alpha/core.py'))} \\(near, \\d+ %\\)$`),
        ),
      ],
      [file('beta/main.py'), 'experimental', ''],
      [file('beta/tools.py'), 'experimental', `${file('alpha/alpha/util.py')} (type 2)`],
      [file('beta/legacy.py'), 'dead', ''],
    ]);
    expect(await page.textContent('#files-title')).toBe(`Files of beta (${project('beta')}): 4`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'twin-graph.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
