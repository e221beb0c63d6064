import { readRemainingLength, type RemainingLength } from './remaining-length.js';

/**
 * Takes successful PUBACKs out of an incoming MQTT byte stream, for the ids `take` claims; every
 * other byte goes on, in order. Successful: 0x40 0x02 id (MQTT 3.1.1, and 5 with reason 0), or
 * MQTT 5 with a reason code below 0x80 (0x10 "no matching subscribers" is one) and no
 * properties. A refusal, or a PUBACK with properties, is left to mqtt.js.
 *
 * Why: mqtt.js turns each PUBACK into a packet object, emits it, reschedules its keepalive
 * timer and handles the next one a tick later, several microseconds each. At 100,000 per-tag
 * QoS 1 messages a second that was a third of the agent's CPU (bench:footprint, tag1), for
 * 4 bytes each that only say "id delivered".
 *
 * Only the fixed headers are read: a packet's body is skipped by its length, so a payload that
 * happens to hold the bytes of a PUBACK is never touched. At most 5 bytes are held back between
 * chunks (a header, or a PUBACK, cut by the chunk's end). A malformed length turns the filter
 * off: the bytes go on as they are, for mqtt.js to report.
 */
export class PubackFilter {
  /** The start of a packet cut by the previous chunk's end: its header was not whole. */
  private held?: Buffer;
  /** Body bytes of the current packet still to come, passed on as they are. */
  private skip = 0;
  private broken = false;
  private readonly header: RemainingLength = { length: 0, bodyAt: 0 };

  constructor(private readonly take: (packetId: number) => boolean) {}

  /** The bytes of `chunk` to hand on, or undefined when none are left. */
  push(chunk: Buffer): Buffer | undefined {
    if (this.broken) return chunk;
    const buf = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = undefined;
    const len = buf.length;
    let pos = Math.min(this.skip, len);
    this.skip -= pos;
    let end = len;
    /** Runs of kept bytes, once something was taken out. */
    let kept: Buffer[] | undefined;
    let keptFrom = 0;
    const header = this.header;
    while (pos < len) {
      const start = pos;
      const state = readRemainingLength(buf, start, header);
      if (state === 'malformed') {
        this.broken = true;
        break;
      }
      if (state === 'cut') {
        end = start;
        break;
      }
      const remaining = header.length;
      if (buf[start] === 0x40 && remaining >= 2 && remaining <= 4) {
        const next = start + 2 + remaining;
        if (next > len) {
          end = start;
          break;
        }
        // Byte 4 is the reason code, byte 5 the property length (MQTT 5).
        const success =
          remaining === 2 || (buf[start + 4]! < 0x80 && (remaining === 3 || buf[start + 5] === 0));
        if (success && this.take(buf.readUInt16BE(start + 2))) {
          kept ??= [];
          if (start > keptFrom) kept.push(buf.subarray(keptFrom, start));
          keptFrom = next;
        }
        pos = next;
        continue;
      }
      const next = header.bodyAt + remaining;
      if (next > len) {
        this.skip = next - len;
        break;
      }
      pos = next;
    }
    if (end < len) this.held = Buffer.from(buf.subarray(end));
    if (!kept) return end === 0 ? undefined : end === len ? buf : buf.subarray(0, end);
    if (end > keptFrom) kept.push(buf.subarray(keptFrom, end));
    if (kept.length === 0) return undefined;
    return kept.length === 1 ? kept[0] : Buffer.concat(kept);
  }
}
