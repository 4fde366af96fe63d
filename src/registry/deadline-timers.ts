/**
 * Timers for many deadlines at once, coarsely: deadlines are grouped in
 * buckets of `granularityMs` and each bucket has one Node timer. The gate
 * sets a deadline for every provider call that does not answer at once, so
 * that a batch of 128 ports, or thousands of calls a second, cost a timer per
 * bucket rather than one each (a Node timer costs about as much as the rest
 * of the gate's work for a call). A deadline fires up to `granularityMs`
 * late, never early.
 */
export class DeadlineTimers {
  private readonly buckets = new Map<number, { timer: NodeJS.Timeout; due: Set<() => void> }>();

  constructor(private readonly granularityMs = 10) {}

  /** Calls `expire` once `at` (ms since the epoch) has passed; the returned function cancels it. */
  add(at: number, expire: () => void): () => void {
    const key = Math.ceil(at / this.granularityMs);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      const due = new Set<() => void>();
      const timer = setTimeout(() => {
        this.buckets.delete(key);
        for (const fn of due) fn();
      }, Math.max(0, key * this.granularityMs - Date.now()));
      bucket = { timer, due };
      this.buckets.set(key, bucket);
    }
    const { due } = bucket;
    due.add(expire);
    return () => {
      due.delete(expire);
      if (due.size === 0 && this.buckets.get(key) === bucket) {
        clearTimeout(bucket.timer);
        this.buckets.delete(key);
      }
    };
  }
}
