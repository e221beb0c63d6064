import type { Command } from 'commander';
import { createRootLogger } from '../core/logger.js';
import { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { parseIntOption, runUntilSignal } from './run.js';

export function registerSim(program: Command): void {
  const sim = program.command('sim').description('PLC simulators for tests and demos');
  sim
    .command('modbus')
    .description('Serve a simulated Allen-Bradley Micro 820 (motor + conveyor) over Modbus TCP')
    .option('-p, --port <n>', 'TCP port (502 needs root)', parseIntOption('--port'), 5020)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--unit <id>', 'Modbus unit id', parseIntOption('--unit'), 1)
    .option('--seed <n>', 'random seed for the noise', parseIntOption('--seed'), 820)
    .option(
      '--fault <code>',
      'inject this error code (1 overload, 2 temperature, 3 jam, 4 sensor, 5 comms)',
      parseIntOption('--fault'),
    )
    .option(
      '--fault-after <s>',
      'seconds after start to inject --fault',
      parseIntOption('--fault-after'),
      30,
    )
    .addHelpText(
      'after',
      '\nRegister map: coils 0-17 (motor_running … DO_03), holding registers 100-105\n(motor_speed, motor_current ×10, temperature ×10, pressure, conveyor_speed, error_code).\nWrite coil 0 false to stop the motor, coil 2 false to reset a fault.\n\nExample:\n  factorylm sim modbus --port 5020 --fault 3 --fault-after 60',
    )
    .action(
      async (opts: {
        port: number;
        host: string;
        unit: number;
        seed: number;
        fault?: number;
        faultAfter: number;
      }) => {
        const log = createRootLogger();
        const simulator = new Micro820Simulator(
          {
            host: opts.host,
            port: opts.port,
            unitId: opts.unit,
            seed: opts.seed,
            ...(opts.fault !== undefined
              ? { fault: { code: opts.fault, afterMs: opts.faultAfter * 1000 } }
              : {}),
          },
          log.child({ component: 'sim-modbus' }),
        );
        const port = await simulator.start();
        console.log(`Micro 820 simulator on modbus://${opts.host}:${port}/${opts.unit}`);
        await runUntilSignal(log, () => simulator.stop());
      },
    );
}
