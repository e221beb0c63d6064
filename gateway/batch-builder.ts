/** Lines for one InfluxDB write request, and the messages acknowledged when they are durable. */
export interface Batch<T> {
  /** Spool id, given when the batch closes: the order it is written back in. */
  id: number;
  lines: string[];
  /** Messages acknowledged when the batch is durable. */
  tickets: T[];
}

export interface BatchLimits {
  /** Points per write request. */
  batchSize: number;
  /** Longest a point waits in the open batch, ms. */
  flushIntervalMs: number;
  /** Close the batch once this many messages wait for it. */
  maxBatchMessages?: number;
  /** Close the batch when no message came for this long, ms. */
  idleFlushMs?: number;
}

/**
 * The open batch of the spool sink: lines collect here until it is full (points or messages), a
 * point has waited flushIntervalMs, or messages stopped coming for idleFlushMs; then `onClose`
 * takes it. It never closes in the middle of a message (between `mark` and `seal`), so a
 * message's points are never split between batches.
 */
export class BatchBuilder<T> {
  private open: Batch<T> = { id: 0, lines: [], tickets: [] };
  /** Lines ever added: `mark()`. */
  added = 0;
  private flushTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private lastSealAt = 0;

  constructor(
    private readonly limits: BatchLimits,
    /** Tickets durable at once: their message wrote no lines. */
    private readonly onDurable: (tickets: T[]) => void,
    private readonly onClose: (batch: Batch<T>) => void,
  ) {}

  write(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const batch = this.open.lines;
    for (const line of lines) batch.push(line);
    this.added += lines.length;
    this.armFlush();
  }

  writeLine(line: string): void {
    this.open.lines.push(line);
    this.added += 1;
    this.armFlush();
  }

  /** A point waits at most flushIntervalMs in the open batch. */
  private armFlush(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.close();
    }, this.limits.flushIntervalMs);
  }

  mark(): number {
    return this.added;
  }

  seal(ticket: T | undefined, mark: number): void {
    const open = this.open;
    if (ticket !== undefined) {
      if (this.added === mark) this.onDurable([ticket]);
      else open.tickets.push(ticket);
    }
    const { batchSize, maxBatchMessages, idleFlushMs } = this.limits;
    if (
      open.lines.length >= batchSize ||
      (maxBatchMessages !== undefined && open.tickets.length >= maxBatchMessages)
    ) {
      this.close();
    } else if (idleFlushMs !== undefined && open.lines.length > 0) {
      this.lastSealAt = performance.now();
      this.idleTimer ??= setTimeout(() => this.onIdle(idleFlushMs), idleFlushMs);
    }
  }

  private onIdle(idleFlushMs: number): void {
    this.idleTimer = undefined;
    if (this.open.lines.length === 0) return;
    const quiet = performance.now() - this.lastSealAt;
    if (quiet >= idleFlushMs - 1) this.close();
    else this.idleTimer = setTimeout(() => this.onIdle(idleFlushMs), idleFlushMs - quiet);
  }

  /** Hands the open batch, unless empty, to `onClose`, and starts a new one. */
  close(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.idleTimer);
    this.flushTimer = this.idleTimer = undefined;
    const batch = this.open;
    // Tickets are only added with lines, so an empty batch has none.
    if (batch.lines.length === 0) return;
    this.open = { id: 0, lines: [], tickets: [] };
    this.onClose(batch);
  }

  /** Stops the timers, for good: the sink is closed. */
  stop(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.idleTimer);
  }
}
