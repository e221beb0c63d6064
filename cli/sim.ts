import { InvalidArgumentError, type Command } from 'commander';
import { stringify } from 'yaml';
import { createRootLogger } from '../core/logger.js';
import { parseTagAddress } from '../protocols/modbus/address.js';
import { parseModbusUrl } from '../protocols/modbus/url.js';
import type { ExceptionFault, FaultSettings } from '../simulators/faults.js';
import { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { SimulatorRuntime } from '../simulators/runtime.js';
import { SyntheticDevice, syntheticLayout } from '../simulators/synthetic.js';
import { exitWithError, parseIntOption, runUntilSignal } from './run.js';
import { registerSimCmms } from './sim-cmms.js';
import { registerSimLlm } from './sim-llm.js';
import { registerSimOpcua } from './sim-opcua.js';

interface SimOptions {
  port: number;
  host: string;
  units: number[];
  framing: 'tcp' | 'rtu';
  serial?: string;
  /** False with --no-tcp. */
  tcp: boolean;
  seed: number;
  fault?: number;
  faultAfter: number;
  synthetic?: { devices: number; tags: number };
  change: number;
  tick: number;
  printConfig?: boolean;
  delay: number;
  timeoutRate: number;
  dropRate: number;
  garbageRate: number;
  exception: ExceptionFault[];
  silentUnit: number[];
  controlPort?: number;
}

function unitList(v: string): number[] {
  const units = v.split(',').map(Number);
  if (units.some((u) => !Number.isInteger(u) || u < 0 || u > 255))
    throw new InvalidArgumentError('unit ids are 0..255, comma-separated: 1,2,3');
  return units;
}

function rateOption(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('a rate is between 0 and 1');
  return n;
}

/** `2@hr:105` or `6@hr:100@3` (code @ address [@ unit]). */
function exceptionOption(v: string, previous: ExceptionFault[]): ExceptionFault[] {
  const m = /^(\d{1,3})@([^@]+)(?:@(\d{1,3}))?$/.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}": expected CODE@ADDRESS[@UNIT], e.g. 2@hr:105`);
  let address;
  try {
    address = parseTagAddress(m[2]!);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return [
    ...previous,
    {
      code: Number(m[1]),
      area: address.area,
      address: address.offset,
      ...(m[3] ? { unitId: Number(m[3]) } : {}),
    },
  ];
}

function syntheticOption(v: string): { devices: number; tags: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 247 || Number(m[2]) < 1 || Number(m[2]) > 40000) {
    throw new InvalidArgumentError(
      'expected DEVICESxTAGS with 1..247 devices and 1..40000 tags, e.g. 100x100 or 1x10000',
    );
  }
  return { devices: Number(m[1]), tags: Number(m[2]) };
}

/** An agent config polling the synthetic simulator, to paste or to feed the benchmark. */
function syntheticConfig(opts: SimOptions, synthetic: { devices: number; tags: number }): string {
  const layout = syntheticLayout(synthetic.tags);
  return stringify({
    site: 'bench',
    area: 'synthetic',
    line: 'line1',
    node: 'bench-agent',
    mqtt: { url: '${MQTT_URL:-mqtt://127.0.0.1:1883}' },
    devices: Array.from({ length: synthetic.devices }, (_, d) => ({
      name: `dev${d + 1}`,
      protocol: opts.framing === 'rtu' ? 'modbus-rtu-over-tcp' : 'modbus-tcp',
      host: opts.host,
      port: opts.port,
      unitId: d + 1,
      asset: `dev${d + 1}`,
      pollIntervalMs: synthetic.devices === 1 ? 100 : 1000,
      tags: layout.map((t) => ({
        name: t.name,
        address: t.address,
        ...(t.type !== 'bool' ? { type: t.type } : {}),
      })),
    })),
  });
}

