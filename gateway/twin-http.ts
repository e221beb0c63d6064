import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { sendJson, type RawRoute } from '../core/http-server.js';
import { packageRoot } from '../core/package-info.js';
import type { AuditResult } from '../inventory/audit.js';
import type { TwinStore } from './twin-store.js';

/** Per project name, where each node has it and at which version and commit. */
export function versions(twin: AuditResult): Record<string, Record<string, object[]>> {
  const out: Record<string, Record<string, object[]>> = {};
  for (const p of twin.projects) {
    const nodes = (out[p.name] ??= {});
    (nodes[p.node] ??= []).push({
      path: p.path,
      ...(p.version ? { version: p.version } : {}),
      ...(p.commit ? { commit: p.commit } : {}),
      ...(p.dirty ? { dirty: p.dirty } : {}),
      fingerprint: p.fingerprint,
      usage: p.usage,
    });
  }
  return out;
}

function query(req: IncomingMessage): URLSearchParams {
  return new URLSearchParams((req.url ?? '').split('?', 2)[1] ?? '');
}

/**
 * The fleet twin over HTTP: JSON under /api/twin and the page at /twin. The whole audit at
 * /api/twin, its parts at /api/twin/{nodes,projects,versions,duplicates,drift}, the nodes' latest
 * raw reports at /api/twin/reports (what `factorylm audit --gateway` reads), and the stored
 * history at /api/twin/history[?node=].
 */
export function twinRoutes(twin: () => TwinStore | undefined): Map<string, RawRoute> {
  const page = readFileSync(join(packageRoot(), 'gateway/web/twin.html'));
  const script = readFileSync(join(packageRoot(), 'gateway/web/twin.js'));
  // The page's graph library: one self-contained UMD file from node_modules, no CDN, no build.
  const cytoscape = readFileSync(
    createRequire(import.meta.url).resolve('cytoscape/dist/cytoscape.min.js'),
  );
  const asset =
    (body: Buffer): RawRoute =>
    (_req, res) => {
      res.writeHead(200, {
        'Content-Type': 'text/javascript; charset=utf-8',
        'Cache-Control': 'no-cache',
      });
      res.end(body);
    };
  const withStore =
    (handler: (store: TwinStore, req: IncomingMessage) => object): RawRoute =>
    (req, res) => {
      const store = twin();
      if (!store)
        return sendJson(res, 404, {
          error: 'this gateway keeps no fleet twin: add a twin: section to its config',
        });
      sendJson(res, 200, handler(store, req));
    };
  return new Map<string, RawRoute>([
    ['/api/twin', withStore((s) => s.twin())],
    ['/api/twin/nodes', withStore((s) => ({ nodes: s.twin().nodes }))],
    ['/api/twin/projects', withStore((s) => ({ projects: s.twin().projects }))],
    ['/api/twin/versions', withStore((s) => ({ versions: versions(s.twin()) }))],
    ['/api/twin/duplicates', withStore((s) => s.twin().duplicates)],
    ['/api/twin/drift', withStore((s) => ({ drift: s.twin().drift }))],
    ['/api/twin/reports', withStore((s) => ({ reports: s.reports() }))],
    [
      '/api/twin/history',
      withStore((s, req) => ({ history: s.history(query(req).get('node') ?? undefined) })),
    ],
    [
      '/twin',
      (_req, res) => {
        // A newcomer gets how to turn the feature on, not an HTTP code on an empty page.
        if (!twin()) return featureOff(res, 'The fleet twin is off on this gateway', TWIN_OFF_HELP);
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Cache-Control': 'no-cache',
        });
        res.end(page);
      },
    ],
    ['/twin.js', asset(script)],
    ['/cytoscape.min.js', asset(cytoscape)],
  ]);
}

const TWIN_OFF_HELP = [
  'Add a twin: section to the gateway config and restart it, e.g.',
  '  twin:\n    path: /var/lib/factorylm/twin.db',
  'and set inventory.enabled: true in each agent config, so the nodes publish their inventory.',
  'All settings: factorylm config schema gateway; examples in deploy/examples/.',
];

/** A short HTML page saying a feature is off and how to turn it on (404: there is nothing here). */
export function featureOff(res: ServerResponse, title: string, help: string[]): void {
  const escape = (t: string) =>
    t.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
  res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
      `<body style="font-family:system-ui,sans-serif;margin:2rem;max-width:48rem"><h1>${escape(title)}</h1>` +
      `<pre style="background:#f4f5f7;padding:1rem">${escape(help.join('\n'))}</pre></body></html>`,
  );
}

/** The page's scripts hold no data: they can be served without the token, like live.js. */
export const TWIN_PUBLIC_PATHS = ['/twin.js', '/cytoscape.min.js'];
