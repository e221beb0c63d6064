import { errorMessage } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { connectBroker, type BrokerConfig } from './broker.js';

export type BrokerCheckResult = { ok: true } | { ok: false; error: string; fix: string };

/** What an operator should do about a refused or failed connection. */
export function brokerFix(error: string, config: BrokerConfig): string {
  if (/not authori[sz]ed|bad user ?name or password|Connection refused: (4|5)\b/i.test(error))
    return `the broker refused ${config.username ? `user "${config.username}"` : 'anonymous access'}: check mqtt.username and mqtt.password (or the broker's password file and ACL)`;
  if (/ECONNREFUSED/.test(error))
    return 'nothing listens there: check mqtt.url (host and port) and that the broker runs';
  if (/certificate|self[- ]signed|SSL|TLS|wrong version number/i.test(error))
    return 'TLS failed: check mqtt.tls.ca (the CA that signed the broker certificate) and the host name in mqtt.url';
  if (/ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/.test(error))
    return 'the broker host cannot be reached: check the host name or IP address in mqtt.url';
  if (/timeout|timed out/i.test(error))
    return 'no answer: check mqtt.url, the firewall, and mqtts:// vs mqtt:// (TLS port 8883)';
  return 'check mqtt.url, credentials and TLS files';
}

/**
 * Connects once with the configured URL, credentials and TLS, under a client id of its own
 * (a running service with the configured id would be thrown off the broker), then disconnects.
 */
export async function checkBroker(
  config: BrokerConfig,
  clientId: string,
  timeoutMs = 10_000,
): Promise<BrokerCheckResult> {
  let client;
  try {
    client = connectBroker(
      { ...config, clientId },
      { clientId, log: silentLogger, backoff: { initialMs: 60_000, maxMs: 60_000 } },
    );
  } catch (err) {
    const error = errorMessage(err);
    return { ok: false, error, fix: brokerFix(error, config) };
  }
  const c = client;
  const result = await new Promise<BrokerCheckResult>((resolve) => {
    const timer = setTimeout(() => {
      const error = `no CONNACK within ${timeoutMs} ms`;
      resolve({ ok: false, error, fix: brokerFix('timeout', config) });
    }, timeoutMs);
    c.once('connect', () => {
      clearTimeout(timer);
      resolve({ ok: true });
    });
    c.once('error', (err) => {
      clearTimeout(timer);
      const error = errorMessage(err);
      resolve({ ok: false, error, fix: brokerFix(error, config) });
    });
  });
  await c.endAsync(true).catch(() => undefined);
  return result;
}
