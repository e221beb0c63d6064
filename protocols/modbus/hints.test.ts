import { describe, expect, it } from 'vitest';
import { hintFor } from './hints.js';

describe('hintFor', () => {
  it.each([
    ['exception 2 (illegal data address)', {}, /no such address.*0-based/],
    ['exception 1 (illegal function)', {}, /does not support this function/],
    ['exception 3 (illegal data value)', {}, /read fewer registers/],
    [
      'exception 11 (gateway target device failed to respond)',
      { unitId: 7 },
      /no device with unit id 7/,
    ],
    ['exception 10 (gateway path unavailable)', {}, /no device behind it/],
    ['exception 6 (server device busy)', {}, /busy/],
    [
      'disconnected: Error: No such file or directory, cannot open /dev/ttyNOPE',
      {},
      /serial port \/dev\/ttyNOPE does not exist/,
    ],
    ['disconnected: Error: Permission denied, cannot open /dev/ttyS0', {}, /dialout/],
    ['disconnected: EACCES: permission denied', {}, /dialout/],
    ['disconnected: connect ECONNREFUSED 127.0.0.1:502', {}, /nothing listens there/],
    ['disconnected: connect EHOSTUNREACH 10.0.0.5:502', {}, /cannot be reached/],
    ['timeout', { unitId: 3 }, /check the unit id \(3\)/],
    ['decode error: NaN', {}, /type and byte order/],
  ])('%s', (reason, context, hint) => {
    expect(hintFor(reason, context)).toMatch(hint);
  });

  it('says nothing when it knows nothing better', () => {
    expect(hintFor('something new')).toBeUndefined();
  });
});
