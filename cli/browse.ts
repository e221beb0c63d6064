import type { Command } from 'commander';
import { createRootLogger } from '../core/logger.js';
import type { BrowsedNode } from '../protocols/opcua/browse.js';
import {
  addOpcuaConnectionOptions,
  checkOpcuaUrl,
  identityFrom,
  oneShotConnection,
  type OpcuaCliOptions,
} from './opcua-options.js';
import { exitWithError, parseIntOption } from './run.js';

interface BrowseCliOptions extends OpcuaCliOptions {
  depth: number;
  filter?: string;
  yaml?: boolean;
  root?: string;
  device: string;
  maxNodes: number;
}

function printTree(nodes: BrowsedNode[], indent = ''): void {
  for (const n of nodes) {
    const detail =
      n.nodeClass === 'Variable'
        ? `  ${n.nodeId}  ${n.dataType ?? '?'}${n.writable ? ' rw' : ''}`
        : `  ${n.nodeId}`;
    console.log(`${indent}${n.nodeClass === 'Variable' ? '•' : '▸'} ${n.name}${detail}`);
    printTree(n.children, indent + '  ');
  }
}

export function registerBrowse(program: Command): void {
  addOpcuaConnectionOptions(
    program
      .command('browse')
      .description('Browse an OPC UA server: the address space as a tree, or --yaml for agent tags')
      .argument('<endpoint>', 'opc.tcp://host:port')
      .option('--depth <n>', 'levels below the start node', parseIntOption('--depth'), 6)
      .option('--filter <text>', 'only variables whose path or node id contains this text')
      .option('--root <nodeId>', 'start here instead of the Objects folder')
      .option('--yaml', 'print an agent devices: entry with every variable as a tag')
      .option('--device <name>', 'device name in the --yaml output', 'opcua1')
      .option(
        '--max-nodes <n>',
        'stop after this many nodes',
        parseIntOption('--max-nodes'),
        20_000,
      ),
  )
    .addHelpText(
      'after',
      `
The tree lists objects (▸) and variables (•) with their node id, data type and "rw" where the
server lets this user write. --yaml writes a ready tag list (writable: false on every tag until
you decide otherwise); paste it into the agent config under devices:.

Examples:
  factorylm browse opc.tcp://127.0.0.1:4840
  factorylm browse opc.tcp://10.0.0.7:4840 --filter Motor --depth 8
  factorylm browse opc.tcp://10.0.0.7:4840 --yaml --device line1 > line1-tags.yaml
  OPCUA_PASSWORD=… factorylm browse opc.tcp://plc:4840 --security-mode SignAndEncrypt \\
      --security-policy Basic256Sha256 --user operator`,
    )
    .action(async (endpoint: string, opts: BrowseCliOptions) => {
      let identity;
      try {
        checkOpcuaUrl(endpoint);
        identity = identityFrom(opts);
      } catch (err) {
        exitWithError(err);
      }
      const log = createRootLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
      // node-opcua loads only for OPC UA commands.
      const { withSession } = await import('../protocols/opcua/one-shot.js');
      const { browseTree } = await import('../protocols/opcua/browse.js');
      const { deviceYaml, tagEntries, topicSafe } = await import('../protocols/opcua/tag-list.js');
      const { routeLibraryLogs } = await import('../protocols/opcua/library-log.js');
      routeLibraryLogs(log);
      const result = await withSession(
        await oneShotConnection(endpoint, opts, identity),
        log.child({ component: 'browse' }),
        (session) =>
          browseTree(session, {
            depth: opts.depth,
            maxNodes: opts.maxNodes,
            ...(opts.filter ? { filter: opts.filter } : {}),
            ...(opts.root ? { root: opts.root } : {}),
          }),
      ).catch(exitWithError);
      if (result.truncated)
        console.error(`stopped after ${opts.maxNodes} nodes; narrow with --root or --filter`);
      if (opts.yaml)
        process.stdout.write(
          deviceYaml(endpoint, opts.device, tagEntries(result.nodes, topicSafe(opts.device))),
        );
      else printTree(result.nodes);
    });
}
