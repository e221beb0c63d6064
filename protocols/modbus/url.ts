import type { LineTransport } from './transport.js';

export interface ModbusEndpoint {
  transport: LineTransport;
  unitId: number;
}

const SCHEMES =
  'modbus://HOST[:PORT]/UNIT, modbus-rtu-tcp://HOST:PORT/UNIT or modbus-rtu:///dev/ttyUSB0?baud=9600&parity=none/UNIT';

/**
 * Parses a device URL for the command-line tools. TCP port defaults to 502, unit to 1, serial
 * settings to 9600 8N1. The unit id of a serial URL follows its query: `…?baud=19200/3`.
 */
export function parseModbusUrl(text: string): ModbusEndpoint {
  const fail = (why: string): never => {
    throw new Error(`"${text}": ${why}; expected ${SCHEMES}`);
  };
  const m =
    /^(modbus|modbus-tcp|modbus-rtu-tcp|modbus-rtu):\/\/([^?]*?)(?:\?([^/]*))?(?:\/(\d+))?$/.exec(
      text,
    );
  if (!m) return fail('not a Modbus URL');
  const [, scheme, where = '', query = '', unitText] = m;
  const unitId = unitText === undefined ? 1 : Number(unitText);
  if (unitId > 255) fail(`unit id ${unitId} must be 0..255`);
  if (scheme === 'modbus-rtu') {
    if (!where.startsWith('/'))
      fail('a serial URL needs the device path, as in modbus-rtu:///dev/ttyUSB0');
    const params = new URLSearchParams(query);
    const baudRate = Number(params.get('baud') ?? 9600);
    const parity = params.get('parity') ?? 'none';
    const dataBits = Number(params.get('databits') ?? 8);
    const stopBits = Number(params.get('stopbits') ?? 1);
    if (!Number.isInteger(baudRate) || baudRate <= 0)
      fail(`baud ${params.get('baud')} is not a positive integer`);
    if (parity !== 'none' && parity !== 'even' && parity !== 'odd')
      fail(`parity ${parity} must be none, even or odd`);
    if (dataBits !== 7 && dataBits !== 8) fail('databits must be 7 or 8');
    if (stopBits !== 1 && stopBits !== 2) fail('stopbits must be 1 or 2');
    return {
      transport: { kind: 'rtu', path: where, baudRate, parity, dataBits, stopBits },
      unitId,
    } as ModbusEndpoint;
  }
  const hp = /^(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?$/.exec(where);
  if (!hp) return fail('host is missing or malformed');
  const port = hp[2] === undefined ? 502 : Number(hp[2]);
  if (port < 1 || port > 65535) fail(`port ${port} must be 1..65535`);
  const host = hp[1]!.replace(/^\[|\]$/g, '');
  return {
    transport: { kind: scheme === 'modbus-rtu-tcp' ? 'rtu-over-tcp' : 'tcp', host, port },
    unitId,
  };
}
