import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  encodeBitsResponse,
  encodeException,
  encodeRegistersResponse,
  encodeTcpFrame,
  encodeWriteResponse,
  FramingError,
  ModbusException,
  splitTcpFrames,
} from './pdu.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('decodeRequest', () => {
  it.each([
    ['01 0000 0012', { kind: 'read', fc: 1, area: 'coil', start: 0, count: 18 }],
    ['02 0003 0001', { kind: 'read', fc: 2, area: 'di', start: 3, count: 1 }],
    ['03 0064 0006', { kind: 'read', fc: 3, area: 'hr', start: 100, count: 6 }],
    ['04 0000 007d', { kind: 'read', fc: 4, area: 'ir', start: 0, count: 125 }],
    ['05 0000 ff00', { kind: 'write-bits', fc: 5, start: 0, values: [true] }],
    ['05 0003 0000', { kind: 'write-bits', fc: 5, start: 3, values: [false] }],
    ['06 0065 007b', { kind: 'write-registers', fc: 6, start: 101, values: [123] }],
    [
      '0f 0000 000a 02 cd01',
      {
        kind: 'write-bits',
        fc: 15,
        start: 0,
        values: [true, false, true, true, false, false, true, true, true, false],
      },
    ],
    [
      '10 0064 0002 04 000a 0102',
      { kind: 'write-registers', fc: 16, start: 100, values: [10, 258] },
    ],
  ])('%s', (pdu, expected) => {
    expect(decodeRequest(hex(pdu))).toEqual(expected);
  });

  it.each([
    ['07', 1],
    ['2b 0e', 1],
    ['03 0000 0000', 3],
    ['03 0000 007e', 3],
    ['01 0000 07d1', 3],
    ['03 ffff 0002', 2],
    ['05 0000 1234', 3],
    ['03 00', 3],
    ['10 0000 0002 03 0001 02', 3],
  ])('%s → exception %i', (pdu, code) => {
    try {
      decodeRequest(hex(pdu));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ModbusException);
      expect((err as ModbusException).code).toBe(code);
    }
  });
});

describe('responses', () => {
  it('packs bits LSB first', () => {
    expect(
      encodeBitsResponse(1, [true, false, true, true, false, false, true, true, true, false]),
    ).toEqual(hex('01 02 cd 01'));
  });
  it('encodes registers big-endian', () => {
    expect(encodeRegistersResponse(3, [1750, 0xffff])).toEqual(hex('03 04 06d6 ffff'));
  });
  it('echoes single writes and answers multiple writes with start and count', () => {
    expect(encodeWriteResponse({ kind: 'write-bits', fc: 5, start: 2, values: [true] })).toEqual(
      hex('05 0002 ff00'),
    );
    expect(
      encodeWriteResponse({ kind: 'write-registers', fc: 16, start: 100, values: [1, 2, 3] }),
    ).toEqual(hex('10 0064 0003'));
  });
  it('sets the high bit of the function code on exceptions', () => {
    expect(encodeException(3, 2)).toEqual(hex('83 02'));
  });
});

describe('splitTcpFrames', () => {
  const frame = encodeTcpFrame(0x1234, 1, hex('03 0064 0006'));

  it('frames a request with its MBAP header', () => {
    expect(frame).toEqual(hex('1234 0000 0006 01 03 0064 0006'));
  });

  it('returns complete frames and keeps a partial one for later', () => {
    const two = Buffer.concat([frame, frame, frame.subarray(0, 5)]);
    const { frames, rest } = splitTcpFrames(two);
    expect(frames).toHaveLength(2);
    expect(frames[0]).toEqual({ transactionId: 0x1234, unitId: 1, pdu: hex('03 0064 0006') });
    expect(rest).toEqual(frame.subarray(0, 5));
  });

  it.each([
    ['a non-zero protocol id', hex('0001 0001 0006 01 03 0064 0006'), /protocol id 1/],
    ['a length beyond 254', hex('0001 0000 0fff 01 03'), /MBAP length 4095/],
    ['a length below 2', hex('0001 0000 0001 01'), /MBAP length 1/],
  ])('throws on %s', (_name, bytes, message) => {
    expect(() => splitTcpFrames(bytes)).toThrow(FramingError);
    expect(() => splitTcpFrames(bytes)).toThrow(message);
  });
});
