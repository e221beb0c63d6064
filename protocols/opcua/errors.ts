import { join } from 'node:path';
import { errorMessage } from '../../core/errors.js';

interface Context {
  endpoint: string;
  securityMode: string;
  securityPolicy: string;
  identity: { type: string; username?: string; certificate?: string };
  application: { pkiDir: string; certificateFile: string };
}

/**
 * node-opcua's connect and session errors say what failed deep inside the stack; this says what
 * the operator should do about it. Ordered from the most specific pattern to the least.
 */
const RULES: { test: RegExp; say: (c: Context, raw: string) => string }[] = [
  {
    test: /ECONNREFUSED|connection cannot be established/,
    say: (c) =>
      `cannot reach ${c.endpoint}: nothing answers there; is the server running and the port right?`,
  },
  {
    test: /ENOTFOUND|EAI_AGAIN/,
    say: (c) => `cannot resolve the host of ${c.endpoint}; check the endpoint's host name`,
  },
  {
    test: /EHOSTUNREACH|ENETUNREACH|ETIMEDOUT/,
    say: (c) => `no route to ${c.endpoint}; check the network and any firewall`,
  },
  {
    test: /server Certificate verification failed|BadCertificateUntrusted.*server/i,
    say: (c) =>
      `the server's certificate is not trusted: it was saved in ${join(c.application.pkiDir, 'rejected')}; if this is the right server, move it to ${join(c.application.pkiDir, 'trusted/certs')} (or set acceptUnknownServerCertificate while commissioning)`,
  },
  {
    test: /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid/,
    say: (c, raw) =>
      c.identity.type === 'username'
        ? `the server refused user "${c.identity.username}" (${codeIn(raw)}): check the username and password`
        : c.identity.type === 'certificate'
          ? `the server refused the user certificate ${c.identity.certificate} (${codeIn(raw)}): ask the server's operator to trust it for user logins`
          : `the server refused the anonymous identity (${codeIn(raw)}): set identity to the username or user certificate the server expects`,
  },
  {
    test: /cannot find endpoint|BadSecurityModeRejected|BadSecurityPolicyRejected/,
    say: (c) =>
      `the server offers no endpoint with securityMode ${c.securityMode} and securityPolicy ${c.securityPolicy}; pick one it offers (factorylm browse lists them on error) or change the server's settings`,
  },
  {
    test: /BadSecurityChecksFailed|BadCertificateUntrusted|BadCertificateInvalid|socket has been disconnected by third party|ECONNRESET/,
    say: (c, raw) =>
      c.securityMode === 'None'
        ? `the server closed the connection during the handshake (${raw})`
        : `the server rejected this agent's certificate (${codeIn(raw)}): ask its operator to trust ${c.application.certificateFile}`,
  },
];

export function explainConnectError(err: unknown, context: Context): string {
  const raw = errorMessage(err).split('\n')[0]!.trim();
  for (const rule of RULES) if (rule.test.test(raw)) return rule.say(context, raw);
  return `${context.endpoint}: ${raw}`;
}

function codeIn(raw: string): string {
  return /\bBad[A-Za-z]+/.exec(raw)?.[0] ?? raw;
}
