import { join } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../../core/errors.js';
import {
  assetField,
  deviceNameField,
  publishModeField,
  tagIdentityFields,
  tagPublishingFields,
} from '../tag-fields.js';
import { parseNodeRef } from './node-ref.js';
import { SECURITY_MODES, SECURITY_POLICIES } from './security.js';

/** The config of an OPC UA server the agent subscribes to or polls, and its tags. */

/** The application name in the agent's OPC UA certificate, as server operators will see it. */
export const OPCUA_APPLICATION_NAME = 'FactoryLM-Agent';

/** The agent's certificate folder unless a device names its own `pkiDir`: beside the outbox. */
export function defaultPkiDir(stateDir: string): string {
  return join(stateDir, 'opcua-pki');
}

const identitySchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('anonymous') }),
    z.strictObject({
      type: z.literal('username'),
      username: z.string().min(1),
      password: z.string().describe('Write ${ENV_NAME} to take it from the environment'),
    }),
    z.strictObject({
      type: z.literal('certificate'),
      certificate: z.string().min(1).describe('PEM file of the X.509 user certificate'),
      privateKey: z.string().min(1).describe('PEM file of its private key'),
    }),
  ])
  .default({ type: 'anonymous' })
  .describe('Who the session logs in as: anonymous, username/password or a user certificate');

const samplingFields = {
  mode: z
    .enum(['subscription', 'poll'])
    .describe(
      'subscription: the server reports changes (monitored items); poll: a Read every pollIntervalMs, for servers that handle subscriptions badly',
    ),
  publishingIntervalMs: z
    .int()
    .min(10)
    .describe(
      'How often the server sends collected changes, ms; tags with equal values share a subscription',
    ),
  samplingIntervalMs: z
    .int()
    .min(0)
    .describe('How often the server samples the value, ms (0 = as fast as it can)'),
  queueSize: z
    .int()
    .min(1)
    .max(10_000)
    .describe('Samples the server keeps per item between publishes (oldest dropped)'),
};

const tagSchema = z
  .strictObject({
    ...tagIdentityFields,
    ...tagPublishingFields,
    node: z
      .string()
      .optional()
      .describe('Node id: ns=2;s=Line1.Motor.Speed, ns=3;i=1001 (or nsu=<uri>;…)'),
    path: z
      .string()
      .optional()
      .describe(
        'Browse path from the Root folder instead of a node id: /Objects/Plant/Line1/Speed (2:Name pins the namespace)',
      ),
    type: z
      .enum(['number', 'boolean', 'string'])
      .optional()
      .describe(
        'Value type the node must deliver (a different one is published bad, saying so); declares the Sparkplug metric type, which a birth needs before the server is read (default number)',
      ),
    mode: samplingFields.mode.optional().describe("Override the device's mode"),
    publishingIntervalMs: samplingFields.publishingIntervalMs.optional(),
    samplingIntervalMs: samplingFields.samplingIntervalMs.optional(),
    queueSize: samplingFields.queueSize.optional(),
    filter: z
      .strictObject({
        deadband: z
          .enum(['absolute', 'percent'])
          .describe('absolute: engineering units; percent: of the node’s EURange'),
        value: z.number().min(0),
      })
      .optional()
      .describe(
        'Server-side data-change filter (subscription mode): the server reports a change only beyond it',
      ),
  })
  .superRefine((t, ctx) => {
    try {
      parseNodeRef(t);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path: [t.node ? 'node' : 'path'],
        message: errorMessage(err),
      });
    }
  });
export const opcuaDeviceSchema = z
  .strictObject({
    name: deviceNameField,
    protocol: z.literal('opcua'),
    endpoint: z
      .string()
      .regex(/^opc\.tcp:\/\/[^\s/]+(\/\S*)?$/, 'must look like opc.tcp://host:4840')
      .describe('Server endpoint URL: opc.tcp://host:port[/path]'),
    securityMode: z.enum(SECURITY_MODES).default('None').describe('None, Sign or SignAndEncrypt'),
    securityPolicy: z
      .enum(SECURITY_POLICIES)
      .default('None')
      .describe(
        'None (with securityMode None), Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss',
      ),
    identity: identitySchema,
    acceptUnknownServerCertificate: z
      .boolean()
      .default(false)
      .describe(
        'Accept a server certificate that is not in <pkiDir>/trusted/certs (commissioning only: it defeats the check)',
      ),
    pkiDir: z
      .string()
      .optional()
      .describe(
        "Folder of the agent's OPC UA certificates (own/, trusted/, rejected/); default: opcua-pki beside the outbox",
      ),
    asset: assetField,
    publishMode: publishModeField,
    pollIntervalMs: z
      .int()
      .min(10, 'must be at least 10 ms')
      .default(1000)
      .describe('How often poll tags are read and received notifications are published, ms'),
    mode: samplingFields.mode.default('subscription'),
    publishingIntervalMs: samplingFields.publishingIntervalMs.default(1000),
    samplingIntervalMs: samplingFields.samplingIntervalMs.default(500),
    queueSize: samplingFields.queueSize.default(10),
    sessionTimeoutMs: z
      .int()
      .min(10_000)
      .default(60_000)
      .describe('Session timeout asked of the server, ms'),
    connectTimeoutMs: z
      .int()
      .min(1000)
      .default(10_000)
      .describe('Give up a connection attempt after this long, ms'),
    keepAliveMs: z
      .int()
      .min(1000)
      .default(5_000)
      .describe(
        'The server is asked for a keep-alive at least this often; twice as long without one and the agent reconnects, ms',
      ),
    tags: z.array(tagSchema).min(1, 'a device needs at least one tag'),
  })
  .superRefine((d, ctx) => {
    if ((d.securityMode === 'None') !== (d.securityPolicy === 'None'))
      ctx.addIssue({
        code: 'custom',
        path: ['securityPolicy'],
        message:
          d.securityMode === 'None'
            ? 'securityMode None needs securityPolicy None'
            : `securityMode ${d.securityMode} needs a securityPolicy: Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss`,
      });
  })
  .describe('An OPC UA server this node subscribes to or polls');

export type OpcuaDeviceConfig = z.output<typeof opcuaDeviceSchema>;
