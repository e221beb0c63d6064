import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { DATA_TYPES, type DataType, type WordOrder } from '../protocols/modbus/codec.js';
import { specsForRanges } from '../protocols/modbus/ranges.js';
import { ModbusTcpSource, type ModbusTagSpec } from '../protocols/modbus/tcp-source.js';
import { parseModbusUrl } from '../protocols/modbus/url.js';
import { exitWithError, parseIntOption } from './run.js';

interface ReadOptions {
  type?: DataType;
  wordOrder: WordOrder;
  timeout: number;
  json?: boolean;
}

export function registerRead(program: Command): void {
  program
    .command('read')
    .description('Read Modbus coils and registers by hand, for commissioning a PLC')
    .argument('<url>', 'device, e.g. modbus://192.168.1.10:502/1')
    .argument('<ranges...>', 'addresses or inclusive ranges: hr:100..105 coil:0..6 di:3 ir:0..9')
    .option(
      '-t, --type <type>',
      `register data type: ${DATA_TYPES.filter((t) => t !== 'bool').join(', ')}`,
      (v: string) => {
        if (!(DATA_TYPES as readonly string[]).includes(v))
          throw new InvalidArgumentError(`must be one of ${DATA_TYPES.join(', ')}`);
        return v as DataType;
      },
    )
    .option('--word-order <order>', '32-bit word order: big (ABCD) or little (CDAB)', 'big')
    .option('--timeout <ms>', 'response timeout', parseIntOption('--timeout'), 2000)
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      '\nExamples:\n  factorylm read modbus://127.0.0.1:5020/1 hr:100..105 coil:0..6\n  factorylm read modbus://10.0.0.5/1 hr:200..203 --type float32 --json',
    )
    .action(async (url: string, ranges: string[], opts: ReadOptions) => {
      let specs: ModbusTagSpec[];
      let endpoint;
      try {
        endpoint = parseModbusUrl(url);
        if (opts.wordOrder !== 'big' && opts.wordOrder !== 'little')
          throw new Error('--word-order must be big or little');
        specs = specsForRanges(ranges, opts.type, opts.wordOrder);
      } catch (err) {
        exitWithError(err);
      }
      const source = new ModbusTcpSource(
        { name: url, ...endpoint, timeoutMs: opts.timeout, maxGap: 0 },
        specs,
      );
      const readings = await source.read();
      await source.close();
      if (opts.json) {
        console.log(
          JSON.stringify(
            readings.map((r) => ({
              address: r.id,
              value: r.value,
              quality: r.quality,
              ...(r.reason ? { reason: r.reason } : {}),
            })),
            null,
            2,
          ),
        );
      } else {
        const width = Math.max(...readings.map((r) => r.id.length), 7);
        console.log(`${'address'.padEnd(width)}  value`);
        for (const r of readings)
          console.log(
            `${r.id.padEnd(width)}  ${r.quality === 'good' ? String(r.value) : `BAD (${r.reason})`}`,
          );
      }
      if (readings.some((r) => r.quality !== 'good')) process.exitCode = 1;
    });
}
