/** Where a packet's body starts and how long it is, as readRemainingLength found them. */
export interface RemainingLength {
  length: number;
  bodyAt: number;
}

/**
 * Reads the remaining length of the MQTT packet whose fixed header starts at `start`: 1 to 4
 * bytes of 7 bits each, least significant first, the top bit saying another follows. Fills `out`
 * (the caller's, reused: this runs once per packet on the agent's hot path) when the length is
 * whole; `cut` when `buf` ends inside it, `malformed` when a fourth byte still says "more".
 */
export function readRemainingLength(
  buf: Buffer,
  start: number,
  out: RemainingLength,
): 'whole' | 'cut' | 'malformed' {
  let length = 0;
  let factor = 1;
  for (let at = start + 1; at < start + 5; at++) {
    if (at >= buf.length) return 'cut';
    const b = buf[at]!;
    length += (b & 0x7f) * factor;
    factor *= 128;
    if (b < 0x80) {
      out.length = length;
      out.bodyAt = at + 1;
      return 'whole';
    }
  }
  return 'malformed';
}
