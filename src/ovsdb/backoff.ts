/**
 * How long to wait before the next connection attempt, after OVS's
 * reconnect.c: the first attempt at each remote of a list is free; after
 * that the wait doubles from `minMs` up to `maxMs`; a connection that lived
 * at least as long as the current wait starts over at `minMs`. Each wait is
 * jittered down by up to half, so that the clients of a restarted server do
 * not all come back in the same instant.
 */
export class Backoff {
  private freeTries: number;
  private current = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    freeTries: number,
    private readonly random: () => number = Math.random,
  ) {
    this.freeTries = freeTries;
  }

  /** The un-jittered wait the next failure will start from (for the connect timeout). */
  get currentMs(): number {
    return this.current;
  }

  get atMax(): boolean {
    return this.current >= this.maxMs;
  }

  /**
   * Records a failed attempt, or the end of a connection that had been up for
   * `connectedMs`; returns the wait before the next attempt.
   */
  failed(connectedMs?: number): number {
    if (this.freeTries > 1) {
      this.freeTries--;
      this.current = 0;
    } else if (connectedMs !== undefined && connectedMs >= this.current) {
      this.current = this.minMs;
    } else if (this.current < this.minMs) {
      this.current = this.minMs;
    } else {
      this.current = Math.min(this.current * 2, this.maxMs);
    }
    return this.current === 0 ? 0 : Math.round(this.current * (0.5 + 0.5 * this.random()));
  }
}
