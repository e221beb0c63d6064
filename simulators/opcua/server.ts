import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  Variant,
  type Namespace,
  type UAObject,
  type UAVariable,
} from 'node-opcua';
import { silentLogger, type Logger } from '../../core/logger.js';
import { Micro820Model } from '../micro820/model.js';
import { MICRO820_VARIABLES, valueIn, type MachineVariable } from './micro820-nodes.js';

export const SIM_NAMESPACE = 'urn:factorylm:simulator';

export interface OpcuaSimulatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Model step and publishing of changed values, ms. */
  tickMs: number;
  seed: number;
  /** Synthetic mode: this many Double variables instead of the Micro 820. */
  synthetic?: { variables: number; rateHz: number };
  /** Security modes offered; each secure mode with every policy below. */
  securityModes: ('None' | 'Sign' | 'SignAndEncrypt')[];
  securityPolicies: ('Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss')[];
  allowAnonymous: boolean;
  /** username → password. */
  users: Record<string, string>;
  /**
   * Server PKI folder: own certificate (kept across restarts), trusted and rejected clients.
   * Its users/ folder holds the user certificates accepted for X509 logins (users/trusted/certs);
   * any other lands in users/rejected and is refused, whatever `strictTrust` says.
   */
  pkiDir: string;
  /** Refuse client certificates not in pkiDir/trusted (default: accept any, for tests). */
  strictTrust: boolean;
  /** Sessions open at once; a PLC's limit is often far lower. */
  maxSessions: number;
}

export const DEFAULT_OPCUA_SIMULATOR: OpcuaSimulatorOptions = {
  host: '127.0.0.1',
  port: 4840,
  tickMs: 100,
  seed: 820,
  securityModes: ['None', 'Sign', 'SignAndEncrypt'],
  securityPolicies: ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'],
  allowAnonymous: true,
  users: {},
  pkiDir: join(tmpdir(), 'factorylm-opcua-sim-pki'),
  strictTrust: false,
  maxSessions: 100,
};

interface Served {
  variable: UAVariable;
  /** Last value set, so unchanged values keep their source timestamp. */
  last: number | boolean | undefined;
}

/**
 * An OPC UA server for tests and demos: the Micro 820 machine model (the same one the Modbus
 * simulator serves) under Objects/Plant/Line1/Conveyor, or N synthetic variables. Values are set
 * from the source when they change, with the change time as source timestamp, like a PLC.
 */
export class OpcuaSimulator {
  readonly options: OpcuaSimulatorOptions;
  readonly model: Micro820Model;
  port = 0;
  private server?: OPCUAServer;
  private timer?: NodeJS.Timeout;
  private served: Served[] = [];
  private sessionsCreated = 0;

  constructor(
    options: Partial<OpcuaSimulatorOptions>,
    private readonly log: Logger = silentLogger,
  ) {
    this.options = { ...DEFAULT_OPCUA_SIMULATOR, ...options };
    this.model = new Micro820Model(this.options.seed);
  }

  get endpoint(): string {
    return `opc.tcp://${this.options.host}:${this.port}`;
  }

  /** Sessions opened since start, and open now. */
  get sessions(): { created: number; current: number } {
    return {
      created: this.sessionsCreated,
      current: this.server?.engine.currentSessionCount ?? 0,
    };
  }

  async start(): Promise<number> {
    const o = this.options;
    const users = o.users;
    const server = new OPCUAServer({
      port: o.port,
      hostname: o.host,
      // Listen on the loopback only when asked for it (tests), not on every interface.
      ...(o.host === '127.0.0.1' || o.host === 'localhost' ? { host: o.host } : {}),
      resourcePath: '/',
      buildInfo: { productName: 'FactoryLM OPC UA simulator', manufacturerName: 'FactoryLM' },
      securityModes: o.securityModes.map((m) => MessageSecurityMode[m]),
      securityPolicies: [
        ...(o.securityModes.includes('None') ? [SecurityPolicy.None] : []),
        ...o.securityPolicies.map((p) => SecurityPolicy[p]),
      ],
      allowAnonymous: o.allowAnonymous,
      userManager: { isValidUser: (user: string, password: string) => users[user] === password },
      serverCertificateManager: new OPCUACertificateManager({
        rootFolder: o.pkiDir,
        automaticallyAcceptUnknownCertificate: !o.strictTrust,
        disableFileWatchers: true,
      }),
      userCertificateManager: new OPCUACertificateManager({
        rootFolder: join(o.pkiDir, 'users'),
        automaticallyAcceptUnknownCertificate: false,
        // Watched, so a user certificate moved to trusted/ works without a restart.
        disableFileWatchers: false,
      }),
      serverCapabilities: { maxSessions: o.maxSessions },
    });
    await server.initialize();
    const ns = server.engine.addressSpace!.registerNamespace(SIM_NAMESPACE);
    if (o.synthetic) this.buildSynthetic(ns, o.synthetic.variables);
    else this.buildMachine(ns);
    server.on('create_session', () => {
      this.sessionsCreated += 1;
      this.log.info(
        { sessionsCreated: this.sessionsCreated, sessions: server.engine.currentSessionCount },
        'session created',
      );
    });
    server.on('session_closed', () =>
      this.log.info({ sessions: server.engine.currentSessionCount }, 'session closed'),
    );
    await server.start();
    this.server = server;
    this.port = server.endpoints[0]!.port;
    this.startClock();
    return this.port;
  }

  /** Drops every session and connection and comes back after `downMs`, like a PLC reboot. */
  async restart(downMs: number): Promise<void> {
    this.log.info({ downMs }, 'restarting the OPC UA server');
    const port = this.port;
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    this.options.port = port;
    this.served = [];
    await this.start();
  }