export function registerSim(program: Command): void {
  const sim = program.command('sim').description('PLC simulators for tests and demos');
  registerSimOpcua(sim);
  registerSimCmms(sim);
  registerSimLlm(sim);
  sim
    .command('modbus')
    .description(
      'Serve a simulated Allen-Bradley Micro 820 (or a synthetic load-test device) over Modbus TCP and/or RTU',
    )
    .option('-p, --port <n>', 'TCP port (502 needs root)', parseIntOption('--port'), 5020)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--units <ids>', 'unit ids served, each its own machine', unitList, [1])
    .option('--framing <kind>', 'on the TCP port: tcp (Modbus TCP) or rtu (RTU over TCP)', 'tcp')
    .option(
      '--serial <url>',
      'also serve RTU on a serial device: modbus-rtu:///dev/pts/3?baud=9600',
    )
    .option('--no-tcp', 'serve the serial line only')
    .option('--seed <n>', 'random seed for the noise', parseIntOption('--seed'), 820)
    .option(
      '--fault <code>',
      'machine fault to inject (1 overload, 2 temperature, 3 jam, 4 sensor, 5 comms)',
      parseIntOption('--fault'),
    )
    .option(
      '--fault-after <s>',
      'seconds after start to inject --fault',
      parseIntOption('--fault-after'),
      30,
    )
    .option(
      '--synthetic <NxM>',
      'load-test mode: N devices (unit ids 1..N) × M tags of mixed types in holding registers',
      syntheticOption,
    )
    .option('--change <rate>', 'synthetic: share of tags changing per tick', rateOption, 0.1)
    .option('--tick <ms>', 'simulation step', parseIntOption('--tick'), 100)
    .option(
      '--print-config',
      'synthetic: print an agent config that polls this simulator, and exit',
    )
    .option('--delay <ms>', 'fault: delay every response', parseIntOption('--delay'), 0)
    .option('--timeout-rate <p>', 'fault: share of requests never answered', rateOption, 0)
    .option(
      '--drop-rate <p>',
      'fault: share of requests answered by closing the connection',
      rateOption,
      0,
    )
    .option(
      '--garbage-rate <p>',
      'fault: share of requests answered with random bytes',
      rateOption,
      0,
    )
    .option(
      '--exception <code@addr[@unit]>',
      'fault: answer this exception code for requests touching addr (repeatable)',
      exceptionOption,
      [],
    )
    .option(
      '--silent-unit <id>',
      'fault: this unit id never answers (repeatable)',
      (v: string, prev: number[]) => [...prev, ...unitList(v)],
      [],
    )
    .option(
      '--control-port <n>',
      'HTTP control API on 127.0.0.1 (faults, stats, dropping connections)',
      parseIntOption('--control-port'),
    )
    .addHelpText(
      'after',
      `
Micro 820 map: coils 0-17 (motor_running … DO_03), holding registers 100-105
(motor_speed, motor_current ×10, temperature ×10, pressure, conveyor_speed, error_code).
Write coil 0 false to stop the motor, coil 2 false to reset a fault.

Control API (--control-port): GET/PUT/DELETE /faults, GET /stats, POST /connections/drop,
POST /machine/fault {"code":3}, POST /machine/reset.

Examples:
  factorylm sim modbus --port 5020 --fault 3 --fault-after 60
  factorylm sim modbus --units 1,2 --serial 'modbus-rtu:///tmp/plc?baud=19200' --no-tcp
  factorylm sim modbus --synthetic 1x10000 --change 0.1 --print-config > bench.yaml
  factorylm sim modbus --exception 2@hr:105 --timeout-rate 0.05 --control-port 8502`,
    )
    .action(async (opts: SimOptions) => {
      if (opts.framing !== 'tcp' && opts.framing !== 'rtu')
        throw new InvalidArgumentError('--framing is tcp or rtu');
      if (opts.synthetic && opts.printConfig) {
        process.stdout.write(syntheticConfig(opts, opts.synthetic));
        return;
      }
      const log = createRootLogger();
      let serial;
      if (opts.serial) {
        const endpoint = parseModbusUrl(opts.serial);
        if (endpoint.transport.kind !== 'rtu')
          throw new InvalidArgumentError('--serial takes a modbus-rtu:///dev/… URL');
        serial = endpoint.transport;
      }
      const common = {
        host: opts.host,
        port: opts.tcp ? opts.port : null,
        framing: opts.framing,
        tickMs: opts.tick,
        ...(serial ? { serial } : {}),
      };
      let runtime: SimulatorRuntime;
      let machine;
      if (opts.synthetic) {
        const { devices, tags } = opts.synthetic;
        runtime = new SimulatorRuntime(
          new Map(
            Array.from({ length: devices }, (_, i) => [
              i + 1,
              new SyntheticDevice(tags, opts.change, opts.seed + i),
            ]),
          ),
          common,
          log.child({ component: 'sim-modbus' }),
        );
      } else {
        const micro = new Micro820Simulator(
          {
            ...common,
            unitIds: opts.units,
            seed: opts.seed,
            ...(opts.fault !== undefined
              ? { fault: { code: opts.fault, afterMs: opts.faultAfter * 1000 } }
              : {}),
          },
          log.child({ component: 'sim-modbus' }),
        );
        runtime = micro;
        machine = {
          injectFault: (code: number, unitId?: number) =>
            micro.devices.forEach(
              (d, u) => (unitId === undefined || u === unitId) && d.injectFault(code),
            ),
          resetFault: (unitId?: number) =>
            micro.devices.forEach(
              (d, u) => (unitId === undefined || u === unitId) && d.resetFault(),
            ),
        };
      }
      const faults: Partial<FaultSettings> = {
        delayMs: opts.delay,
        timeoutRate: opts.timeoutRate,
        dropRate: opts.dropRate,
        garbageRate: opts.garbageRate,
        exceptions: opts.exception,
        silentUnits: opts.silentUnit,
      };
      runtime.faults.set(faults);
      const port = await runtime.start().catch(exitWithError);
      const what = opts.synthetic
        ? `synthetic ${opts.synthetic.devices}x${opts.synthetic.tags}`
        : 'Micro 820';
      const units = opts.synthetic ? `1..${opts.synthetic.devices}` : opts.units.join(',');
      if (port)
        console.log(
          `${what} simulator on ${opts.framing === 'rtu' ? 'modbus-rtu-tcp' : 'modbus'}://${opts.host}:${port} units ${units}`,
        );
      if (serial) console.log(`${what} simulator on serial ${serial.path} units ${units}`);
      let control:
        | Awaited<ReturnType<(typeof import('../simulators/control-api.js'))['createControlApi']>>
        | undefined;
      if (opts.controlPort !== undefined) {
        // fastify loads only when the control API is asked for.
        const { createControlApi } = await import('../simulators/control-api.js');
        control = createControlApi(runtime, log.child({ component: 'sim-control' }), machine);
        const address = await control.listen({ host: '127.0.0.1', port: opts.controlPort });
        console.log(`control API on ${address}`);
      }
      await runUntilSignal(log, async () => {
        await control?.close();
        await runtime.stop();
      });
    });
}
