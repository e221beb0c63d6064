import { readFileSync } from 'node:fs';
import {
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type ClientSession,
  type UserIdentityInfo,
} from 'node-opcua-client';
import { Backoff, sleep } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { explainConnectError } from './errors.js';
import type { SecurityModeName, SecurityPolicyName } from './security.js';
import {
  certificateManager,
  ensureApplicationCertificate,
  type ApplicationIdentity,
} from './pki.js';

export type Identity =
  | { type: 'anonymous' }
  | { type: 'username'; username: string; password: string }
  /** An X.509 user certificate (PEM files), distinct from the application certificate. */
  | { type: 'certificate'; certificate: string; privateKey: string };

export interface ConnectionOptions {
  /** Device name, for logs and errors. */
  name: string;
  endpoint: string;
  securityMode: SecurityModeName;
  securityPolicy: SecurityPolicyName;
  identity: Identity;
  application: ApplicationIdentity;
  /** Accept a server certificate not in trusted/ (commissioning only; logs a warning). */
  acceptUnknownServerCertificate: boolean;
  /** Session timeout asked of the server, ms. */
  sessionTimeoutMs: number;
  /** Give up on connect + session creation after this long, ms. */
  connectTimeoutMs: number;
  /** Reconnect delays: capped exponential with jitter. */
  backoff: { initialMs: number; maxMs: number };
}

export const DEFAULT_CONNECTION: Pick<
  ConnectionOptions,
  'sessionTimeoutMs' | 'connectTimeoutMs' | 'backoff' | 'acceptUnknownServerCertificate'
> = {
  sessionTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  backoff: { initialMs: 500, maxMs: 30_000 },
  acceptUnknownServerCertificate: false,
};

export interface ConnectionStatus {
  connected: boolean;
  lastError?: string;
  /** Sessions created over the connection's life (1 + successful reconnects). */
  sessions: number;
  /** Connection or session failures that led to a reconnect. */
  failures: number;
}

/**
 * Whoever uses the session. `setup` runs on every new session (browse paths, subscriptions);
 * when it throws, the connection starts over. `lost` runs once per session that ends.
 */
export interface SessionUser {
  setup(session: ClientSession, lost: AbortSignal): Promise<void>;
  lost(reason: string): void;
}

/**
 * One OPC UA server connection that recovers by itself. Each attempt builds a fresh client,
 * secure channel and session; any sign of trouble (socket closed, session closed, or `fail()`
 * from the user: a silent subscription, failing polls) tears everything down and starts over
 * after a capped, jittered delay, every resource released before the next attempt.
 * node-opcua's own channel reconnection is off (maxRetry 0). Its session repair is not: a Read
 * or Write answered with BadSessionIdInvalid makes it create a new session on the same channel,
 * transfer or re-create the subscriptions and retry; should that stall, the user's watchdog
 * notices the silence and this loop starts over.
 */
export class OpcuaConnection {
  readonly status: ConnectionStatus = { connected: false, sessions: 0, failures: 0 };
  private readonly options: ConnectionOptions;
  private readonly backoff: Backoff;
  private readonly stopping = new AbortController();
  private current?: AbortController;
  private session?: ClientSession;
  private loop?: Promise<void>;

  constructor(
    options: Pick<
      ConnectionOptions,
      'name' | 'endpoint' | 'securityMode' | 'securityPolicy' | 'identity' | 'application'
    > &
      Partial<ConnectionOptions>,
    private readonly user: SessionUser,
    private readonly log: Logger = silentLogger,
  ) {
    this.options = { ...DEFAULT_CONNECTION, ...options };
    this.backoff = new Backoff(this.options.backoff);
  }

  /** The live session, when there is one. */
  get activeSession(): ClientSession | undefined {
    return this.status.connected ? this.session : undefined;
  }

  start(): void {
    this.loop ??= this.run().catch((err) =>
      this.log.error({ device: this.options.name, err: errorMessage(err) }, 'OPC UA loop stopped'),
    );
  }

  /** Drops the current session and reconnects (the user saw it is no longer healthy). */
  fail(reason: string): void {
    if (this.current && !this.current.signal.aborted) this.current.abort(new Error(reason));
  }

  async close(): Promise<void> {
    this.stopping.abort();
    this.current?.abort(new Error('closing'));
    await this.loop;
  }

