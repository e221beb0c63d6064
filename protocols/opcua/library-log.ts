import { format } from 'node:util';
import { setErrorLogger, setWarningLogger } from 'node-opcua-client';
import type { Logger } from '../../core/logger.js';

/**
 * node-opcua writes its own warnings with console.log, i.e. to stdout, where they would corrupt
 * command output (`factorylm browse --yaml > tags.yaml`) and bypass the JSON logs. Route them
 * into pino instead, as lines of the `opcua-lib` component on stderr.
 */
export function routeLibraryLogs(log: Logger): void {
  const lib = log.child({ component: 'opcua-lib' });
  const forward =
    (level: 'warn' | 'error') =>
    (context?: unknown, ...args: unknown[]) => {
      // node-opcua passes its caller's file and line first, then the message parts.
      const ctx = (context ?? {}) as { filename?: string; callerline?: number };
      const msg = format(...args);
      // The startup probe for RSA PKCS#1 v1.5 decryption (Node >= 20.11 disables it): only the
      // Basic128Rsa15/Basic256 policies need it, and we offer neither.
      if (/NODE-OPCUA-W27|CVE-2023-46809|node version v/.test(msg)) return lib.debug(msg);
      lib[level]({ at: `${ctx.filename ?? '?'}:${ctx.callerline ?? '?'}` }, msg);
    };
  setWarningLogger(forward('warn'));
  setErrorLogger(forward('error'));
}
