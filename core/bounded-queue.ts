/**
 * A FIFO with a fixed capacity that drops its oldest entry when full, counting every drop.
 * Backed by a ring buffer so push and shift are O(1) with no per-item allocation.
 */
export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;
  /** Entries discarded because the queue was full. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Adds at the tail; returns the entry dropped from the head to make room, if any. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.size === this.capacity) {
      evicted = this.shift();
      this.dropped += 1;
    }
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size += 1;
    return evicted;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size -= 1;
    return item;
  }
}
