import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/** The agent's OPC UA application identity: one per PKI folder, shared by its devices. */
export interface ApplicationIdentity {
  pkiDir: string;
  applicationName: string;
  applicationUri: string;
  certificateFile: string;
  privateKeyFile: string;
}

export function applicationIdentity(pkiDir: string, applicationName: string): ApplicationIdentity {
  return {
    pkiDir,
    applicationName,
    // The URI must match the one inside the certificate; the server checks it.
    applicationUri: `urn:${hostname()}:${applicationName}`,
    certificateFile: join(pkiDir, 'own/certs/client_certificate.pem'),
    privateKeyFile: join(pkiDir, 'own/private/private_key.pem'),
  };
}

/**
 * A certificate manager over the PKI folder: `own/` (our certificate and key), `trusted/certs`
 * (server certificates we accept), `rejected/` (unknown ones land here for the operator to move).
 * node-opcua disposes a client's manager on disconnect, so each connection attempt gets its own.
 */
export function certificateManager(
  id: ApplicationIdentity,
  acceptUnknownServerCertificate: boolean,
): OPCUACertificateManager {
  return new OPCUACertificateManager({
    rootFolder: id.pkiDir,
    automaticallyAcceptUnknownCertificate: acceptUnknownServerCertificate,
    // No chokidar watchers per connection attempt: they are handles that would pile up.
    disableFileWatchers: true,
  });
}

const created = new Set<string>();

/**
 * On a folder it cannot create, node-opcua's certificate manager throws out of its own
 * callbacks and takes the whole process down: the folder is checked here first, with a message
 * that says what to fix, and the connection retries like after any other failure.
 */
function checkWritable(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new Error(
      `cannot use the OPC UA certificate folder ${dir}: ${errorMessage(err)}; it must be writable by the agent's user`,
      { cause: err },
    );
  }
}

/**
 * Creates the self-signed application certificate on first start and says which file the
 * server's operator has to trust; later starts only say which certificate is in use.
 */
export async function ensureApplicationCertificate(
  id: ApplicationIdentity,
  log: Logger,
): Promise<void> {
  checkWritable(id.pkiDir);
  if (created.has(id.certificateFile)) return;
  const manager = certificateManager(id, false);
  try {
    await manager.initialize();
    if (!existsSync(id.certificateFile)) {
      await manager.createSelfSignedCertificate({
        applicationUri: id.applicationUri,
        dns: [hostname()],
        outputFile: id.certificateFile,
        subject: `/CN=${id.applicationName}/O=FactoryLM`,
        startDate: new Date(),
        validity: 365 * 10,
      });
      log.warn(
        { certificate: id.certificateFile, trustedFolder: join(id.pkiDir, 'trusted/certs') },
        'created the OPC UA application certificate: for Sign or SignAndEncrypt, the server operator must trust this file (copy it into the server’s trusted certificates)',
      );
    } else log.info({ certificate: id.certificateFile }, 'OPC UA application certificate');
    created.add(id.certificateFile);
  } finally {
    await manager.dispose();
  }
}
