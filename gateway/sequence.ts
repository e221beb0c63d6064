/**
 * End-to-end loss detection (issue 12). Each agent stamps its messages with a sequence number
 * (its outbox record id). A broker's PUBACK tells the agent the broker has a message, not that a
 * subscriber will get it: Mosquitto 2.0.11 acknowledges and then drops everything for a shared
 * subscription of a persistent session after a restart. So the gateway keeps, per node, which
 * sequence numbers arrived, and counts the holes that stay open longer than a grace period.
 *
 * Messages of one node arrive in two ascending streams at once (live, and the outbox backlog
 * replayed after an outage), so a hole is normal for a while; the grace covers the replay. A
 * hole filled after it was counted is counted as late and no longer missing.
 */

/** A run of received sequence numbers, and the hole just below it. */
interface Run {
  lo: number;
  hi: number;
  /** When the hole below `lo` opened (ms); 0 for the lowest run, which has no hole below. */
  holeSince: number;
  /** The hole below has been counted as missing. */
  holeCounted: boolean;
}

export interface SequenceStats {
  /** Nodes whose sequence is tracked. */
  nodes: number;
  /** Messages that carried a sequence number. */
  received: number;
  /** Sequence numbers received again (a broker redelivers what it has no PUBACK for). */
  duplicates: number;
  /** Messages never received: holes open longer than the grace period. */
  missing: number;
  /** Messages that arrived after they had been counted as missing. */
  late: number;
  /** Agent runs that started their numbering again (their manifest said so). */
  restarts: number;
  /** Messages with a sequence number from a node whose manifest has not arrived yet. */
  unattributed: number;
}

export interface NewlyMissing {
  node: string;
  /** First and last sequence number of each hole counted now. */
  ranges: [number, number][];
  count: number;
}

/** Holes kept open per node; beyond this the lowest ones are counted at once and forgotten. */
export const MAX_RUNS_PER_NODE = 4096;

class NodeSequence {
  runs: Run[] = [];
  seqStart?: number;

  constructor(
    private readonly stats: SequenceStats,
    private readonly onCounted: (from: number, to: number) => void,
  ) {}

