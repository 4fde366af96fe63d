/**
 * Exponential backoff: how long to wait after each failure in a row, for
 * every retry loop of ours (reconnects, restarts, re-registrations, re-reads,
 * per-lport and per-socket retries). Pure: it counts, it never sets a timer,
 * and the randomness of its jitter is injected.
 *
 * The n-th failure in a row waits `minMs * factor^(n-1)`, at most `maxMs`.
 * Three options, for the loops that need them (all off by default):
 * - `jitter`: each wait is cut by a random share of at most `jitter` (0.5:
 *   somewhere between half and all of it), so that the clients of a restarted
 *   server do not all come back in the same instant;
 * - `freeTries`: that many attempts, the first included, go without waiting
 *   (OVS's reconnect.c tries each remote of a list once before backing off);
 * - `resetAfterMs`: an attempt that lived at least that long was healthy, so
 *   the failure that ended it starts a new series at `minMs`; `'wait'` means
 *   "at least as long as the current wait", as reconnect.c.
 */

/** The waits: from `minMs`, multiplied by `factor` (default 2) at each failure, up to `maxMs`. */
export interface BackoffRange {
  readonly minMs: number;
  readonly maxMs: number;
  readonly factor?: number;
}

export interface BackoffOptions extends BackoffRange {
  /** Share of each wait that may be cut at random, from 0 (none, the default) to 1. */
  readonly jitter?: number;
  /** The jitter's random source, returning [0, 1); Math.random by default. */
  readonly random?: () => number;
  /** Attempts, the first included, that go without a wait (default 0: only the first). */
  readonly freeTries?: number;
  /** How long an attempt must have lived (told to next()) to start the series over; 'wait': as long as the current wait. */
  readonly resetAfterMs?: number | 'wait';
}

/**
 * The un-jittered wait after the `failure`-th failure in a row (1 for the
 * first): for retries whose count is kept elsewhere, e.g. in a table's rows.
 */
export function backoffDelay(failure: number, range: BackoffRange): number {
  if (failure < 1 || range.minMs === 0) return 0;
  return Math.min(range.maxMs, range.minMs * (range.factor ?? 2) ** (failure - 1));
}

export class Backoff {
  private readonly options: BackoffOptions;
  private readonly random: () => number;
  private freeLeft: number;
  /** Failures since reset(), free ones included. */
  private count = 0;
  /** Failures of the current series (what the wait grows with). */
  private series = 0;
  private current = 0;

  constructor(options: BackoffOptions) {
    checkOptions(options);
    this.options = options;
    this.random = options.random ?? Math.random;
    this.freeLeft = options.freeTries ?? 0;
  }

  /** Failures since the start or the last reset(). */
  get failures(): number {
    return this.count;
  }

  /** The last wait before its jitter: 0 before any failure, after reset() and after a free try. */
  get currentMs(): number {
    return this.current;
  }

  /** Whether the waits have reached `maxMs`. */
  get atMax(): boolean {
    return this.current >= this.options.maxMs;
  }

  /**
   * Records a failure and returns the wait before the next attempt.
   * `livedMs`: how long the attempt that failed had been up (a connection, a
   * child process), for `resetAfterMs`.
   */
  next(livedMs?: number): number {
    this.count++;
    if (this.freeLeft > 1) {
      this.freeLeft--;
      this.current = 0;
      return 0;
    }
    const { resetAfterMs, jitter } = this.options;
    if (livedMs !== undefined && resetAfterMs !== undefined && livedMs >= (resetAfterMs === 'wait' ? this.current : resetAfterMs)) this.series = 0;
    this.series++;
    this.current = backoffDelay(this.series, this.options);
    if (jitter === undefined || jitter === 0 || this.current === 0) return this.current;
    return Math.round(this.current * (1 - jitter + jitter * this.random()));
  }

  /** Starts over: the next failure waits `minMs` (or nothing, while free tries are left: they are given back). */
  reset(): void {
    this.count = 0;
    this.series = 0;
    this.current = 0;
    this.freeLeft = this.options.freeTries ?? 0;
  }
}

function checkOptions(o: BackoffOptions): void {
  const bad = (what: string) => {
    throw new RangeError(`backoff: ${what}`);
  };
  if (!(o.minMs >= 0)) bad(`minMs must be 0 or more, not ${o.minMs}`);
  if (!(o.maxMs >= 0)) bad(`maxMs must be 0 or more, not ${o.maxMs}`);
  if (o.factor !== undefined && !(o.factor >= 1)) bad(`factor must be 1 or more, not ${o.factor}`);
  if (o.jitter !== undefined && !(o.jitter >= 0 && o.jitter <= 1)) bad(`jitter must be between 0 and 1, not ${o.jitter}`);
  if (o.freeTries !== undefined && !(Number.isInteger(o.freeTries) && o.freeTries >= 0)) bad(`freeTries must be a whole number, not ${o.freeTries}`);
  if (typeof o.resetAfterMs === 'number' && !(o.resetAfterMs >= 0)) bad(`resetAfterMs must be 0 or more, not ${o.resetAfterMs}`);
}
