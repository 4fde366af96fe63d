/**
 * Lports that could not be plugged (or unplugged) as asked: why, since when,
 * how often it was tried, and when it is tried again. What `vifplug-ovn
 * status` shows and what the agent's retry timer reads. Pure: the clock is
 * injected.
 *
 * Retries back off exponentially per lport, from `minMs` to `maxMs`, so a
 * port that cannot plug costs one provider call now and then, never a busy
 * loop. That is the safety net: a retry also happens at once whenever
 * something the answer depends on changes (the lport's binding, the bridge,
 * or the provider's view, announced through Watch). Problems that retrying
 * cannot fix (bad options, a port not ours in the way) are not retried on a
 * timer at all.
 */

import { backoffDelay } from '../common/backoff';
import type { Problem } from './model';

export interface PendingEntry {
  readonly lport: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly retryable: boolean;
  /** When the lport first got this reason (ms on the injected clock). */
  readonly since: number;
  /** How many passes in a row ended with this reason. */
  readonly attempts: number;
  /** When the timer tries again; Infinity when only a change can help. */
  readonly retryAt: number;
}

export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 1_000, maxMs: 30_000 };

export class PendingTable {
  private readonly entries = new Map<string, PendingEntry>();

  constructor(
    private readonly now: () => number,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(lport: string): PendingEntry | undefined {
    return this.entries.get(lport);
  }

  list(): PendingEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.lport < b.lport ? -1 : a.lport > b.lport ? 1 : 0));
  }

  /**
   * Records that a pass ended with `problem` for `lport`; returns the entry
   * and whether it is news (a new reason), which is what deserves a log line.
   */
  record(lport: string, type: string, problem: Problem): { entry: PendingEntry; changed: boolean } {
    const now = this.now();
    const previous = this.entries.get(lport);
    const same = previous !== undefined && previous.reason === problem.reason && previous.type === type;
    const attempts = same ? previous.attempts + 1 : 1;
    const delay = backoffDelay(attempts, this.backoff);
    const entry: PendingEntry = {
      lport,
      type,
      reason: problem.reason,
      message: problem.message,
      retryable: problem.retryable,
      since: same ? previous.since : now,
      attempts,
      retryAt: problem.retryable ? now + delay : Infinity,
    };
    this.entries.set(lport, entry);
    return { entry, changed: !same };
  }

  /** The lport is fine now; returns whether it was pending. */
  clear(lport: string): boolean {
    return this.entries.delete(lport);
  }

  /** Forgets lports `keep` does not hold (no longer wanted, nothing left to unplug). */
  retain(keep: (lport: string) => boolean): void {
    for (const lport of this.entries.keys()) if (!keep(lport)) this.entries.delete(lport);
  }

  /** Lports whose retry time has come. */
  due(): string[] {
    const now = this.now();
    return [...this.entries.values()].filter((e) => e.retryAt <= now).map((e) => e.lport);
  }

  /** The earliest retry time, Infinity when none is due ever. */
  nextRetryAt(): number {
    let next = Infinity;
    for (const e of this.entries.values()) if (e.retryAt < next) next = e.retryAt;
    return next;
  }

  /** Lports of `type`: the ones a change of that provider's view may unblock. */
  ofType(type: string): string[] {
    return [...this.entries.values()].filter((e) => e.type === type).map((e) => e.lport);
  }
}
