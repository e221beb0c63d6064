import { describe, expect, it } from 'vitest';
import { crc16, encodeRtuFrame, splitRtuRequests } from './rtu.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('RTU framing', () => {
  it.each([
    ['01 03 0000 000a', 0xcdc5],
    ['11 03 006b 0003', 0x8776],
    ['01 05 0000 ff00', 0x3a8c],
  ])('CRC of %s', (bytes, crc) => {
    expect(crc16(hex(bytes))).toBe(crc);
  });

  it('frames a PDU with its unit id and CRC low byte first', () => {
    expect(encodeRtuFrame(0x11, hex('03 006b 0003'))).toEqual(hex('11 03 006b 0003 7687'));
  });

  it('splits requests, waits for partial ones, and resyncs after noise', () => {
    const read = encodeRtuFrame(1, hex('03 0064 0006'));
    const write = encodeRtuFrame(2, hex('10 0064 0002 04 000a 0102'));
    const stream = Buffer.concat([hex('ff 00 13'), read, write, read.subarray(0, 5)]);
    const { frames, rest, skipped } = splitRtuRequests(stream);
    expect(frames).toEqual([
      { unitId: 1, pdu: hex('03 0064 0006') },
      { unitId: 2, pdu: hex('10 0064 0002 04 000a 0102') },
    ]);
    expect(skipped).toBe(3);
    expect(rest).toEqual(read.subarray(0, 5));
  });

  it('skips a frame whose CRC is wrong', () => {
    const bad = encodeRtuFrame(1, hex('03 0064 0006'));
    bad[bad.length - 1]! ^= 0xff;
    const good = encodeRtuFrame(1, hex('01 0000 0012'));
    const { frames } = splitRtuRequests(Buffer.concat([bad, good]));
    expect(frames).toEqual([{ unitId: 1, pdu: hex('01 0000 0012') }]);
  });
});
