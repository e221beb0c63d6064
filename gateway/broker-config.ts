import { isIP } from 'node:net';
import { z } from 'zod';
import { stateFileField } from '../core/config/state-file.js';

const host = z
  .string()
  .min(1)
  .default('127.0.0.1')
  .describe(
    'Address to listen on: 127.0.0.1 (this box only), 0.0.0.0 or :: (every interface), or one address',
  );
const port = (fallback: number) =>
  z.int().min(0).max(65535).default(fallback).describe('TCP port; 0 picks a free one');

const tlsFiles = {
  cert: z.string().min(1).describe('PEM certificate file of the broker (with its chain)'),
  key: z.string().min(1).describe('PEM private key file of the broker'),
  ca: z
    .string()
    .min(1)
    .optional()
    .describe('PEM file of extra CA certificates to send with the chain (optional)'),
};

export const embeddedBrokerSchema = z
  .strictObject({
    embedded: z
      .boolean()
      .default(false)
      .describe('Run an MQTT 3.1.1 broker (aedes) inside the gateway, for one-box sites'),
    tcp: z
      .strictObject({ host, port: port(1883) })
      .nullable()
      .prefault({})
      .describe('Plain MQTT listener (mqtt://); null turns it off'),
    tls: z
      .strictObject({ host, port: port(8883), ...tlsFiles })
      .optional()
      .describe('MQTT over TLS listener (mqtts://)'),
    ws: z
      .strictObject({
        host,
        port: port(8083),
        path: z
          .string()
          .regex(/^\//, 'must start with /')
          .default('/mqtt')
          .describe('URL path of the WebSocket endpoint (ws://host:port/mqtt)'),
        tls: z
          .strictObject(tlsFiles)
          .optional()
          .describe('Serve wss:// with these files instead of ws://'),
      })
      .optional()
      .describe('MQTT over WebSocket listener (ws:// or wss://), for browsers'),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Users, roles and scrypt password hashes; make entries with `factorylm broker passwd <file> <user>`. Without it every client is anonymous with full access',
      ),
    allowAnonymous: z
      .boolean()
      .optional()
      .describe(
        'Accept clients without credentials (full access). Default: only when there is no passwordFile and every listener is on a loopback address',
      ),
    persistence: z
      .strictObject({
        path: stateFileField(
          'keeping retained messages and Wills across restarts',
          'broker-<gateway name>.db',
          '; :memory: keeps nothing',
        ),
        maxRetained: z
          .int()
          .min(1)
          .default(100_000)
          .describe(
            'Retained topics kept; a retained message on a new topic beyond it is not stored (counted)',
          ),
      })
      .prefault({}),
  })
  .superRefine((b, ctx) => {
    if (!b.embedded) return;
    if (!b.tcp && !b.tls && !b.ws)
      ctx.addIssue({
        code: 'custom',
        path: ['tcp'],
        message: 'the embedded broker needs at least one listener: tcp, tls or ws',
      });
    const problem = anonymousProblem(b);
    if (problem) ctx.addIssue({ code: 'custom', path: ['allowAnonymous'], message: problem });
  })
  .describe(
    'Embedded MQTT broker (aedes, MQTT 3.1.1 only). For one box without Mosquitto; see deploy/README.md',
  );

export type EmbeddedBrokerConfig = z.output<typeof embeddedBrokerSchema>;
export type EmbeddedBrokerInput = z.input<typeof embeddedBrokerSchema>;

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopbackHost(address: string): boolean {
  const h = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return false;
}

/** Every listener host of the config, for the anonymous-access check. */
export function listenerHosts(b: Pick<EmbeddedBrokerConfig, 'tcp' | 'tls' | 'ws'>): string[] {
  return [b.tcp?.host, b.tls?.host, b.ws?.host].filter((h): h is string => h !== undefined);
}

/** Whether clients without credentials are accepted, per the rule in allowAnonymous's description. */
export function anonymousAllowed(
  b: Pick<EmbeddedBrokerConfig, 'tcp' | 'tls' | 'ws' | 'passwordFile' | 'allowAnonymous'>,
): boolean {
  if (b.allowAnonymous !== undefined) return b.allowAnonymous;
  return b.passwordFile === undefined && listenerHosts(b).every(isLoopbackHost);
}

/**
 * Why this broker must not start: with no password file nobody could connect except anonymously,
 * and anonymous access on an address other machines reach is refused unless said explicitly.
 */
export function anonymousProblem(
  b: Pick<EmbeddedBrokerConfig, 'tcp' | 'tls' | 'ws' | 'passwordFile' | 'allowAnonymous'>,
): string | undefined {
  const exposed = listenerHosts(b).filter((h) => !isLoopbackHost(h));
  if (b.passwordFile === undefined && b.allowAnonymous === false)
    return 'allowAnonymous is false but there is no passwordFile: no client could connect';
  if (b.passwordFile === undefined && exposed.length > 0 && b.allowAnonymous !== true)
    return `a listener on ${exposed.join(', ')} is reachable from other machines: set passwordFile (make users with \`factorylm broker passwd\`), or bind to 127.0.0.1, or set allowAnonymous: true to accept anyone with full access`;
  return undefined;
}
