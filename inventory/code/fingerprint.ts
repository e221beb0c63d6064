/**
 * Token hashing and winnowing (Schleimer, Wilkerson, Aiken: "Winnowing: local algorithms for
 * document fingerprinting", SIGMOD 2003, the method of MOSS). Pure functions over token ids.
 */

/** 32-bit FNV-1a of a string: token ids, the same on every node and every run. */
export function tokenId(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit finaliser (murmur3 fmix32): spreads a polynomial k-gram hash over every bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hash of every k-gram of `ids`: `out[i]` covers `ids[i .. i+k-1]`. Recomputed per k-gram rather
 * than rolled, so no modular inverse is needed; k is small (tens of tokens).
 */
export function kgramHashes(ids: Uint32Array, k: number): Uint32Array {
  const n = ids.length - k + 1;
  if (n <= 0) return new Uint32Array(0);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let j = 0; j < k; j++) h = (Math.imul(h, 31) + ids[i + j]!) >>> 0;
    out[i] = mix(h);
  }
  return out;
}

/**
 * Robust winnowing: in every window of `w` consecutive k-gram hashes the minimum is kept (the
 * rightmost on ties), each selected position once. Any match of at least w + k - 1 tokens
 * shares a fingerprint; matches shorter than k tokens never do. Returns the selected hashes and
 * the index of the k-gram each came from.
 */
export function winnow(hashes: Uint32Array, w: number): { hashes: Uint32Array; at: Uint32Array } {
  const picked: number[] = [];
  const at: number[] = [];
  if (hashes.length === 0) return { hashes: new Uint32Array(0), at: new Uint32Array(0) };
  // A file shorter than one window still gets its minimum.
  const win = Math.min(w, hashes.length);
  let last = -1;
  for (let start = 0; start + win <= hashes.length; start++) {
    let min = start;
    for (let i = start + 1; i < start + win; i++) if (hashes[i]! <= hashes[min]!) min = i;
    if (min !== last) {
      picked.push(hashes[min]!);
      at.push(min);
      last = min;
    }
  }
  return { hashes: Uint32Array.from(picked), at: Uint32Array.from(at) };
}

/** 64-bit hash of a token sequence as 16 hex digits: two independent 32-bit lanes. */
export function sequenceHash(ids: Uint32Array, from = 0, to = ids.length): string {
  let a = 0x9e3779b9;
  let b = 0x85ebca6b;
  for (let i = from; i < to; i++) {
    a = mix((Math.imul(a, 31) + ids[i]!) >>> 0);
    b = (Math.imul(b ^ ids[i]!, 0x01000193) + i - from) >>> 0;
  }
  return mix(a).toString(16).padStart(8, '0') + mix(b).toString(16).padStart(8, '0');
}

/** Fingerprints as base64 of their little-endian uint32s: a compact, JSON-safe form. */
export function encodeFingerprints(hashes: Uint32Array): string {
  return Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength).toString('base64');
}

export function decodeFingerprints(text: string): Uint32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Uint32Array(Math.floor(bytes.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt32LE(i * 4);
  return out;
}
