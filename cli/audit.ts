import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { audit, checkFailures, type AuditResult } from '../inventory/audit.js';
import { loadFleet } from '../inventory/fleet.js';
import type { InventoryReport } from '../inventory/report.js';
import { renderMarkdown, renderText } from '../inventory/render.js';
import { decodeReport } from '../inventory/transport.js';
import { exitWithError } from './run.js';

interface AuditOptions {
  gateway?: string;
  token?: string;
  fleet?: string;
  json?: boolean;
  markdown?: boolean;
  check?: boolean;
  baseline?: string;
  forkThreshold: number;
}

function percent(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 100)
    throw new Error(`--fork-threshold must be a percentage in (0, 100], got "${v}"`);
  return n;
}

/** Reports from files (JSON, or gzip as published), each validated against the schema. */
async function fromFiles(files: string[]): Promise<InventoryReport[]> {
  return Promise.all(
    files.map(async (file) => {
      const decoded = decodeReport(await readFile(file));
      if (!decoded.ok) throw new Error(`${file}: not an inventory report (${decoded.detail})`);
      return decoded.value;
    }),
  );
}

/** The latest report of every node the gateway's twin store holds. */
async function fromGateway(url: string, token: string | undefined): Promise<InventoryReport[]> {
  const res = await fetch(new URL('api/twin/reports', url.endsWith('/') ? url : url + '/'), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { reports: unknown[] };
  return body.reports.map((r, i) => {
    const decoded = decodeReport(Buffer.from(JSON.stringify(r)));
    if (!decoded.ok) throw new Error(`${url}: report ${i}: ${decoded.detail}`);
    return decoded.value;
  });
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'Fleet twin from inventory reports: exact duplicates, forks, production vs experimental, drift',
    )
    .argument('[reports...]', 'inventory reports (factorylm inventory --out FILE)')
    .option('--gateway <url>', "read every node's latest report from a gateway's twin store")
    .option('--token <token>', 'bearer token of the gateway (or env FACTORYLM_TOKEN)')
    .option('--fleet <file>', 'desired state (fleet.yaml): report drift from it')
    .option('--json', 'print the twin as JSON')
    .option('--markdown', 'print the twin as a Markdown document')
    .option('--check', 'exit 1 on any drift or on duplicates not in --baseline (for CI)')
    .option('--baseline <file>', 'earlier --json output: its duplicates do not fail --check')
    .option(
      '--fork-threshold <percent>',
      'near-duplicate bar: share of files in common',
      percent,
      60,
    )
    .addHelpText(
      'after',
      [
        '',
        'A copy a running service or container uses is never marked DELETE. The source of a set of',
        'copies is, in order: the one production runs, one with a git remote, a git repository, the',
        'newest commit, the oldest files. Exit codes: 0 fine; 1 --check found drift or duplicates,',
        'or an error; 2 an invalid fleet.yaml.',
        '',
        'Examples:',
        '  factorylm audit edge-01.json edge-02.json --markdown > TWIN.md',
        '  factorylm audit --gateway http://gateway:8080 --fleet fleet.yaml --check',
      ].join('\n'),
    )
    .action(async (files: string[], opts: AuditOptions) => {
      let result: AuditResult;
      let baseline: AuditResult | undefined;
      try {
        if (!opts.gateway && files.length === 0)
          throw new Error('give report files or --gateway URL');
        const reports = [
          ...(await fromFiles(files)),
          ...(opts.gateway
            ? await fromGateway(opts.gateway, opts.token ?? process.env.FACTORYLM_TOKEN)
            : []),
        ];
        const fleet = opts.fleet ? await loadFleet(opts.fleet) : undefined;
        result = audit(reports, {
          forkThreshold: opts.forkThreshold / 100,
          ...(fleet ? { fleet } : {}),
        });
        if (opts.baseline)
          baseline = JSON.parse(await readFile(opts.baseline, 'utf8')) as AuditResult;
      } catch (err) {
        return exitWithError(err);
      }
      process.stdout.write(
        opts.json
          ? JSON.stringify(result, null, 1) + '\n'
          : opts.markdown
            ? renderMarkdown(result)
            : renderText(result),
      );
      if (opts.check) {
        const failures = checkFailures(result, baseline);
        for (const f of failures) console.error(`check: ${f}`);
        if (failures.length) process.exit(1);
      }
    });
}
