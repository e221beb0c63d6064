import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Aedes, Client } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { errorMessage } from '../core/errors.js';
import { listenOn } from '../core/listen.js';
import type { Logger } from '../core/logger.js';
import type { EmbeddedBrokerConfig } from './broker-config.js';

export interface ListenerPorts {
  tcp?: number;
  tls?: number;
  ws?: number;
  internal?: number;
}

/**
 * The embedded broker's sockets: TCP, TLS and MQTT over WebSocket as configured, and the private
 * loopback port of the gateway's own client. Each connection is handed to aedes; `remember`
 * learns its remote address.
 */
export class BrokerListeners {
  /** Bound ports by listener (0 in the config becomes the port picked). */
  readonly ports: ListenerPorts = {};
  private readonly servers: { name: string; server: Server; close?: () => void }[] = [];

  constructor(
    private readonly log: Logger,
    private readonly remember: (client: Client, address: string | undefined) => void,
  ) {}

  /** Opens every listener of `c` (and the internal one), in order; `close` closes those opened. */
  async open(broker: Aedes, c: EmbeddedBrokerConfig, internal: boolean): Promise<void> {
    const tcpHandler = (socket: Socket) =>
      this.remember(broker.handle(socket), socket.remoteAddress);
    if (c.tcp) this.ports.tcp = await this.listen('tcp', createNetServer(tcpHandler), c.tcp);
    if (c.tls) {
      const server = createTlsServer(readTls(c.tls), (socket) =>
        this.remember(broker.handle(socket), socket.remoteAddress),
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
        this.remember(broker.handle(stream, req), req.socket.remoteAddress);
      });
      wss.on('error', (err) => this.log.warn({ err: err.message }, 'WebSocket server error'));
      this.ports.ws = await this.listen('ws', server, c.ws, () => {
        for (const client of wss.clients) client.terminate();
        wss.close();
      });
    }
    if (internal)
      this.ports.internal = await this.listen('internal', createNetServer(tcpHandler), {
        host: '127.0.0.1',
        port: 0,
      });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.splice(0).map(
        ({ server, close }) =>
          new Promise<void>((resolve) => {
            close?.();
            server.close(() => resolve());
          }),
      ),
    );
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
