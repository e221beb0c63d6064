import { fail, folderCheck, ok, portCheck, type Check } from '../core/checks.js';
import { checkBroker } from '../protocols/mqtt/broker-check.js';
import type { GatewayConfig } from './config.js';
import { createInfluxWriter } from './influx-sink.js';

/** InfluxDB answers and takes writes with the configured credentials: one empty write. */
async function influxCheck(config: NonNullable<GatewayConfig['influx']>): Promise<Check> {
  const writer = createInfluxWriter(config);
  const name = `InfluxDB ${writer.target}`;
  const result = await writer.post('', AbortSignal.timeout(10_000));
  // Refusing the (empty) body means it got past authentication and found the bucket.
  if (result.ok || result.rejected) return ok(name, `reachable and writable (API ${writer.api})`);
  const fix = /401|403|unauthori[sz]ed|forbidden|token|password/i.test(result.error)
    ? 'check influx.token (v2) or influx.username/password (v1) and its write permission on the bucket'
    : /404|not found|database/i.test(result.error)
      ? 'create the bucket (v2) or database (v1), or fix its name in the config'
      : 'check influx.url and that InfluxDB runs';
  return fail(name, result.error, fix);
}

/** Everything a gateway config needs from this machine and its network, checked once. */
export async function gatewayChecks(config: GatewayConfig): Promise<Check[]> {
  const checks: Check[] = [];
  if (config.mqtt) {
    const broker = await checkBroker(config.mqtt, `factorylm-doctor-${config.name}-${process.pid}`);
    const name = `broker ${config.mqtt.url}`;
    checks.push(
      broker.ok
        ? ok(name, `connected${config.mqtt.username ? ` as ${config.mqtt.username}` : ''}`)
        : fail(name, broker.error, broker.fix),
    );
  }
  if (config.influx) {
    checks.push(await influxCheck(config.influx));
    if (config.spool.path)
      checks.push(folderCheck('spool', config.spool.path, config.spool.maxBytes));
  }
  if (config.http) checks.push(await portCheck('http', config.http.host, config.http.port));
  return checks;
}
