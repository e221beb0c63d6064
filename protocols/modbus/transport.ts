/**
 * The connection a Modbus device is reached over, without the code that opens it: config
 * validation and logs need it, and modbus-serial costs 17 MiB to load.
 */

export interface SerialSettings {
  path: string;
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: 7 | 8;
  stopBits: 1 | 2;
}

export type LineTransport =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu-over-tcp'; host: string; port: number }
  | ({ kind: 'rtu' } & SerialSettings);

export function describeTransport(t: LineTransport): string {
  return t.kind === 'rtu' ? `rtu:${t.path}@${t.baudRate}` : `${t.kind}://${t.host}:${t.port}`;
}
