import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { z } from 'zod';
import { Backoff } from '../../core/backoff.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export const brokerSchema = z
  .strictObject({
    url: z
      .string()
      .regex(
        /^(mqtts?|wss?|tcp|tls):\/\/.+/,
        'must be a broker URL such as mqtt://host:1883 or mqtts://host:8883',
      )
      .describe('Broker URL: mqtt://, mqtts:// (TLS), ws:// or wss://'),
    username: z.string().optional().describe('MQTT username'),
    password: z
      .string()
      .optional()
      .describe('MQTT password; write ${ENV_NAME} to keep it out of the file'),
    clientId: z
      .string()
      .min(1)
      .optional()
      .describe('MQTT client id; default derived from the node name'),
    protocolVersion: z
      .union([z.literal(4), z.literal(5)])
      .default(5)
      .describe(
        'MQTT protocol: 5, or 4 (= 3.1.1) for brokers without MQTT 5 such as the embedded aedes broker',
      ),
    keepaliveSec: z.int().min(5).max(3600).default(30).describe('MQTT keepalive, seconds'),
    tls: z
      .strictObject({
        ca: z.string().optional().describe('PEM file of the CA that signed the broker certificate'),
        cert: z.string().optional().describe('PEM client certificate file, for mutual TLS'),
        key: z.string().optional().describe('PEM client key file, for mutual TLS'),
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('Verify the broker certificate (keep true in production)'),
      })
      .optional(),
  })
  .describe('MQTT broker connection');

export type BrokerConfig = z.output<typeof brokerSchema>;

export interface ConnectOptions {
  clientId: string;
  will?: { topic: string; payload: string | Buffer; retain: boolean; qos: 0 | 1 };
  log: Logger;
  /** Reconnect delays; tests shorten them. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Keep the session (subscriptions, queued and unacknowledged QoS 1 messages) on the broker
   * across reconnects and restarts, for `expirySec` after a disconnect (MQTT 5; 3.1.1 brokers
   * keep it until the client returns). Needs a fixed client id.
   */
  persistentSession?: { expirySec: number };
  /** MQTT 5 Receive Maximum: QoS 1 messages the broker may send before they are acknowledged. */
  receiveMaximum?: number;
}

/**
 * Connects with mqtt.js and keeps reconnecting on a capped, jittered backoff. mqtt.js itself
 * retries at a fixed period; we move that period along the backoff after each failed attempt.
 */
export function connectBroker(config: BrokerConfig, options: ConnectOptions): MqttClient {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000, ...options.backoff });
  const first = backoff.nextDelay();
  const clientOptions: IClientOptions = {
    clientId: config.clientId ?? options.clientId,
    username: config.username,
    password: config.password,
    keepalive: config.keepaliveSec,
    protocolVersion: config.protocolVersion,
    clean: !options.persistentSession,
    reconnectPeriod: first,
    connectTimeout: 10_000,
    // Offline publishes are the caller's to buffer (bounded); mqtt.js's own queue is unbounded.
    queueQoSZero: false,
    // mqtt-packet otherwise builds, on the first packet, a Buffer for each of the 65,536 two-byte
    // numbers: 6.6 MiB of heap (10.8 MiB of RSS) kept for life, in every agent and gateway, to
    // save an allocation per packet id or length that mqtt.js writes. The agent's data goes out
    // on its raw path (raw-publish.ts); mqtt.js writes a few packets a second.
    writeCache: false,
    // mqtt.js gives up for good after a refused CONNACK (bad credentials, not authorized, server
    // unavailable): the agent would stay offline until restarted even once the broker is fixed.
    // Keep retrying on the same capped backoff as any other failure.
    reconnectOnConnackError: true,
  };
  if (options.will) clientOptions.will = options.will;
  if (config.protocolVersion === 5) {
    const properties: IClientOptions['properties'] = {};
    if (options.persistentSession)
      properties.sessionExpiryInterval = options.persistentSession.expirySec;
    if (options.receiveMaximum !== undefined) properties.receiveMaximum = options.receiveMaximum;
    if (Object.keys(properties).length > 0) clientOptions.properties = properties;
  }
  if (config.tls) {
    const read = (file: string | undefined) => (file ? readFileSync(file) : undefined);
    Object.assign(clientOptions, {
      ca: read(config.tls.ca),
      cert: read(config.tls.cert),
      key: read(config.tls.key),
      rejectUnauthorized: config.tls.rejectUnauthorized,
    });
  }
  const log = options.log;
  const client = mqtt.connect(config.url, clientOptions);
  let announcedDown = false;
  client.on('connect', () => {
    backoff.success();
    client.options.reconnectPeriod = backoff.nextDelay();
    announcedDown = false;
    log.info({ url: config.url, clientId: clientOptions.clientId }, 'connected to MQTT broker');
  });
  client.on('close', () => {
    client.options.reconnectPeriod = backoff.nextDelay();
    if (!announcedDown && !client.disconnecting) {
      announcedDown = true;
      log.warn({ url: config.url }, 'MQTT broker connection lost; reconnecting with backoff');
    }
  });
  client.on('error', (err) => {
    log.warn(
      { url: config.url, err: errorMessage(err) },
      'MQTT error; check the broker URL, credentials and TLS files in the config',
    );
  });
  return client;
}
