import { InvalidArgumentError, type Command } from 'commander';
import { loadAgentConfig } from '../agent/config.js';
import { lineTransport } from '../protocols/modbus/config.js';
import { findWritableTag } from '../agent/guarded-write.js';
import { parseWriteValue, rawWriteValue } from '../protocols/modbus/write-value.js';
import { ModbusDeviceSource, type ModbusTagSpec } from '../protocols/modbus/device-source.js';
import { hintFor } from '../protocols/modbus/hints.js';
import { ModbusLine } from '../protocols/modbus/line.js';
import type { LineTransport } from '../protocols/modbus/transport.js';
import { specAddress } from '../protocols/modbus/ranges.js';
import { resolveTag } from '../protocols/modbus/tag-spec.js';
import { parseModbusUrl } from '../protocols/modbus/url.js';
import type { TagValue } from '../protocols/types.js';
import { exitWithError, parseIntOption } from './run.js';
import { orderOption } from './read.js';
import type { ByteOrder } from '../protocols/modbus/codec.js';

interface WriteOptions {
  config?: string;
  order: ByteOrder;
  scale: number;
  offset: number;
  timeout: number;
}

interface PlannedWrite {
  label: string;
  device: string;
  transport: LineTransport;
  unitId: number;
  spec: ModbusTagSpec;
  raw: TagValue;
}

function splitAssignment(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0)
    throw new Error(
      `"${text}" is not an assignment; write ADDRESS=VALUE (or TAG=VALUE with --config)`,
    );
  return [text.slice(0, at), text.slice(at + 1)];
}

function numberOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || (name === '--scale' && n === 0))
      throw new InvalidArgumentError(
        `${name} must be a ${name === '--scale' ? 'non-zero ' : ''}number`,
      );
    return n;
  };
}

/** Every write is checked before any is sent, so one bad value stops them all. */
async function plan(
  target: string | undefined,
  assignments: string[],
  opts: WriteOptions,
): Promise<PlannedWrite[]> {
  if (opts.config) {
    const config = await loadAgentConfig(opts.config);
    const all = target ? [target, ...assignments] : assignments;
    return all.map((text) => {
      const [ref, valueText] = splitAssignment(text);
      const { device, tag, id } = findWritableTag(config, ref);
      if (device.protocol === 'opcua')
        throw new Error(
          `${id} is on OPC UA device ${device.name}: this tool writes Modbus; write it through the agent (MQTT write request)`,
        );
      if (!('address' in tag)) throw new Error(`${id} has no Modbus address`);
      const spec = resolveTag(id, tag, device.byteOrder);
      const value = parseWriteValue(valueText, spec.format);
      return {
        label: id,
        device: device.name,
        transport: lineTransport(device),
        unitId: device.unitId,
        spec,
        raw: rawWriteValue(value, spec, tag.scale, tag.offset, id),
      };
    });
  }
  if (!target) throw new Error('give a device URL (modbus://HOST:PORT/UNIT) or --config FILE');
  const endpoint = parseModbusUrl(target);
  if (assignments.length === 0)
    throw new Error('nothing to write; add ADDRESS=VALUE, e.g. coil:3=true hr:101=12.5');
  return assignments.map((text) => {
    const [address, valueText] = splitAssignment(text);
    const spec = resolveTag(address, { address }, opts.order);
    const label = specAddress(spec);
    if (spec.note) console.error(`note: ${spec.note}`);
    const value = parseWriteValue(valueText, spec.format);
    return {
      label,
      device: target,
      transport: endpoint.transport,
      unitId: endpoint.unitId,
      spec,
      raw: rawWriteValue(value, spec, opts.scale, opts.offset, label),
    };
  });
}

export function registerWrite(program: Command): void {
  program
    .command('write')
    .description(
      'Write coils and holding registers: by address to a device URL, or by tag name from an agent config',
    )
    .argument('[target]', 'device URL such as modbus://10.0.0.5:502/1 (omit with --config)')
    .argument(
      '[assignments...]',
      'ADDRESS=VALUE, addresses as in the config (coil:3=true hr:101=12.5 hr:200:float32:CDAB=1.5 40102=125) or TAG=VALUE with --config',
    )
    .option(
      '-c, --config <file>',
      'agent config: write tags by name, only those marked writable, in engineering units',
    )
    .option(
      '--order <order>',
      'byte order of multi-register values (address mode)',
      orderOption,
      'ABCD',
    )
    .option(
      '--scale <n>',
      'raw = (value - offset) / scale (address mode)',
      numberOption('--scale'),
      1,
    )
    .option(
      '--offset <n>',
      'raw = (value - offset) / scale (address mode)',
      numberOption('--offset'),
      0,
    )
    .option('--timeout <ms>', 'response timeout', parseIntOption('--timeout'), 2000)
    .addHelpText(
      'after',
      '\nValues: true/false (or on/off, 1/0) for bits, numbers for registers, text for string(N).\nEach value is checked against its type before anything is sent.\n\nExamples:\n  factorylm write modbus://127.0.0.1:5020/1 coil:0=false\n  factorylm write modbus://10.0.0.5/1 hr:101=12.5 --scale 0.1\n  factorylm write --config /etc/factorylm/agent.yaml motor_running=true',
    )
    .action(async (target: string | undefined, assignments: string[], opts: WriteOptions) => {
      const writes = await plan(target, assignments, opts).catch(exitWithError);
      const lines = new Map<string, ModbusLine>();
      let failed = 0;
      for (const w of writes) {
        const key = JSON.stringify(w.transport);
        let line = lines.get(key);
        if (!line) {
          line = new ModbusLine({
            transport: w.transport,
            timeoutMs: opts.timeout,
            maxInflight: 1,
            interRequestDelayMs: 0,
          });
          lines.set(key, line);
        }
        const source = new ModbusDeviceSource(
          { name: w.device, unitId: w.unitId, retries: 0 },
          [w.spec],
          line,
        );
        try {
          await source.write(w.spec.id, w.raw);
          console.log(`${w.label} = ${JSON.stringify(w.raw)}  ok`);
        } catch (err) {
          failed += 1;
          const message = (err as Error).message;
          const hint = hintFor(message, { unitId: w.unitId });
          console.error(`${w.label}: ${message}${hint ? `\n  ${hint}` : ''}`);
        }
      }
      await Promise.all([...lines.values()].map((l) => l.close()));
      if (failed > 0) process.exitCode = 1;
    });
}
