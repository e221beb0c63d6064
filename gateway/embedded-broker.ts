import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { errorMessage } from '../core/errors.js';
import { listenOn } from '../core/listen.js';
import { LogLimiter } from '../core/log-limiter.js';
import type { Logger } from '../core/logger.js';
import { stateFile } from '../core/state-dir.js';
import { mayPublish, maySubscribe, type Principal } from './broker-acl.js';
import {
  anonymousAllowed,
  anonymousProblem,
  embeddedBrokerSchema,
  type EmbeddedBrokerConfig,
  type EmbeddedBrokerInput,
} from './broker-config.js';
import { DUMMY_HASH, readPasswordFile, verifyPassword, type BrokerUser } from './broker-passwd.js';
import { SqlitePersistence, type PersistenceStats } from './broker-persistence.js';

export interface EmbeddedBrokerOptions {
  /**
   * Also listen on a private 127.0.0.1 port with a random one-off credential (role gateway), for
   * the gateway's own MQTT client: it works whatever listeners the config has.
   */
  internalClient?: boolean;
}

export interface BrokerStats extends PersistenceStats {
  clients: number;
  /** Refused attempts: bad or missing credentials, publish and subscribe outside the ACL. */
  refused: { connect: number; publish: number; subscribe: number };
  /** Wills of clients connected when the broker last stopped, published at start. */
  willsRestored: number;
}

export interface InternalClient {
  url: string;
  username: string;
  password: string;
}

/** Where the broker's SQLite file goes when the config names none. */
export function defaultPersistencePath(gatewayName: string): string {
  return stateFile(`broker-${gatewayName}.db`);
}

const INTERNAL_USER = '$gateway-internal';

type ConnectRefusal = Error & { returnCode: 2 | 4 | 5 };
const refusal = (returnCode: 2 | 4 | 5, message: string): ConnectRefusal =>
  Object.assign(new Error(message), { returnCode });

/** The password file, read again when it changes (so `factorylm broker passwd` needs no restart). */
class UserFile {
  private users = new Map<string, BrokerUser>();
  private signature = '';

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {
    this.users = readPasswordFile(file);
    this.signature = this.stat();
  }

  private stat(): string {
    const s = statSync(this.file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  }

  get(user: string): BrokerUser | undefined {
    try {
      const signature = this.stat();
      if (signature !== this.signature) {
        this.signature = signature;
        this.users = readPasswordFile(this.file);
        this.log.info({ file: this.file, users: this.users.size }, 'broker password file reloaded');
      }
    } catch (err) {
      this.log.error(
        { file: this.file, err: errorMessage(err) },
        'cannot reload the broker password file; keeping the users read before',
      );
    }
    return this.users.get(user);
  }
}

/**
 * An in-process MQTT 3.1.1 broker (aedes) for one-box sites and the demo, so no Mosquitto is
 * needed: TCP, TLS and WebSocket listeners, users with scrypt-hashed passwords from a file,
 * per-node ACLs (gateway/broker-acl.ts), retained messages and Wills kept in SQLite across
 * restarts. Refused attempts are logged (client id, user, topic; never a password) and counted.
 * Clients must connect with protocolVersion 4: aedes does not speak MQTT 5.
 */
export class EmbeddedBroker {
  private broker?: Aedes;
  private persistence?: SqlitePersistence;
  private users?: UserFile;
  private readonly servers: { name: string; server: Server; close?: () => void }[] = [];
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly remotes = new WeakMap<Client, string>();
  private readonly refused = { connect: 0, publish: 0, subscribe: 0 };
  /** Refusals: at most 50 lines per 10 s; the rest are counted and summed up in the next line. */
  private readonly limiter = new LogLimiter(10_000, 50);
  private willsRestored = 0;
  private internalPassword?: Buffer;
  private readonly config: EmbeddedBrokerConfig;
  /** Bound ports by listener (0 in the config becomes the port picked). */
  readonly ports: { tcp?: number; tls?: number; ws?: number; internal?: number } = {};
  internal?: InternalClient;

  constructor(
    config: EmbeddedBrokerInput,
    private readonly log: Logger,
    private readonly options: EmbeddedBrokerOptions = {},
  ) {
    this.config = embeddedBrokerSchema.parse({ ...config, embedded: true });
  }

  /** The plain TCP port (the demo prints it). */
  get port(): number {
    return this.ports.tcp ?? 0;
  }