  /** Cuts every client connection without a goodbye, as a network failure does. */
  dropConnections(): number {
    let dropped = 0;
    for (const endpoint of this.server?.endpoints ?? []) {
      dropped += endpoint.currentChannelCount;
      endpoint.abruptlyInterruptChannels();
    }
    this.log.info({ dropped }, 'connections dropped');
    return dropped;
  }

  /** Closes every session from the server side, as a session timeout does. */
  closeSessions(): number {
    const engine = this.server?.engine;
    const sessions = engine?.getSessions() ?? [];
    for (const s of sessions) engine!.closeSession(s.authenticationToken, true, 'Terminated');
    this.log.info({ closed: sessions.length }, 'sessions closed');
    return sessions.length;
  }

  /** Open secure channels with what they negotiated, for tests that check it. */
  channels(): { securityMode: string; securityPolicy: string }[] {
    return (this.server?.endpoints ?? []).flatMap((e) =>
      e.getChannels().map((c) => ({
        securityMode: MessageSecurityMode[c.securityMode],
        securityPolicy: c.securityPolicy.split('#')[1] ?? c.securityPolicy,
      })),
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const server = this.server;
    this.server = undefined;
    await server?.shutdown(0);
    server?.dispose();
  }

  private startClock(): void {
    const o = this.options;
    let last = Date.now();
    const synthetic = o.synthetic;
    const everyMs = synthetic ? Math.max(1, Math.round(1000 / synthetic.rateHz)) : o.tickMs;
    let step = 0;
    this.timer = setInterval(() => {
      const now = Date.now();
      if (synthetic) this.stepSynthetic(++step);
      else {
        this.model.step(now - last);
        this.publishMachine();
      }
      last = now;
    }, everyMs);
  }

  private buildMachine(ns: Namespace): void {
    const addressSpace = ns.addressSpace;
    const plant = ns.addFolder(addressSpace.rootFolder.objects, {
      browseName: 'Plant',
      nodeId: 's=Plant',
    });
    const line = ns.addObject({ organizedBy: plant, browseName: 'Line1', nodeId: 's=Line1' });
    const conveyor = ns.addObject({
      componentOf: line,
      browseName: 'Conveyor',
      nodeId: 's=Line1.Conveyor',
    });
    const folders = new Map<string, UAObject>([['', conveyor]]);
    const parentOf = (path: string[]): UAObject => {
      let parent = conveyor;
      for (let i = 0; i < path.length - 1; i++) {
        const key = path.slice(0, i + 1).join('.');
        let next = folders.get(key);
        if (!next) {
          next = ns.addObject({
            componentOf: parent,
            browseName: path[i]!,
            nodeId: `s=Line1.Conveyor.${key}`,
          });
          folders.set(key, next);
        }
        parent = next;
      }
      return parent;
    };
    for (const v of MICRO820_VARIABLES) {
      const served: Served = {
        variable: this.addVariable(ns, parentOf(v.path), v),
        last: undefined,
      };
      if (v.writable) {
        // A client's write reaches the model as the Modbus coil write would, so both protocols
        // agree; our own updates are recognised by being the value we just set.
        served.variable.on('value_changed', (dv) => {
          const written = dv.value.value as unknown;
          if (written === served.last || typeof written !== 'boolean') return;
          this.model.writeBits(v.index, [written]);
          this.publishMachine();
        });
      }
      this.served.push(served);
    }
    this.publishMachine();
  }

  private addVariable(ns: Namespace, parent: UAObject, v: MachineVariable): UAVariable {
    const common = {
      componentOf: parent,
      browseName: v.path.at(-1)!,
      nodeId: `s=${v.id}`,
      minimumSamplingInterval: 50,
      accessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      userAccessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
    } as const;
    return v.range
      ? ns.addAnalogDataItem({
          ...common,
          dataType: v.dataType,
          engineeringUnitsRange: { low: v.range[0], high: v.range[1] },
        })
      : ns.addVariable({ ...common, dataType: v.dataType });
  }

  private publishMachine(): void {
    const snapshot = this.model.snapshot();
    for (let i = 0; i < this.served.length; i++) {
      const s = this.served[i]!;
      const value = valueIn(snapshot, MICRO820_VARIABLES[i]!);
      if (value === s.last) continue;
      s.last = value;
      const dataType = MICRO820_VARIABLES[i]!.dataType;
      s.variable.setValueFromSource(
        new Variant({ dataType: DataType[dataType], value }),
        StatusCodes.Good,
        new Date(),
      );
    }
  }

  private buildSynthetic(ns: Namespace, count: number): void {
    const folder = ns.addFolder(ns.addressSpace.rootFolder.objects, {
      browseName: 'Synthetic',
      nodeId: 's=Synthetic',
    });
    for (let i = 0; i < count; i++) {
      const name = `Tag${String(i + 1).padStart(5, '0')}`;
      const variable = ns.addVariable({
        componentOf: folder,
        browseName: name,
        nodeId: `s=Synthetic.${name}`,
        dataType: 'Double',
        minimumSamplingInterval: 0,
      });
      variable.setValueFromSource(new Variant({ dataType: DataType.Double, value: 0 }));
      this.served.push({ variable, last: 0 });
    }
  }

  /** Every synthetic variable changes on every step: a sawtooth offset per variable. */
  private stepSynthetic(step: number): void {
    const now = new Date();
    for (let i = 0; i < this.served.length; i++) {
      const value = (step + i) % 1000;
      this.served[i]!.last = value;
      this.served[i]!.variable.setValueFromSource(
        new Variant({ dataType: DataType.Double, value }),
        StatusCodes.Good,
        now,
      );
    }
  }
}
