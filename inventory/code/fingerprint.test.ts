import { describe, expect, it } from 'vitest';
import {
  decodeFingerprints,
  encodeFingerprints,
  kgramHashes,
  sequenceHash,
  tokenId,
  winnow,
} from './fingerprint.js';

const ids = (text: string) => Uint32Array.from(text.split(' ').map(tokenId));

describe('winnowing', () => {
  it.each([
    ['one window per position when every minimum moves', [5, 4, 3, 2, 1], 2, [4, 3, 2, 1]],
    ['the rightmost minimum on ties, each position once', [1, 3, 1, 3, 1], 3, [1, 1]],
    ['shorter than a window: its minimum', [9, 7, 8], 5, [7]],
    ['empty', [], 4, []],
  ])('%s', (_name, hashes, w, expected) => {
    expect([...winnow(Uint32Array.from(hashes), w).hashes]).toEqual(expected);
  });

  it('finds any shared run of k + w - 1 tokens, and none shorter than k', () => {
    const common = 'a b c d e f g h i j k l m n o p q r s t';
    const x = ids(`x1 x2 x3 ${common} x4`);
    const y = ids(`y1 ${common} y2 y3 y4`);
    const fx = new Set(winnow(kgramHashes(x, 8), 5).hashes);
    const fy = winnow(kgramHashes(y, 8), 5).hashes;
    expect([...fy].some((h) => fx.has(h))).toBe(true);
    const short = ids('p q r s t u v');
    expect(kgramHashes(short, 8)).toHaveLength(0);
  });

  it('round-trips fingerprints through base64 and hashes sequences stably', () => {
    const h = Uint32Array.from([0, 1, 0xffffffff, 123456789]);
    expect([...decodeFingerprints(encodeFingerprints(h))]).toEqual([...h]);
    expect(sequenceHash(ids('a b c'))).toBe(sequenceHash(ids('a b c')));
    expect(sequenceHash(ids('a b c'))).not.toBe(sequenceHash(ids('a c b')));
    expect(sequenceHash(ids('a b c'))).toMatch(/^[0-9a-f]{16}$/);
  });
});
