import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../core/logger.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/**
 * An in-process MQTT 3.1.1 broker (aedes) for one-box sites and the demo, so no Mosquitto is
 * needed. Clients must connect with protocolVersion 4: aedes does not speak MQTT 5.
 */
export class EmbeddedBroker {
  private broker?: Aedes;
  private server?: Server;
  port = 0;

  constructor(
    private readonly options: EmbeddedBrokerOptions,
    private readonly log: Logger,
  ) {}

  get url(): string {
    return `mqtt://${this.options.host}:${this.port}`;
  }

  async start(): Promise<string> {
    const broker = await Aedes.createBroker();
    this.broker = broker;
    broker.on('clientError', (client, err) =>
      this.log.debug({ client: client.id, err: err.message }, 'client error'),
    );
    const server = createServer(broker.handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : this.options.port;
    this.log.info({ url: this.url }, 'embedded MQTT broker listening');
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
    const server = this.server;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
