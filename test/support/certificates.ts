import { execFileSync } from 'node:child_process';

/**
 * Makes a self-signed certificate and its unencrypted RSA key with the openssl CLI, as an
 * operator would, valid for two days. `extensions` are `-addext` values such as
 * `subjectAltName=IP:127.0.0.1`.
 */
export function selfSignedCertificate(options: {
  cert: string;
  key: string;
  subject: string;
  extensions?: string[];
}): void {
  // node-opcua-pki points OPENSSL_CONF at a file of its own in any process that loaded it.
  const env = { ...process.env };
  delete env.OPENSSL_CONF;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      options.subject,
      '-keyout',
      options.key,
      '-out',
      options.cert,
      ...(options.extensions ?? []).flatMap((e) => ['-addext', e]),
    ],
    { stdio: 'pipe', env },
  );
}
