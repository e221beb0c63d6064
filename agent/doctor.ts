import { accessSync, constants, existsSync } from 'node:fs';
import { fail, folderCheck, ok, portCheck, type Check } from '../core/checks.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { checkBroker } from '../protocols/mqtt/broker-check.js';
import { defaultPkiDir } from '../protocols/opcua/config.js';
import { agentStateDir, outboxPath, type AgentConfig } from './config.js';
import { runDryRun, type DryRunDevice } from './dry-run.js';

/** One check per device, from a dry run: every tag read once. */
function deviceCheck(d: DryRunDevice, pkiDir: string): Check {
  const name = `device ${d.name} (${d.endpoint})`;
  const bad = d.tags.filter((t) => t.quality !== 'good');
  if (!d.answered) {
    const reason = d.reason ?? 'no answer';
    const fix = /certificat|trust/i.test(reason)
      ? `the server and the agent must trust each other's certificate: the agent's is in ${pkiDir}/own/certs (give it to the server operator)`
      : d.hint;
    return fail(name, `no answer: ${reason}`, fix);
  }
  if (bad.length > 0) {
    const first = bad[0]!;
    return fail(
      name,
      `${bad.length} of ${d.tags.length} tags bad, e.g. ${first.id} (${first.address ?? ''}): ${first.reason ?? 'bad'}`,
      first.hint ?? 'run factorylm agent --config … --test for every tag',
    );
  }
  const plan = d.plan ? `, ${d.plan.length} requests per poll` : '';
  return ok(name, `answers: ${d.tags.length} tags good in ${d.latencyMs} ms${plan}`);
}

/** The serial port exists and this user may open it (members of dialout may, on Debian). */
function serialCheck(path: string): Check {
  const name = `serial port ${path}`;
  if (!existsSync(path))
    return fail(
      name,
      'does not exist',
      'check serial.path (ls -l /dev/serial/by-id/ names adapters by serial number) and that the adapter is plugged in',
    );
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    return fail(
      name,
      `not accessible: ${errorMessage(err)}`,
      'add this user to the dialout group: sudo usermod -aG dialout $USER (then log in again; the factorylm service user is in it already)',
    );
  }
  return ok(name, 'exists and is accessible');
}

/** Everything an agent config needs from this machine and its network, checked once. */
export async function agentChecks(config: AgentConfig, log: Logger): Promise<Check[]> {
  const checks: Check[] = [];
  const outbox = outboxPath(config);
  const pkiDir = defaultPkiDir(agentStateDir(config));
  checks.push(folderCheck('outbox', outbox, config.outbox.maxBytes));
  checks.push(await portCheck('health', config.health.host, config.health.port));
  const broker = await checkBroker(config.mqtt, `factorylm-doctor-${config.node}-${process.pid}`);
  const brokerName = `broker ${config.mqtt.url}`;
  checks.push(
    broker.ok
      ? ok(brokerName, `connected${config.mqtt.username ? ` as ${config.mqtt.username}` : ''}`)
      : fail(brokerName, broker.error, broker.fix),
  );
  const serialPaths = new Set<string>();
  for (const d of config.devices) if (d.protocol === 'modbus-rtu') serialPaths.add(d.serial!.path);
  for (const path of serialPaths) checks.push(serialCheck(path));
  const report = await runDryRun(config, log);
  for (const d of report.devices) checks.push(deviceCheck(d, pkiDir));
  return checks;
}