  private async run(): Promise<void> {
    const { name, endpoint } = this.options;
    if (this.options.acceptUnknownServerCertificate && this.options.securityMode !== 'None')
      this.log.warn(
        { device: name, trusted: `${this.options.application.pkiDir}/trusted/certs` },
        'acceptUnknownServerCertificate is on: any server certificate is trusted (commissioning only)',
      );
    while (!this.stopping.signal.aborted) {
      const lost = new AbortController();
      this.current = lost;
      let client: OPCUAClient | undefined;
      let setup: Promise<void> | undefined;
      let reason: string;
      try {
        // Inside the loop: a PKI folder the agent cannot write yet is reported and retried.
        await ensureApplicationCertificate(this.options.application, this.log);
        client = createClient(this.options);
        const c = client;
        // Both fire when the socket goes; with maxRetry 0 node-opcua does not try on its own.
        c.on('close', (err) => lost.abort(new Error(closeReason(err))));
        c.on('connection_lost', () => lost.abort(new Error('connection to the server lost')));
        const session = await abortable(
          this.open(c),
          lost.signal,
          this.options.connectTimeoutMs,
          `no session within ${this.options.connectTimeoutMs} ms`,
        );
        this.session = session;
        session.on('session_closed', (status) =>
          lost.abort(new Error(`session closed by the server (${status.name})`)),
        );
        setup = this.user.setup(session, lost.signal);
        await abortable(setup, lost.signal);
        this.status.connected = true;
        this.status.sessions += 1;
        this.status.lastError = undefined;
        this.backoff.success();
        this.log.info(
          {
            device: name,
            endpoint,
            securityMode: this.options.securityMode,
            securityPolicy: this.options.securityPolicy,
            sessions: this.status.sessions,
          },
          this.status.sessions === 1 ? 'OPC UA session up' : 'OPC UA session re-established',
        );
        reason = await untilAborted(lost.signal);
      } catch (err) {
        reason = lost.signal.aborted
          ? abortReason(lost.signal)
          : explainConnectError(err, this.options);
      }
      const wasConnected = this.status.connected;
      this.status.connected = false;
      if (!lost.signal.aborted) lost.abort(new Error(reason));
      if (this.stopping.signal.aborted) {
        await this.teardown(client, setup);
        break;
      }
      this.status.failures += 1;
      this.status.lastError = reason;
      this.user.lost(reason);
      await this.teardown(client, setup);
      const delay = this.backoff.nextDelay();
      const fields = { device: name, endpoint, reason, retryInMs: delay };
      if (wasConnected) this.log.warn(fields, 'OPC UA session lost; reconnecting');
      else if (this.backoff.failures === 1 || this.backoff.failures % 10 === 0)
        this.log.warn({ ...fields, attempts: this.backoff.failures }, 'OPC UA connect failed');
      await sleep(delay, this.stopping.signal);
    }
  }

  private async open(client: OPCUAClient): Promise<ClientSession> {
    await client.connect(this.options.endpoint);
    return client.createSession(userIdentity(this.options.identity));
  }

  /** Closes session and client; a dead server must not hold this up, hence the time limits. */
  private async teardown(
    client: OPCUAClient | undefined,
    setup: Promise<void> | undefined,
  ): Promise<void> {
    // A set-up abandoned half way may still have a CreateSubscription in flight; closing the
    // session under it makes node-opcua throw from a callback (an uncaught exception), so let it
    // settle first, briefly.
    if (setup) await withTimeout(setup, 3_000).catch(() => undefined);
    const session = this.session;
    this.session = undefined;
    if (session) {
      session.removeAllListeners();
      await withTimeout(session.close(true), 2_000).catch(() => undefined);
    }
    if (client) {
      await withTimeout(client.disconnect(), 2_000).catch(() => undefined);
      client.removeAllListeners();
    }
  }
}

/** A client for one connection attempt; node-opcua's own reconnection is off (maxRetry 0). */
export function createClient(options: ConnectionOptions): OPCUAClient {
  const { application, securityMode, securityPolicy } = options;
  return OPCUAClient.create({
    applicationName: application.applicationName,
    applicationUri: application.applicationUri,
    clientCertificateManager: certificateManager(
      application,
      options.acceptUnknownServerCertificate,
    ),
    certificateFile: application.certificateFile,
    privateKeyFile: application.privateKeyFile,
    securityMode: MessageSecurityMode[securityMode],
    securityPolicy: SecurityPolicy[securityPolicy],
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
    requestedSessionTimeout: options.sessionTimeoutMs,
    // No keep-alive Reads: when the server has dropped the session, node-opcua answers such a
    // Read by re-creating the session behind our back, racing our own recovery. Subscriptions
    // carry their own keep-alive (watched by the device source), and a dead socket closes.
    keepSessionAlive: false,
    transportTimeout: options.connectTimeoutMs,
    // A request without an answer fails after this long instead of node-opcua's default minute.
    defaultTransactionTimeout: options.connectTimeoutMs,
  });
}

export function userIdentity(identity: Identity): UserIdentityInfo {
  switch (identity.type) {
    case 'anonymous':
      return { type: UserTokenType.Anonymous };
    case 'username':
      return {
        type: UserTokenType.UserName,
        userName: identity.username,
        password: identity.password,
      };
    case 'certificate':
      return {
        type: UserTokenType.Certificate,
        certificateData: pemToDer(readFileSync(identity.certificate, 'utf8')),
        privateKey: readFileSync(identity.privateKey, 'utf8'),
      };
  }
}

/** The first certificate of a PEM file as DER, which is what the identity token carries. */
function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('identity.certificate is not a PEM certificate');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

function closeReason(err: Error | null | undefined): string {
  return err ? `connection closed: ${err.message}` : 'connection closed';
}

function abortReason(signal: AbortSignal): string {
  return errorMessage(signal.reason);
}

function untilAborted(signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(abortReason(signal));
    signal.addEventListener('abort', () => resolve(abortReason(signal)), { once: true });
  });
}

/** Rejects when `signal` aborts (or after `timeoutMs`), whatever `work` is still doing. */
function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal,
  timeoutMs?: number,
  timeoutMessage?: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => reject(new Error(timeoutMessage ?? 'timeout')), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    work.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
