import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import {
  BYTE_ORDERS,
  DATA_TYPE_NAMES,
  parseDataType,
  type ByteOrder,
} from '../protocols/modbus/codec.js';
import { ModbusDeviceSource } from '../protocols/modbus/device-source.js';
import { hintFor } from '../protocols/modbus/hints.js';
import { ModbusLine } from '../protocols/modbus/line.js';
import { specsForRanges, type RangeSpec } from '../protocols/modbus/ranges.js';
import { parseModbusUrl } from '../protocols/modbus/url.js';
import { addOpcuaConnectionOptions, type OpcuaCliOptions } from './opcua-options.js';
import { readOpcua } from './read-opcua.js';
import { exitWithError, parseIntOption } from './run.js';

interface ReadOptions {
  type?: string;
  order: ByteOrder;
  timeout: number;
  json?: boolean;
}

export function typeOption(v: string): string {
  try {
    parseDataType(v);
    return v;
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function orderOption(v: string): ByteOrder {
  if (!(BYTE_ORDERS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`must be one of ${BYTE_ORDERS.join(', ')}`);
  return v as ByteOrder;
}

export function registerRead(program: Command): void {
  const read = program
    .command('read')
    .description(
      'Read Modbus coils and registers, or OPC UA nodes, by hand, for commissioning a PLC',
    )
    .argument(
      '<url>',
      'device: modbus://HOST[:PORT]/UNIT, modbus-rtu-tcp://HOST:PORT/UNIT, modbus-rtu:///dev/ttyUSB0?baud=9600&parity=none/UNIT or opc.tcp://HOST:PORT',
    )
    .argument(
      '<ranges...>',
      'Modbus: tag addresses as in the config, or inclusive ranges of them: hr:100..105 coil:0..6 di:3 hr:100.3 hr:200:float32:CDAB hr:200..209:float32 40101 40101..40106; OPC UA: node ids (ns=2;s=Line1.Speed) or browse paths (/Objects/Plant/Speed)',
    )
    .option(
      '-t, --type <type>',
      `data type of registers whose address names none: ${DATA_TYPE_NAMES}`,
      typeOption,
    )
    .option(
      '--order <order>',
      `byte order of multi-register values: ${BYTE_ORDERS.join(', ')}`,
      orderOption,
      'ABCD',
    )
    .option('--timeout <ms>', 'response timeout', parseIntOption('--timeout'), 2000)
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      '\nAddresses are the config\'s (0-based area:offset[.bit][:type][:order], or classic 1-based 40101):\na single address reads one whole value of its type, a range reads consecutive values; the\naddress column of the output can be pasted into a config. An address that yields no value,\nor any bad value, exits 1.\n\nExamples:\n  factorylm read modbus://127.0.0.1:5020/1 hr:100..105 coil:0..6\n  factorylm read modbus://10.0.0.5/1 hr:300:float32:CDAB 40101\n  factorylm read modbus://10.0.0.5/1 hr:200..203 --type float32 --order CDAB --json\n  factorylm read "modbus-rtu:///dev/ttyUSB0?baud=19200&parity=even/3" hr:0..9\n  factorylm read opc.tcp://127.0.0.1:4840 "ns=2;s=Line1.Conveyor.Motor.Speed" /Objects/Plant/Line1/Conveyor/Pressure\n\nThe --security-*, --user, --password, --pki and --accept-unknown-server-certificate options apply\nto OPC UA only (see factorylm browse --help).',
    );
  addOpcuaConnectionOptions(read).action(
    async (url: string, ranges: string[], opts: ReadOptions & OpcuaCliOptions) => {
      if (url.startsWith('opc.tcp://')) return readOpcua(url, ranges, opts);
      let specs: RangeSpec[];
      let endpoint;
      try {
        endpoint = parseModbusUrl(url);
        specs = specsForRanges(ranges, opts.type, opts.order);
      } catch (err) {
        exitWithError(err);
      }
      for (const note of new Set(specs.flatMap((s) => (s.note ? [s.note] : []))))
        console.error(`note: ${note}`);
      const line = new ModbusLine({
        transport: endpoint.transport,
        timeoutMs: opts.timeout,
        maxInflight: 1,
        interRequestDelayMs: 0,
      });
      const source = new ModbusDeviceSource(
        { name: url, unitId: endpoint.unitId, maxGap: 0, retries: 0 },
        specs,
        line,
      );
      const readings = (await source.read()).readings();
      await line.close();
      if (readings.length === 0)
        exitWithError(new Error(`no value read from ${ranges.join(' ')}; check the addresses`));
      if (opts.json) {
        const rows = readings.map((r) => ({
          address: r.id,
          value: r.value,
          quality: r.quality,
          ...(r.reason ? { reason: r.reason } : {}),
        }));
        console.log(JSON.stringify(rows, null, 2));
      } else {
        const width = Math.max(...readings.map((r) => r.id.length), 7);
        console.log(`${'address'.padEnd(width)}  value`);
        for (const r of readings) {
          console.log(
            `${r.id.padEnd(width)}  ${r.quality === 'good' ? JSON.stringify(r.value) : `BAD (${r.reason})`}`,
          );
        }
      }
      const reasons = new Set(readings.flatMap((r) => (r.reason ? [r.reason] : [])));
      for (const reason of reasons) {
        const hint = hintFor(reason, { unitId: endpoint.unitId });
        if (hint) console.error(`${reason}: ${hint}`);
      }
      if (readings.some((r) => r.quality !== 'good')) process.exitCode = 1;
    },
  );
}
