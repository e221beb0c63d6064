export interface ModbusEndpoint {
  host: string;
  port: number;
  unitId: number;
}

/** Parses `modbus://HOST[:PORT][/UNIT]` (also `modbus-tcp://`); port defaults to 502, unit to 1. */
export function parseModbusUrl(text: string): ModbusEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a Modbus URL; expected e.g. modbus://192.168.1.10:502/1`);
  }
  if (url.protocol !== 'modbus:' && url.protocol !== 'modbus-tcp:') {
    throw new Error(
      `"${text}": scheme ${url.protocol} is not supported here; use modbus://HOST:PORT/UNIT`,
    );
  }
  const unitText = url.pathname.replace(/^\/+/, '');
  const unitId = unitText === '' ? 1 : Number(unitText);
  if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255)
    throw new Error(`"${text}": unit id "${unitText}" must be 0..255`);
  const port = url.port === '' ? 502 : Number(url.port);
  if (!url.hostname) throw new Error(`"${text}": host is missing`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, unitId };
}
