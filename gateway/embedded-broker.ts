import { Aedes } from 'aedes';
import type { Logger } from '../core/logger.js';
import { stateFile } from '../core/state-dir.js';
import { BrokerAccess, INTERNAL_USER, type RefusedCounts } from './broker-access.js';
import {
  anonymousAllowed,
  anonymousProblem,
  embeddedBrokerSchema,
  type EmbeddedBrokerConfig,
  type EmbeddedBrokerInput,
} from './broker-config.js';
import { BrokerListeners, type ListenerPorts } from './broker-listeners.js';
import { SqlitePersistence, type PersistenceStats } from './broker-persistence.js';
import { UserFile } from './broker-users.js';
import { restoreWills } from './broker-wills.js';

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
  refused: RefusedCounts;
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
  private access?: BrokerAccess;
  private readonly listeners: BrokerListeners;
  private readonly refused: RefusedCounts = { connect: 0, publish: 0, subscribe: 0 };
  private willsRestored = 0;
  private readonly config: EmbeddedBrokerConfig;
  internal?: InternalClient;

  constructor(
    config: EmbeddedBrokerInput,
    private readonly log: Logger,
    private readonly options: EmbeddedBrokerOptions = {},
  ) {
    this.config = embeddedBrokerSchema.parse({ ...config, embedded: true });
    this.listeners = new BrokerListeners(log, (client, address) =>
      this.access?.remember(client, address),
    );
  }

  /** Bound ports by listener (0 in the config becomes the port picked). */
  get ports(): ListenerPorts {
    return this.listeners.ports;
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
    const users = c.passwordFile ? new UserFile(c.passwordFile, this.log) : undefined;
    const access = new BrokerAccess(this.log, users, anonymous, () => this.broker, this.refused);
    this.access = access;
    const path = c.persistence.path ?? ':memory:';
    this.persistence = new SqlitePersistence(path, c.persistence.maxRetained);
    const broker = await Aedes.createBroker({
      persistence: this.persistence,
      authenticate: (client, username, password, done) =>
        access.authenticateHook(client, username, password, done),
      authorizePublish: (client, packet, done) => access.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => access.authorizeSubscribe(client, sub, done),
    });
    this.broker = broker;
    broker.on('clientError', (client, err) =>
      this.log.debug({ clientId: client.id, err: err.message }, 'MQTT client error'),
    );
    broker.on('connectionError', (client, err) =>
      this.log.debug({ clientId: client.id, err: err.message }, 'MQTT connection error'),
    );
    await restoreWills(broker, this.persistence, this.log, () => (this.willsRestored += 1));
    try {
      const password = this.options.internalClient ? access.internalCredential() : undefined;
      await this.listeners.open(broker, c, password !== undefined);
      if (password !== undefined)
        this.internal = {
          url: `mqtt://127.0.0.1:${this.ports.internal}`,
          username: INTERNAL_USER,
          password,
        };
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
    await this.listeners.close();
    await this.persistence?.destroy();
    this.persistence = undefined;
  }
}
