import { createRootLogger } from '../core/logger.js';
import { identityFrom, oneShotConnection, type OpcuaCliOptions } from './opcua-options.js';
import { exitWithError } from './run.js';

/** `factorylm read opc.tcp://… <node ids or browse paths>`: one Read, printed like the Modbus read. */
export async function readOpcua(
  endpoint: string,
  refs: string[],
  opts: OpcuaCliOptions & { json?: boolean; timeout: number },
): Promise<void> {
  const { parseNodeRef } = await import('../protocols/opcua/node-ref.js');
  let identity;
  let parsed;
  try {
    identity = identityFrom(opts);
    parsed = refs.map((r) => parseNodeRef(r.startsWith('/') ? { path: r } : { node: r }));
  } catch (err) {
    exitWithError(err);
  }
  const log = createRootLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const { routeLibraryLogs } = await import('../protocols/opcua/library-log.js');
  routeLibraryLogs(log);
  const { withSession } = await import('../protocols/opcua/one-shot.js');
  const { readRefs } = await import('../protocols/opcua/read.js');
  const rows = await withSession(
    { ...(await oneShotConnection(endpoint, opts, identity)), connectTimeoutMs: opts.timeout },
    log.child({ component: 'read' }),
    (session) => readRefs(session, refs, parsed),
  ).catch(exitWithError);
  if (opts.json) console.log(JSON.stringify(rows, null, 2));
  else {
    const width = Math.max(...rows.map((r) => r.node.length), 4);
    console.log(`${'node'.padEnd(width)}  value`);
    for (const r of rows) {
      const shown =
        r.quality === 'bad'
          ? `BAD (${r.reason})`
          : `${JSON.stringify(r.value)}${r.type ? `  ${r.type}` : ''}${r.quality === 'uncertain' ? `  UNCERTAIN (${r.reason})` : ''}${r.sourceTime ? `  ${r.sourceTime}` : ''}`;
      console.log(`${r.node.padEnd(width)}  ${shown}`);
    }
  }
  if (rows.some((r) => r.quality !== 'good')) process.exitCode = 1;
}
