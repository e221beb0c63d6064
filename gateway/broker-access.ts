import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Aedes, Client, PublishPacket, Subscription } from 'aedes';
import { LogLimiter } from '../core/log-limiter.js';
import type { Logger } from '../core/logger.js';
import { connectedClient, pendingWill } from './aedes-internals.js';
import { mayPublish, maySubscribe, type Principal } from './broker-acl.js';
import { DUMMY_HASH, verifyPassword } from './broker-passwd.js';
import type { UserFile } from './broker-users.js';

/** The user of the gateway's own client on the private loopback listener. */
export const INTERNAL_USER = '$gateway-internal';

export interface RefusedCounts {
  connect: number;
  publish: number;
  subscribe: number;
}

export type ConnectRefusal = Error & { returnCode: 2 | 4 | 5 };
const refusal = (returnCode: 2 | 4 | 5, message: string): ConnectRefusal =>
  Object.assign(new Error(message), { returnCode });

/**
 * Who may connect to the embedded broker, and what each client may publish and subscribe to:
 * the aedes `authenticate`, `authorizePublish` and `authorizeSubscribe` hooks. Users come from
 * the password file (or every client is anonymous), rules from gateway/broker-acl.ts. Refused
 * attempts are logged (client id, user, topic; never a password), at most 50 lines per 10 s,
 * and counted.
 */
export class BrokerAccess {
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly remotes = new WeakMap<Client, string>();
  /** Refusals: at most 50 lines per 10 s; the rest are counted and summed up in the next line. */
  private readonly limiter = new LogLimiter(10_000, 50);
  private internalPassword?: Buffer;

  constructor(
    private readonly log: Logger,
    private readonly users: UserFile | undefined,
    private readonly anonymous: boolean,
    /** The broker, once created: for the clients connected. */
    private readonly broker: () => Aedes | undefined,
    /** Refused attempts, counted here. */
    private readonly refused: RefusedCounts,
  ) {}

  /** A random password for INTERNAL_USER (role gateway), hex; a new one replaces the old. */
  internalCredential(): string {
    this.internalPassword = randomBytes(24);
    return this.internalPassword.toString('hex');
  }

  /** The client's remote address, for the refusal log lines. */
  remember(client: Client, address: string | undefined): void {
    if (address) this.remotes.set(client, address);
  }

  /** aedes's `authenticate` hook. */
  authenticateHook(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: ConnectRefusal | null, success: boolean | null) => void,
  ): void {
    this.authenticate(client, username, password).then(
      () => done(null, true),
      (err: ConnectRefusal) => done(err, false),
    );
  }

  /** aedes's `authorizeSubscribe` hook; `$share/<group>/<filter>` becomes `<filter>`. */
  authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const principal = this.principals.get(client);
    const decision = principal
      ? maySubscribe(principal, sub.topic)
      : { ok: false as const, reason: 'not authenticated' };
    if (decision.ok) {
      if (decision.filter !== sub.topic) sub.topic = decision.filter;
      return done(null, sub);
    }
    this.refused.subscribe += 1;
    this.refuse('broker refused subscription', client, principal, sub.topic, decision.reason);
    done(null, null);
  }

  /** aedes's `authorizePublish` hook. */
  authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
  ): void {
    // No client: a Will of a client gone, checked when it connected.
    if (!client) return done(null);
    const principal = this.principals.get(client);
    const decision = principal
      ? mayPublish(principal, packet.topic)
      : { ok: false as const, reason: 'not authenticated' };
    if (decision.ok) return done(null);
    this.refused.publish += 1;
    this.refuse(
      'broker refused publish; disconnecting the client',
      client,
      principal,
      packet.topic,
      decision.reason,
    );
    // aedes closes the connection: MQTT 3.1.1 has no way to refuse one PUBLISH.
    done(new Error(`publish to ${packet.topic} refused: ${decision.reason}`));
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<void> {
    const refuse = (code: 2 | 4 | 5, reason: string, principal?: Principal): ConnectRefusal => {
      this.refused.connect += 1;
      this.refuse(
        'broker refused connection',
        client,
        principal ?? { user: username },
        undefined,
        reason,
      );
      return refusal(code, reason);
    };
    let principal: Principal;
    if (this.internalPassword && username === INTERNAL_USER) {
      const given = Buffer.from(password?.toString('utf8') ?? '', 'hex');
      if (
        given.length !== this.internalPassword.length ||
        !timingSafeEqual(given, this.internalPassword)
      )
        throw refuse(4, 'bad password for the internal gateway user');
      principal = { user: INTERNAL_USER, role: 'gateway' };
    } else if (!this.users || (this.anonymous && !username)) {
      // No password file: every client is anonymous (the listeners are loopback, or the
      // operator said allowAnonymous); credentials, if any, are ignored.
      if (!this.anonymous) throw refuse(5, 'anonymous access is off');
      principal = { role: 'anonymous' };
    } else if (!username) {
      throw refuse(5, 'no username: this broker requires credentials');
    } else {
      const entry = this.users.get(username);
      // Unknown users cost one scrypt too, so timing does not tell which names exist.
      const matches = await verifyPassword(password ?? Buffer.alloc(0), entry?.hash ?? DUMMY_HASH);
      if (!entry) throw refuse(4, 'unknown user');
      if (!matches) throw refuse(4, 'wrong password');
      principal = { user: entry.user, role: entry.role, site: entry.site, node: entry.node };
    }
    const will = pendingWill(client);
    if (will) {
      const decision = mayPublish(principal, will.topic);
      if (!decision.ok) throw refuse(5, `Will topic ${will.topic}: ${decision.reason}`, principal);
    }
    // A client id in use by another user: refusing keeps one node from kicking another off.
    const broker = this.broker();
    const holder = broker ? connectedClient(broker, client.id) : undefined;
    const held = holder ? this.principals.get(holder) : undefined;
    if (held && held.user !== principal.user)
      throw refuse(2, `client id ${client.id} is in use by another user`, principal);
    this.principals.set(client, principal);
    this.log.debug(
      { clientId: client.id, user: principal.user, role: principal.role },
      'MQTT client authenticated',
    );
  }

  private refuse(
    msg: string,
    client: Client,
    who: { user?: string; role?: string } | undefined,
    topic: string | undefined,
    reason: string,
  ): void {
    const { log, suppressed } = this.limiter.take('refused');
    if (!log) return;
    this.log.warn(
      {
        clientId: client.id,
        user: who?.user ?? null,
        ...(who?.role ? { role: who.role } : {}),
        remote: this.remotes.get(client),
        ...(topic !== undefined ? { topic } : {}),
        reason,
        ...(suppressed ? { notLogged: suppressed } : {}),
        refused: { ...this.refused },
      },
      msg,
    );
  }
}
