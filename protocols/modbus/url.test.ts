import { describe, expect, it } from 'vitest';
import { parseModbusUrl } from './url.js';

describe('parseModbusUrl', () => {
  it.each([
    ['modbus://10.0.0.5', { transport: { kind: 'tcp', host: '10.0.0.5', port: 502 }, unitId: 1 }],
    [
      'modbus://127.0.0.1:5020/3',
      { transport: { kind: 'tcp', host: '127.0.0.1', port: 5020 }, unitId: 3 },
    ],
    [
      'modbus-tcp://plc.local:502/0',
      { transport: { kind: 'tcp', host: 'plc.local', port: 502 }, unitId: 0 },
    ],
    ['modbus://[::1]:1502/1', { transport: { kind: 'tcp', host: '::1', port: 1502 }, unitId: 1 }],
    [
      'modbus-rtu-tcp://gw:4001/7',
      { transport: { kind: 'rtu-over-tcp', host: 'gw', port: 4001 }, unitId: 7 },
    ],
    [
      'modbus-rtu:///dev/ttyUSB0',
      {
        transport: {
          kind: 'rtu',
          path: '/dev/ttyUSB0',
          baudRate: 9600,
          parity: 'none',
          dataBits: 8,
          stopBits: 1,
        },
        unitId: 1,
      },
    ],
    [
      'modbus-rtu:///dev/pts/3?baud=19200&parity=even&stopbits=2/4',
      {
        transport: {
          kind: 'rtu',
          path: '/dev/pts/3',
          baudRate: 19200,
          parity: 'even',
          dataBits: 8,
          stopBits: 2,
        },
        unitId: 4,
      },
    ],
  ])('%s', (text, expected) => {
    expect(parseModbusUrl(text)).toEqual(expected);
  });

  it.each([
    ['http://x', /not a Modbus URL/],
    ['modbus://', /host is missing/],
    ['modbus://h:70000/1', /port 70000/],
    ['modbus://h/300', /unit id 300/],
    ['modbus-rtu://ttyUSB0', /needs the device path/],
    ['modbus-rtu:///dev/x?parity=mark', /parity mark/],
    ['modbus-rtu:///dev/x?baud=fast', /baud fast/],
  ])('rejects %s', (text, message) => {
    expect(() => parseModbusUrl(text)).toThrow(message);
  });
});
