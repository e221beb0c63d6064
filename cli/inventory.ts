import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { loadAgentConfig, type AgentConfig } from '../agent/config.js';
import { agentScanOptions, publishInventory } from '../agent/inventory-publisher.js';
import { createRootLogger } from '../core/logger.js';
import type { InventoryReport } from '../inventory/report.js';
import { formatBytes, formatCount, textTable } from '../inventory/render.js';
import { defaultCacheFile } from '../inventory/cache-file.js';
import { DEFAULT_MAX_FILE_BYTES, scanNode, type ScanOptions } from '../inventory/scan.js';
import { connectBroker } from '../protocols/mqtt/broker.js';
import { exitWithError } from './run.js';

interface InventoryOptions {
  json?: boolean;
  out?: string;
  maxFileMb?: number;
  ignore?: string[];
  cache: string | false;
  node?: string;
  site?: string;
  unitDir?: string[];
  dockerSocket?: string;
  publish?: boolean;
  config?: string;
  mqttUrl?: string;
  username?: string;
  publishTimeout: number;
  code: boolean;
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return n;
  };
}

/** A repeatable option; no default given to commander, so --help shows none. */
const collect = (v: string, all: string[] | undefined) => [...(all ?? []), v];

/** The human summary: one line per project, then services, containers and the counts. */
function summary(r: InventoryReport): string {
  const projects = r.projects.map((p) => {
    const langs = Object.entries(p.languages)
      .sort((a, b) => b[1].files - a[1].files)
      .slice(0, 3)
      .map(([l, s]) => `${l} ${s.files}`)
      .join(', ');
    const git = p.git
      ? p.git.error
        ? `git: ${p.git.error}`
        : `${p.git.branch ?? 'detached'}@${p.git.head?.slice(0, 8) ?? 'no commits'}${p.git.dirty ? ` +${p.git.dirty} dirty` : ''}`
      : '';
    return [
      p.path,
      p.kinds.join('+'),
      p.name,
      p.version ?? '',
      git,
      formatCount(p.files),
      formatBytes(p.bytes),
      langs,
    ];
  });
  const s = r.stats;
  const lines = [
    `${r.node.name} (${r.node.os}, ${r.node.arch}), factorylm ${r.node.version}; roots ${r.roots.join(', ')}`,
    '',
    textTable(
      ['Project', 'Kind', 'Name', 'Version', 'Git', 'Files', 'Size', 'Languages'],
      projects,
    ),
  ];
  if (r.services.length)
    lines.push(
      '',
      textTable(
        ['Service', 'State', 'Project', 'ExecStart'],
        r.services.map((u) => [u.name, u.state, u.project ?? '', u.execStart ?? '']),
      ),
    );
  if (r.containers.length)
    lines.push(
      '',
      textTable(
        ['Container', 'Image', 'State', 'Project'],
        r.containers.map((c) => [c.name, c.image, c.state, c.project ?? '']),
      ),
    );
  lines.push(
    '',
    `systemd: ${r.systemd}; docker: ${r.docker}`,
    `${formatCount(s.files)} files (${formatBytes(s.bytes)}) in ${r.projects.length} projects: ` +
      `${formatCount(s.hashed)} hashed, ${formatCount(s.cached)} from cache, ${s.tooLarge} over ` +
      `${formatBytes(r.maxFileBytes)}, ${s.unreadable} unreadable, ${s.ignored} ignored, ` +
      `${s.symlinks} symlinks not followed, ${formatCount(s.outsideProjects)} files outside projects; ` +
      `${r.durationMs} ms`,
  );
  return lines.join('\n') + '\n';
}

/**
 * Publishes retained and waits for the broker's acknowledgement, at most `--publish-timeout`
 * seconds: mqtt.js would otherwise retry an unreachable broker for ever.
 */
async function publish(
  report: InventoryReport,
  opts: InventoryOptions,
  agent: AgentConfig | undefined,
): Promise<string> {
  const url = opts.mqttUrl ?? agent?.mqtt.url;
  const site = opts.site ?? agent?.site;
  if (!url || !site)
    throw new Error('--publish needs --config agent.yaml, or --mqtt-url URL and --site SITE');
  const log = createRootLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const client = connectBroker(
    {
      ...(agent?.mqtt ?? { protocolVersion: 5 as const, keepaliveSec: 30 }),
      url,
      ...(opts.username ? { username: opts.username } : {}),
      ...(process.env.MQTT_PASSWORD ? { password: process.env.MQTT_PASSWORD } : {}),
    },
    { clientId: `factorylm-inventory-${report.node.name}-${process.pid}`, log },
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `no acknowledgement from ${url} in ${opts.publishTimeout} s: check the broker URL, credentials and ACL`,
          ),
        ),
      opts.publishTimeout * 1000,
    );
  });
  try {
    const bytes = await Promise.race([publishInventory(client, report, site), timeout]);
    return `published ${formatCount(bytes)} bytes to factorylm/${site}/_nodes/${report.node.name}/inventory (retained)`;
  } finally {
    clearTimeout(timer);
    // Forced: after a timeout the publish is still queued, and a polite end would wait for it.
    await client.endAsync(true);
  }
}

