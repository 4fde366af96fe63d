/**
 * Timers for many deadlines at once, coarsely: deadlines are grouped in
 * buckets of `granularityMs`, and one Node timer, armed for the earliest
 * bucket, serves them all. The gate sets a deadline for every provider call
 * that does not answer at once, and the SDK one for every PortStream call, so
 * that a batch of 128 ports, or thousands of calls a second, cost no timer of
 * their own (a Node timer set and cleared costs about as much as the rest of
 * the gate's work for a call). A deadline fires up to `granularityMs` late,
 * never early.
 */
export class DeadlineTimers {
  private readonly buckets = new Map<number, Set<() => void>>();
  /**
   * The bucket deadlines went to last, kept while empty: calls one after the
   * other (their deadlines a few ms apart) share it instead of each making
   * a bucket. It goes when the next bucket is made, or when it is due.
   */
  private latest: number | undefined;
  /** The bucket the timer is armed for; undefined while none is armed. */
  private armedFor: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly granularityMs = 10) {}

  /** Calls `expire` once `at` (ms since the epoch) has passed; the returned function cancels it. */
  add(at: number, expire: () => void): () => void {
    const key = Math.ceil(at / this.granularityMs);
    let due = this.buckets.get(key);
    if (due === undefined) {
      due = new Set();
      this.buckets.set(key, due);
      if (this.armedFor === undefined || key < this.armedFor) this.arm(key);
    }
    if (key !== this.latest) {
      const previous = this.latest === undefined ? undefined : this.buckets.get(this.latest);
      if (previous?.size === 0) this.buckets.delete(this.latest!);
      this.latest = key;
    }
    const bucket = due;
    bucket.add(expire);
    // Cancelling leaves the timer armed: when it fires it finds nothing due
    // and re-arms for what is left, which costs less than a timer per call.
    return () => {
      bucket.delete(expire);
      if (bucket.size === 0 && key !== this.latest && this.buckets.get(key) === bucket) this.buckets.delete(key);
    };
  }

  private arm(key: number): void {
    clearTimeout(this.timer);
    this.armedFor = key;
    this.timer = setTimeout(() => this.fire(), Math.max(0, key * this.granularityMs - Date.now()));
    // What waits for a deadline keeps the process alive by itself (a call's socket), not the timer.
    this.timer.unref();
  }

  /** Runs what is due, and arms the timer for the earliest bucket left. */
  private fire(): void {
    this.armedFor = undefined;
    this.timer = undefined;
    const now = Date.now();
    const expired: Set<() => void>[] = [];
    let next: number | undefined;
    for (const [key, due] of this.buckets) {
      if (key * this.granularityMs <= now) {
        expired.push(due);
        this.buckets.delete(key);
        if (key === this.latest) this.latest = undefined;
      } else if (next === undefined || key < next) {
        next = key;
      }
    }
    if (next !== undefined) this.arm(next);
    for (const due of expired) for (const expire of due) expire();
  }
}
