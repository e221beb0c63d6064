import { SampleFrame } from '../sample-frame.js';

/**
 * What an OPC UA subscription delivered between two reads, by tag index: each tag's latest
 * sample, repeated while nothing changes, and the older values of tags notified again before the
 * read took them. Those older values are bounded: beyond `maxEarlier` they are dropped and
 * counted, never a tag's latest. Columns, not an object per notification: at 10,000 items ×
 * 10 Hz those objects and their Maps were most of the agent's heap above node-opcua's own.
 */
export class NotificationBuffer {
  /** Latest sample of each tag, at the slot of its tag index. */
  readonly latest: SampleFrame;
  /** The drain each tag was last notified before; -1: not in this session. */
  private readonly heardIn: Float64Array;
  /** Older samples of tags notified again before the drain, in arrival order. */
  private readonly earlier: SampleFrame;
  private drains = 0;

  constructor(
    ids: readonly string[],
    private readonly maxEarlier: number,
    /** Older values dropped because the reads fell behind: how many this time. */
    private readonly onDrop: (dropped: number) => void,
  ) {
    this.latest = new SampleFrame(ids);
    this.latest.reset(ids.length);
    this.heardIn = new Float64Array(ids.length).fill(-1);
    this.earlier = new SampleFrame(ids, 16);
  }

  /** Tag `i` was notified: keeps its previous sample if not drained yet; write the new one into `latest` at slot `i`. */
  notified(i: number): SampleFrame {
    if (this.heardIn[i] === this.drains) {
      if (this.earlier.count >= this.maxEarlier) {
        this.onDrop(this.earlier.count);
        this.earlier.reset(0);
      }
      this.earlier.copy(this.earlier.extend(), this.latest, i);
    }
    this.heardIn[i] = this.drains;
    return this.latest;
  }

  /**
   * Appends to `out` the older values, then the latest of each of `tags` heard this session. A
   * value that did not change since the last drain is still current (the subscription is alive):
   * it is repeated as read `now`, so the agent's heartbeat and quality logic work as for polled
   * tags.
   */
  drainInto(out: SampleFrame, tags: readonly number[], now: number): void {
    const drain = this.drains++;
    const { earlier, latest } = this;
    for (let s = 0; s < earlier.count; s++) out.copy(out.extend(), earlier, s);
    earlier.reset(0);
    for (const i of tags) {
      const heard = this.heardIn[i]!;
      if (heard >= 0) out.copy(out.extend(), latest, i, heard === drain ? latest.ts[i] : now);
    }
  }

  /** The older values go (nobody will read them: the server is not connected). */
  discardEarlier(): void {
    this.earlier.reset(0);
  }

  /** A session ended: nothing of it is current any more. */
  clear(): void {
    this.earlier.reset(0);
    this.heardIn.fill(-1);
  }
}