  get urls(): { tcp?: string; tls?: string; ws?: string } {
    const c = this.config;
    const host = (h: string) => (h.includes(':') ? `[${h}]` : h);
    return {
      ...(c.tcp && this.ports.tcp !== undefined
        ? { tcp: `mqtt://${host(c.tcp.host)}:${this.ports.tcp}` }
        : {}),
      ...(c.tls && this.ports.tls !== undefined
        ? { tls: `mqtts://${host(c.tls.host)}:${this.ports.tls}` }
        : {}),
      ...(c.ws && this.ports.ws !== undefined
        ? { ws: `${c.ws.tls ? 'wss' : 'ws'}://${host(c.ws.host)}:${this.ports.ws}${c.ws.path}` }
        : {}),
    };
  }

  /** The first listener's URL: TCP, else TLS, else WebSocket. */
  get url(): string {
    const u = this.urls;
    return u.tcp ?? u.tls ?? u.ws ?? '';
  }

  get stats(): BrokerStats {
    return {
      clients: this.broker?.connectedClients ?? 0,
      refused: { ...this.refused },
      willsRestored: this.willsRestored,
      ...(this.persistence?.stats ?? { retained: 0, retainedDropped: 0, wills: 0 }),
    };
  }

  async start(): Promise<string> {
    const c = this.config;
    const problem = anonymousProblem(c);
    if (problem) throw new Error(`embedded broker not started: ${problem}`);
    const anonymous = anonymousAllowed(c);
    if (c.passwordFile) this.users = new UserFile(c.passwordFile, this.log);
    const path = c.persistence.path ?? ':memory:';
    this.persistence = new SqlitePersistence(path, c.persistence.maxRetained);
    const broker = await Aedes.createBroker({
      persistence: this.persistence,
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password, anonymous).then(
          () => done(null, true),
          (err: ConnectRefusal) => done(err, false),
        );
      },
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
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
      },
    });
    this.broker = broker;
    broker.on('clientError', (client, err) =>
      this.log.debug({ clientId: client.id, err: err.message }, 'MQTT client error'),
    );
    broker.on('connectionError', (client, err) =>
      this.log.debug({ clientId: client.id, err: err.message }, 'MQTT connection error'),
    );
    await this.restoreWills(broker);
    try {
      await this.openListeners(broker);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info(
      {
        ...this.urls,
        auth: c.passwordFile ? `users from ${c.passwordFile}` : 'none',
        anonymous,
        persistence: path,
        retained: this.persistence.stats.retained,
      },
      'embedded MQTT broker listening',
    );
    if (anonymous && c.passwordFile === undefined)
      this.log.info('embedded broker accepts anonymous clients with full access (loopback only)');
    else if (anonymous)
      this.log.warn('embedded broker accepts anonymous clients with full access (allowAnonymous)');
    return this.url;
  }

  /** Counts messages crossing the broker, for the demo's summary and tests. */
  onPublish(listener: (topic: string, payload: Buffer) => void): void {
    this.broker?.on('publish', (packet, client) => {
      if (client) listener(packet.topic, packet.payload as Buffer);
    });
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    this.broker = undefined;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await Promise.all(
      this.servers.splice(0).map(
        ({ server, close }) =>
          new Promise<void>((resolve) => {
            close?.();
            server.close(() => resolve());
          }),
      ),
    );
    await this.persistence?.destroy();
    this.persistence = undefined;
  }

  private async openListeners(broker: Aedes): Promise<void> {
    const c = this.config;
    const remember = (client: Client, address: string | undefined) => {
      if (address) this.remotes.set(client, address);
    };
    const tcpHandler = (socket: import('node:net').Socket) =>
      remember(broker.handle(socket), socket.remoteAddress);
    if (c.tcp) this.ports.tcp = await this.listen('tcp', createNetServer(tcpHandler), c.tcp);
    if (c.tls) {
      const server = createTlsServer(readTls(c.tls), (socket) =>
        remember(broker.handle(socket), socket.remoteAddress),
      );
      server.on('tlsClientError', (err, socket) =>
        this.log.debug(
          { remote: socket.remoteAddress, err: err.message },
          'TLS handshake failed (a plain MQTT client on the TLS port?)',
        ),
      );
      this.ports.tls = await this.listen('tls', server, c.tls);
    }
    if (c.ws) {
      const server = c.ws.tls ? createHttpsServer(readTls(c.ws.tls)) : createHttpServer();
      server.on('request', (_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      const wss = new WebSocketServer({ server, path: c.ws.path });
      wss.on('connection', (socket, req: IncomingMessage) => {
        const stream = createWebSocketStream(socket);
        stream.on('error', (err) =>
          this.log.debug({ err: err.message }, 'MQTT WebSocket stream error'),
        );
        remember(broker.handle(stream, req), req.socket.remoteAddress);
      });
      wss.on('error', (err) => this.log.warn({ err: err.message }, 'WebSocket server error'));
      this.ports.ws = await this.listen('ws', server, c.ws, () => {
        for (const client of wss.clients) client.terminate();
        wss.close();
      });
    }
    if (this.options.internalClient) {
      this.internalPassword = randomBytes(24);
      this.ports.internal = await this.listen('internal', createNetServer(tcpHandler), {
        host: '127.0.0.1',
        port: 0,
      });
      this.internal = {
        url: `mqtt://127.0.0.1:${this.ports.internal}`,
        username: INTERNAL_USER,
        password: this.internalPassword.toString('hex'),
      };
    }
  }

  private async listen(
    name: string,
    server: Server,
    at: { host: string; port: number },
    close?: () => void,
  ): Promise<number> {
    await listenOn(server, at.port, at.host).catch((err: unknown) => {
      throw new Error(
        `embedded broker: cannot listen for ${name} on ${at.host}:${at.port}: ${errorMessage(err)}`,
        { cause: err },
      );
    });
    server.on('error', (err) =>
      this.log.error({ listener: name, err: err.message }, 'embedded broker listener error'),
    );
    this.servers.push({ name, server, close });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : at.port;
  }

  /**
   * Publishes the Wills of clients that were connected when the broker last stopped (a crash or
   * kill leaves them in the store), before any listener opens: they did not say goodbye.
   */
  private async restoreWills(broker: Aedes): Promise<void> {
    const persistence = this.persistence!;
    const stale: {
      topic: string;
      payload: Buffer | string;
      qos: 0 | 1 | 2;
      retain: boolean;
      clientId?: string;
    }[] = [];
    for await (const will of persistence.streamWill({ [broker.id]: Date.now() })) stale.push(will);
    for (const will of stale) {
      const packet = {
        cmd: 'publish',
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        dup: false,
      } as PublishPacket;
      await new Promise<void>((resolve) =>
        broker.publish(packet, (err) => {
          if (err)
            this.log.warn(
              { topic: will.topic, err: err.message },
              'could not publish a stored Will',
            );
          resolve();
        }),
      );
      await persistence.delWill({ id: will.clientId ?? '' });
      this.willsRestored += 1;
      this.log.info(
        { clientId: will.clientId, topic: will.topic },
        'published the Will of a client connected before the broker restarted',
      );
    }
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    anonymous: boolean,
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
    } else if (!this.users || (anonymous && !username)) {
      // No password file: every client is anonymous (the listeners are loopback, or the
      // operator said allowAnonymous); credentials, if any, are ignored.
      if (!anonymous) throw refuse(5, 'anonymous access is off');
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
    const will = (client as unknown as { _will?: { topic: string } })._will;
    if (will) {
      const decision = mayPublish(principal, will.topic);
      if (!decision.ok) throw refuse(5, `Will topic ${will.topic}: ${decision.reason}`, principal);
    }
    // A client id in use by another user: refusing keeps one node from kicking another off.
    const clients = (this.broker as unknown as { clients: Record<string, Client> } | undefined)
      ?.clients;
    const holder = clients?.[client.id];
    const held = holder ? this.principals.get(holder) : undefined;
    if (held && held.user !== principal.user)
      throw refuse(2, `client id ${client.id} is in use by another user`, principal);
    this.principals.set(client, principal);
    this.log.debug(
      { clientId: client.id, user: principal.user, role: principal.role },
      'MQTT client authenticated',
    );
  }

  private authorizePublish(
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

function readTls(files: { cert: string; key: string; ca?: string }) {
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(
        `embedded broker: cannot read the TLS ${what} file ${file}: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
  };
  return {
    cert: read('cert', files.cert),
    key: read('key', files.key),
    ...(files.ca ? { ca: read('ca', files.ca) } : {}),
  };
}
