import { join } from 'node:path';
import { homedir } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { OPCUA_APPLICATION_NAME } from '../protocols/opcua/config.js';
import type { ConnectionOptions, Identity } from '../protocols/opcua/connection.js';
import {
  SECURITY_MODES,
  SECURITY_POLICIES,
  type SecurityModeName,
  type SecurityPolicyName,
} from '../protocols/opcua/security.js';

/** The connection options `browse` and `read` share. */
export interface OpcuaCliOptions {
  securityMode: SecurityModeName;
  securityPolicy: SecurityPolicyName;
  user?: string;
  password?: string;
  pki: string;
  acceptUnknownServerCertificate?: boolean;
}

function oneOf<T extends string>(values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v))
      throw new InvalidArgumentError(`must be one of ${values.join(', ')}`);
    return v as T;
  };
}

export function addOpcuaConnectionOptions(command: Command): Command {
  return command
    .option('--security-mode <mode>', SECURITY_MODES.join(', '), oneOf(SECURITY_MODES), 'None')
    .option(
      '--security-policy <policy>',
      SECURITY_POLICIES.join(', '),
      oneOf(SECURITY_POLICIES),
      'None',
    )
    .option('--user <name>', 'log in with a username (password from --password or OPCUA_PASSWORD)')
    .option('--password <text>', 'password for --user (prefer the OPCUA_PASSWORD variable)')
    .option(
      '--pki <dir>',
      "this tool's OPC UA certificates (own/, trusted/, rejected/)",
      join(homedir(), '.config/factorylm/opcua-pki'),
    )
    .option(
      '--accept-unknown-server-certificate',
      "trust the server's certificate without it being in <pki>/trusted/certs (commissioning only)",
    );
}

export function identityFrom(opts: OpcuaCliOptions): Identity {
  if (!opts.user) return { type: 'anonymous' };
  const password = opts.password ?? process.env.OPCUA_PASSWORD;
  if (password === undefined)
    throw new InvalidArgumentError('--user needs a password: set OPCUA_PASSWORD or --password');
  return { type: 'username', username: opts.user, password };
}

export function checkOpcuaUrl(url: string): string {
  if (!/^opc\.tcp:\/\/[^\s/]+(\/\S*)?$/.test(url))
    throw new InvalidArgumentError(`"${url}" is not an OPC UA endpoint; write opc.tcp://host:4840`);
  return url;
}

/** The connection `browse` and `read` open for one session, from their shared options. */
export async function oneShotConnection(
  endpoint: string,
  opts: OpcuaCliOptions,
  identity: Identity,
): Promise<
  Pick<
    ConnectionOptions,
    | 'name'
    | 'endpoint'
    | 'securityMode'
    | 'securityPolicy'
    | 'identity'
    | 'application'
    | 'acceptUnknownServerCertificate'
  >
> {
  // Loaded here, not at the top: node-opcua loads only for OPC UA commands.
  const { applicationIdentity } = await import('../protocols/opcua/pki.js');
  return {
    name: endpoint,
    endpoint,
    securityMode: opts.securityMode,
    securityPolicy: opts.securityPolicy,
    identity,
    application: applicationIdentity(opts.pki, OPCUA_APPLICATION_NAME),
    acceptUnknownServerCertificate: opts.acceptUnknownServerCertificate ?? false,
  };
}