  add(seq: number, now: number): void {
    this.stats.received += 1;
    const runs = this.runs;
    const last = runs[runs.length - 1];
    // The common case: the next message of the newest run.
    if (last && seq === last.hi + 1) {
      last.hi = seq;
      return;
    }
    if (!last || seq > last.hi + 1) {
      runs.push({ lo: seq, hi: seq, holeSince: last ? now : 0, holeCounted: false });
      this.bound();
      return;
    }
    // Binary search for the last run with lo <= seq.
    let a = 0;
    let b = runs.length - 1;
    let i = -1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if (runs[m]!.lo <= seq) {
        i = m;
        a = m + 1;
      } else b = m - 1;
    }
    if (i >= 0 && seq <= runs[i]!.hi) {
      this.stats.duplicates += 1;
      return;
    }
    // seq sits in the hole below runs[i + 1] (or below the lowest run when i < 0).
    const next = runs[i + 1]!;
    if (next.holeCounted && i >= 0) {
      this.stats.late += 1;
      this.stats.missing -= 1;
    }
    const prev = i >= 0 ? runs[i]! : undefined;
    const joinsPrev = prev !== undefined && seq === prev.hi + 1;
    const joinsNext = seq === next.lo - 1;
    if (joinsPrev && joinsNext) {
      prev.hi = next.hi;
      runs.splice(i + 1, 1);
    } else if (joinsPrev) prev.hi = seq;
    else if (joinsNext) next.lo = seq;
    else if (prev === undefined) {
      // Below everything seen: an older message (the backlog replay), no hole below it yet.
      runs.unshift({ lo: seq, hi: seq, holeSince: 0, holeCounted: false });
      next.holeSince = now;
    } else {
      runs.splice(i + 1, 0, {
        lo: seq,
        hi: seq,
        holeSince: next.holeSince,
        holeCounted: next.holeCounted,
      });
    }
    this.bound();
  }

  /** Counts holes that opened before `before` as missing. */
  sweep(before: number): void {
    const runs = this.runs;
    for (let i = 1; i < runs.length; i++) {
      const run = runs[i]!;
      if (!run.holeCounted && run.holeSince <= before)
        this.count(runs[i - 1]!.hi + 1, run.lo - 1, run);
    }
  }

  /**
   * A new agent run starting at `seqStart`: its messages reuse numbers from `seqStart` on, and
   * every number at or above it from the old run was acknowledged (the outbox kept none), so
   * holes there can never fill: count them and forget that part.
   */
  restart(seqStart: number): void {
    const runs = this.runs;
    for (let i = 1; i < runs.length; i++) {
      const run = runs[i]!;
      const from = runs[i - 1]!.hi + 1;
      if (!run.holeCounted && run.lo > seqStart)
        this.count(Math.max(from, seqStart), run.lo - 1, run);
    }
    const kept: Run[] = [];
    for (const run of runs) {
      if (run.lo >= seqStart) break;
      kept.push(run.hi >= seqStart ? { ...run, hi: seqStart - 1 } : run);
    }
    this.runs = kept;
  }

  private count(from: number, to: number, run: Run): void {
    run.holeCounted = true;
    if (to < from) return;
    this.stats.missing += to - from + 1;
    this.onCounted(from, to);
  }

  /** Too many holes: count the lowest now and merge it, so memory stays bounded. */
  private bound(): void {
    while (this.runs.length > MAX_RUNS_PER_NODE) {
      const [first, second] = this.runs as [Run, Run];
      if (!second.holeCounted) this.count(first.hi + 1, second.lo - 1, second);
      second.lo = first.lo;
      second.holeSince = 0;
      second.holeCounted = false;
      this.runs.shift();
    }
  }
}

/** Per-node sequence tracking; pure logic, the gateway feeds it and reports what it counts. */
export class SequenceTracker {
  readonly stats: SequenceStats = {
    nodes: 0,
    received: 0,
    duplicates: 0,
    missing: 0,
    late: 0,
    restarts: 0,
    unattributed: 0,
  };
  private readonly nodes = new Map<string, NodeSequence>();
  private newly = new Map<string, NewlyMissing>();

  constructor(private readonly graceMs: number) {}

  /** A message of `node` (undefined while its manifest is unknown) with sequence `seq`. */
  add(node: string | undefined, seq: number, now: number): void {
    if (node === undefined) {
      this.stats.unattributed += 1;
      return;
    }
    this.node(node).add(seq, now);
  }

  /** The node's manifest says its run starts at `seqStart` (repeated manifests change nothing). */
  manifest(node: string, seqStart: number): void {
    const n = this.node(node);
    if (n.seqStart === seqStart) return;
    const first = n.seqStart === undefined;
    n.seqStart = seqStart;
    if (first) return;
    this.stats.restarts += 1;
    n.restart(seqStart);
  }

  /** Counts holes older than the grace period; returns the holes counted since the last call. */
  sweep(now: number): NewlyMissing[] {
    for (const n of this.nodes.values()) n.sweep(now - this.graceMs);
    const out = [...this.newly.values()];
    this.newly = new Map();
    return out;
  }

  private node(name: string): NodeSequence {
    let n = this.nodes.get(name);
    if (!n) {
      n = new NodeSequence(this.stats, (from, to) => {
        let entry = this.newly.get(name);
        if (!entry) this.newly.set(name, (entry = { node: name, ranges: [], count: 0 }));
        if (entry.ranges.length < 20) entry.ranges.push([from, to]);
        entry.count += to - from + 1;
      });
      this.nodes.set(name, n);
      this.stats.nodes = this.nodes.size;
    }
    return n;
  }
}
