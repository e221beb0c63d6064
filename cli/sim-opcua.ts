import { InvalidArgumentError, type Command } from 'commander';
import { createRootLogger } from '../core/logger.js';
import { exitWithError, parseIntOption, runUntilSignal } from './run.js';

interface SimOpcuaOptions {
  port: number;
  host: string;
  tick: number;
  seed: number;
  synthetic?: number;
  rate: number;
  security: ('None' | 'Sign' | 'SignAndEncrypt')[];
  policies: ('Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss')[];
  anonymous: boolean;
  user: Record<string, string>;
  pki?: string;
  strictTrust?: boolean;
  restartDown: number;
}

function listOf<T extends string>(values: readonly T[]) {
  return (v: string): T[] => {
    const list = v.split(',').map((s) => s.trim());
    const bad = list.find((s) => !(values as readonly string[]).includes(s));
    if (bad !== undefined)
      throw new InvalidArgumentError(`"${bad}" is not one of ${values.join(', ')}`);
    return list as T[];
  };
}

function userOption(v: string, previous: Record<string, string>): Record<string, string> {
  const i = v.indexOf(':');
  if (i < 1) throw new InvalidArgumentError(`"${v}": expected NAME:PASSWORD`);
  return { ...previous, [v.slice(0, i)]: v.slice(i + 1) };
}

export function registerSimOpcua(sim: Command): void {
  sim
    .command('opcua')
    .description(
      'Serve the simulated Micro 820 (same machine model as sim modbus) or a synthetic load as an OPC UA server',
    )
    .option('-p, --port <n>', 'TCP port', parseIntOption('--port'), 4840)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--tick <ms>', 'Micro 820: simulation step', parseIntOption('--tick'), 100)
    .option('--seed <n>', 'random seed for the noise', parseIntOption('--seed'), 820)
    .option(
      '--synthetic <n>',
      'load-test mode: N Double variables under Objects/Synthetic, all changing at --rate',
      parseIntOption('--synthetic'),
    )
    .option(
      '--rate <hz>',
      'synthetic: changes per second of every variable',
      parseIntOption('--rate'),
      10,
    )
    .option(
      '--security <modes>',
      'security modes offered, comma-separated: None,Sign,SignAndEncrypt',
      listOf(['None', 'Sign', 'SignAndEncrypt'] as const),
      ['None', 'Sign', 'SignAndEncrypt'],
    )
    .option(
      '--policies <list>',
      'policies of the secure modes: Basic256Sha256,Aes128_Sha256_RsaOaep,Aes256_Sha256_RsaPss',
      listOf(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const),
      ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'],
    )
    .option('--no-anonymous', 'refuse anonymous sessions (use with --user)')
    .option('--user <name:password>', 'accept this user (repeatable)', userOption, {})
    .option(
      '--pki <dir>',
      'server certificates (own/, trusted/, rejected/), kept across restarts; user certificates for X509 logins go in <pki>/users/trusted/certs',
    )
    .option(
      '--strict-trust',
      'refuse client certificates not in <pki>/trusted/certs (default: accept any, for tests)',
    )
    .option(
      '--restart-down <ms>',
      'on SIGUSR2: stay down this long before serving again',
      parseIntOption('--restart-down'),
      1000,
    )
    .addHelpText(
      'after',
      `
Address space (namespace urn:factorylm:simulator): Objects/Plant/Line1/Conveyor with
Motor/{Speed, Current, Temperature, Running, Stopped}, Pressure, Speed, Running, Sensor1,
Sensor2, Alarms/{Fault, ErrorCode, EStop} and IO/{DI_00…DI_07, DO_00, DO_01, DO_03}; node ids
ns=2;s=Line1.Conveyor.Motor.Speed and so on. Booleans that the Modbus map marks writable are
writable here and reach the same machine model.

Restart (recovery tests): kill -USR2 <pid> drops every session and connection, as a PLC reboot
does, and serves again after --restart-down ms.

Examples:
  factorylm sim opcua --port 4840
  factorylm sim opcua --port 4841 --security SignAndEncrypt --no-anonymous --user operator:secret
  factorylm sim opcua --port 4842 --synthetic 10000 --rate 10`,
    )
    .action(async (opts: SimOpcuaOptions) => {
      const log = createRootLogger();
      const { routeLibraryLogs } = await import('../protocols/opcua/library-log.js');
      routeLibraryLogs(log);
      const { OpcuaSimulator } = await import('../simulators/opcua/server.js');
      const sim = new OpcuaSimulator(
        {
          host: opts.host,
          port: opts.port,
          tickMs: opts.tick,
          seed: opts.seed,
          ...(opts.synthetic
            ? { synthetic: { variables: opts.synthetic, rateHz: opts.rate } }
            : {}),
          securityModes: opts.security,
          securityPolicies: opts.policies,
          allowAnonymous: opts.anonymous,
          users: opts.user,
          ...(opts.pki ? { pkiDir: opts.pki } : {}),
          strictTrust: opts.strictTrust ?? false,
        },
        log.child({ component: 'sim-opcua' }),
      );
      await sim.start().catch(exitWithError);
      const what = opts.synthetic ? `synthetic ${opts.synthetic} variables` : 'Micro 820';
      console.log(`${what} OPC UA simulator on ${sim.endpoint}`);
      let restarting = false;
      process.on('SIGUSR2', () => {
        if (restarting) return;
        restarting = true;
        sim
          .restart(opts.restartDown)
          .then(() => console.log(`serving again on ${sim.endpoint}`))
          .catch((err) => log.error({ err: String(err) }, 'restart failed'))
          .finally(() => (restarting = false));
      });
      await runUntilSignal(log, () => sim.stop());
    });
}