export function registerInventory(program: Command): void {
  program
    .command('inventory')
    .description(
      'Scan this node: code projects (git, Python, Node, script folders), systemd services, Docker',
    )
    .argument('[roots...]', 'folders to scan (default: the working directory)')
    .option('--json', 'print the whole report as JSON (what the agent publishes)')
    .option('-o, --out <file>', 'also write the JSON report to a file, for factorylm audit')
    .option(
      '--max-file-mb <n>',
      `files larger than this are listed, not read (default ${DEFAULT_MAX_FILE_BYTES / 1024 / 1024})`,
      positiveNumber('--max-file-mb'),
    )
    .option(
      '--ignore <pattern>',
      'skip files or folders (.factorylmignore syntax; repeatable)',
      collect,
    )
    .option('--cache <file>', `hash cache (default ${defaultCacheFile()})`)
    .option('--no-cache', 'read and hash every file')
    .option(
      '--no-code',
      'skip the code analysis (imports, entry points, clone fingerprints): files, hashes and duplicates only',
    )
    .option('--node <name>', 'node name in the report (default: the agent config, else host name)')
    .option('--site <site>', 'site for --publish (default: the agent config)')
    .option(
      '--unit-dir <dir>',
      'systemd unit folder (repeatable; default /etc/systemd/system)',
      collect,
    )
    .option('--docker-socket <path>', 'Docker Engine socket (default /var/run/docker.sock)')
    .option('--publish', 'publish the report retained on factorylm/<site>/_nodes/<node>/inventory')
    .option('-c, --config <file>', 'agent config: broker, site, node and inventory: settings')
    .option('--mqtt-url <url>', 'broker for --publish (password from env MQTT_PASSWORD)')
    .option('--username <user>', 'MQTT username for --publish')
    .option(
      '--publish-timeout <s>',
      'give up when the broker has not acknowledged the report after s seconds',
      positiveNumber('--publish-timeout'),
      30,
    )
    .addHelpText(
      'after',
      [
        '',
        'Skipped: node_modules, virtualenvs (any folder with pyvenv.cfg), .git internals, caches,',
        'and what .factorylmignore files say. Symbolic links are counted, never followed. Secret',
        'files (.env, keys) are listed by name and never opened. Unchanged files (same path, size,',
        'mtime, inode) take their hash from the cache. Reports over 64 KiB are published',
        'gzip-compressed (payload starts 1f 8b; MQTT 5 content type application/gzip).',
        '',
        'Code: each distinct Python/JS/TS file content is parsed once (tree-sitter) for its imports,',
        'functions, `if __name__ == "__main__"` and winnowed clone fingerprints; entry points come',
        'from pyproject/setup.py scripts, package.json bin/main/exports, Dockerfile CMD/ENTRYPOINT',
        'and Procfiles. Results are cached by content hash beside the file hashes, so a re-scan parses',
        'changed files only. Files that do not parse are listed with the reason. factorylm audit',
        'turns this into the import graph, file classes and clone groups (see its --help).',
        '',
        'Examples:',
        '  factorylm inventory /opt /srv /root',
        '  factorylm inventory /opt --out edge-01.json && factorylm audit edge-01.json',
        '  factorylm inventory --config /etc/factorylm/agent.yaml --publish',
      ].join('\n'),
    )
    .action(async (roots: string[], opts: InventoryOptions) => {
      try {
        const agent = opts.config ? await loadAgentConfig(opts.config) : undefined;
        const fromAgent: Partial<ScanOptions> = agent ? agentScanOptions(agent) : {};
        const report = await scanNode({
          ...fromAgent,
          roots: roots.length ? roots : (fromAgent.roots ?? [process.cwd()]),
          ...(opts.node ? { node: opts.node } : {}),
          ...(opts.site ? { site: opts.site } : {}),
          ...(opts.maxFileMb ? { maxFileBytes: Math.round(opts.maxFileMb * 1024 * 1024) } : {}),
          ignore: [...(fromAgent.ignore ?? []), ...(opts.ignore ?? [])],
          cacheFile:
            opts.cache === false
              ? undefined
              : (opts.cache ?? fromAgent.cacheFile ?? defaultCacheFile()),
          ...(opts.unitDir ? { unitDirs: opts.unitDir } : {}),
          ...(opts.dockerSocket ? { dockerSocket: opts.dockerSocket } : {}),
          ...(opts.code ? {} : { code: false }),
        });
        if (opts.out) await writeFile(opts.out, JSON.stringify(report));
        process.stdout.write(opts.json ? JSON.stringify(report, null, 1) + '\n' : summary(report));
        if (opts.publish) console.error(await publish(report, opts, agent));
      } catch (err) {
        exitWithError(err);
      }
    });
}
