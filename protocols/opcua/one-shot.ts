import type { ClientSession } from 'node-opcua-client';
import { explainConnectError } from './errors.js';
import {
  createClient,
  DEFAULT_CONNECTION,
  userIdentity,
  type ConnectionOptions,
} from './connection.js';
import { ensureApplicationCertificate } from './pki.js';
import type { Logger } from '../../core/logger.js';

/**
 * One session for a command-line tool (browse, read): connect, run `work`, close, with the
 * same certificate handling and error explanations as the agent, and no reconnecting.
 */
export async function withSession<T>(
  options: Omit<ConnectionOptions, keyof typeof DEFAULT_CONNECTION> & Partial<ConnectionOptions>,
  log: Logger,
  work: (session: ClientSession) => Promise<T>,
): Promise<T> {
  const full: ConnectionOptions = { ...DEFAULT_CONNECTION, ...options };
  await ensureApplicationCertificate(full.application, log);
  const client = createClient({ ...full, sessionTimeoutMs: 30_000 });
  let session: ClientSession;
  try {
    await client.connect(full.endpoint);
    session = await client.createSession(userIdentity(full.identity));
  } catch (err) {
    await client.disconnect().catch(() => undefined);
    throw new Error(explainConnectError(err, full), { cause: err });
  }
  try {
    return await work(session);
  } finally {
    await session.close().catch(() => undefined);
    await client.disconnect().catch(() => undefined);
  }
}
