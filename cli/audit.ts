import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { audit, checkFailures, type AuditResult } from '../inventory/audit.js';
import { DEFAULT_CLONE_OPTIONS } from '../inventory/code/clones.js';
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from '../inventory/code/graph-render.js';
import { loadFleet } from '../inventory/fleet.js';
import type { InventoryReport } from '../inventory/report.js';
import { renderMarkdown, renderText } from '../inventory/render.js';
import { decodeReport } from '../inventory/transport.js';
import { reportsFromGateway } from '../inventory/twin-client.js';
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
  graph?: GraphFormat;
  cloneSimilarity: number;
  cloneMinTokens: number;
}

function graphFormat(v: string): GraphFormat {
  if (!(GRAPH_FORMATS as readonly string[]).includes(v))
    throw new InvalidArgumentError(
      `--graph must be one of ${GRAPH_FORMATS.join(', ')}, got "${v}"`,
    );
  return v as GraphFormat;
}

function positiveInteger(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`--clone-min-tokens must be a positive integer, got "${v}"`);
  return n;
}

function percent(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > 100)
      throw new InvalidArgumentError(`${name} must be a percentage in (0, 100], got "${v}"`);
    return n;
  };
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

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'Fleet twin from inventory reports: duplicates, forks, drift, import graph, copied code, dead code',
    )
    .argument('[reports...]', 'inventory reports (factorylm inventory --out FILE)')
    .option('--gateway <url>', "read every node's latest report from a gateway's twin store")
    .option('--token <token>', 'bearer token of the gateway (or env FACTORYLM_TOKEN)')
    .option('--fleet <file>', 'desired state (fleet.yaml): report drift from it')
    .option('--json', 'print the twin as JSON')
    .option('--markdown', 'print the twin as a Markdown document')
    .option(
      '--graph <format>',
      `print the project graph only: ${GRAPH_FORMATS.join('|')}`,
      graphFormat,
    )
    .option(
      '--clone-similarity <percent>',
      'near-clone bar: share of winnowed fingerprints two files have in common',
      percent('--clone-similarity'),
      DEFAULT_CLONE_OPTIONS.similarity * 100,
    )
    .option(
      '--clone-min-tokens <n>',
      'files with fewer tokens are never reported as clones',
      positiveInteger,
      DEFAULT_CLONE_OPTIONS.minFileTokens,
    )
    .option('--check', 'exit 1 on any drift or on duplicates not in --baseline (for CI)')
    .option('--baseline <file>', 'earlier --json output: its duplicates do not fail --check')
    .option(
      '--fork-threshold <percent>',
      'near-duplicate bar: share of files in common',
      percent('--fork-threshold'),
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
        'Code (from reports with code facts): every Python/JS/TS import resolved to a',
        'scanned file, the standard library, a Node built-in, a declared dependency, or listed as',
        'unresolved. Each file is production (reachable from what a running unit or container runs),',
        'library (imported by another project), experimental (reachable only from scripts nothing',
        'runs), test, or dead. Clones: type 1 (same tokens), type 2 (names and literals renamed) and',
        'near (winnowed 20-token fingerprints, --clone-similarity of the larger file), per file and',
        'per function; "Copied, not imported" lists copies across projects with no import between',
        'them. --json carries the graph (code.files, code.edges).',
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
            ? await reportsFromGateway(opts.gateway, opts.token ?? process.env.FACTORYLM_TOKEN)
            : []),
        ];
        const fleet = opts.fleet ? await loadFleet(opts.fleet) : undefined;
        result = audit(reports, {
          forkThreshold: opts.forkThreshold / 100,
          clones: { similarity: opts.cloneSimilarity / 100, minFileTokens: opts.cloneMinTokens },
          ...(fleet ? { fleet } : {}),
        });
        if (opts.baseline)
          baseline = JSON.parse(await readFile(opts.baseline, 'utf8')) as AuditResult;
      } catch (err) {
        return exitWithError(err);
      }
      if (opts.graph && !result.code)
        return exitWithError(
          new Error(
            'no report carries code facts: scan again with factorylm inventory without --no-code',
          ),
        );
      process.stdout.write(
        opts.graph && result.code
          ? renderGraph(result.code, opts.graph)
          : opts.json
            ? JSON.stringify(result, null, 1) + '\n'
            : opts.markdown
              ? renderMarkdown(result)
              : renderText(result),
      );
      if (opts.check) {
        const failures = checkFailures(result, baseline);
        for (const f of failures) console.error(`check: ${f}`);
        // Not process.exit: it would cut a large --json still draining into a pipe.
        if (failures.length) process.exitCode = 1;
      }
    });
}
