/**
 * One run of a job at a time, and one more if asked: the shape of every loop
 * here that re-reads, reconciles or rewrites "whenever something changed".
 *
 * A request while a run is under way neither starts a second run beside it
 * nor queues one per request: it is covered by exactly one more run, started
 * when the current one ends and shared by every request made meanwhile. A
 * burst of requests thus costs at most two runs, and a run always starts after
 * the request it answers, so a change that caused a request is never missed.
 * Callers may await the run that covers their request.
 *
 * It sets no timer of its own; what a run waits for before it begins
 * (`settle`) is the caller's to say.
 */

export interface SerialRunnerOptions {
  /**
   * Awaited before a run that starts from idle (not before the one more):
   * requests made meanwhile are covered by that run. E.g. a turn of the event
   * loop, so that the events of one burst share one pass.
   */
  readonly settle?: () => Promise<void>;
  /** Called when a run has ended and no other is queued. */
  readonly onIdle?: () => void;
}

const ignore = (): void => undefined;

export class SerialRunner {
  /** The run under way (settling, or running the job). */
  private current: Promise<void> | undefined;
  /** Whether the current run's job has begun: requests before that are covered by it. */
  private begun = false;
  /** The one more run, shared by the requests made while the current one runs. */
  private queued: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly job: () => Promise<void>,
    private readonly options: SerialRunnerOptions = {},
  ) {}

  /**
   * Asks for a run that begins after this call: one now when idle, else the
   * one more after the run under way. Resolves when that run has ended, or
   * rejects with its error; resolves at once after stop().
   */
  request(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.current === undefined) return this.start(true);
    if (!this.begun) return this.current;
    this.queued ??= this.current.then(ignore, ignore).then(() => {
      this.queued = undefined;
      if (this.stopped) return undefined;
      // A run started meanwhile (by join() or request()) began after every request this one covers.
      return this.current ?? this.start(false);
    });
    return this.queued;
  }

  /** The run under way, or a new one when idle: for callers that only need a run that has not ended yet. */
  join(): Promise<void> {
    if (this.current !== undefined) return this.current;
    if (this.stopped) return Promise.resolve();
    return this.start(true);
  }

  /** No run begins from now on; resolves when the one under way has ended (its error ignored). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.current?.then(ignore, ignore);
    await this.queued?.then(ignore, ignore);
  }

  private start(fresh: boolean): Promise<void> {
    const settle = fresh ? this.options.settle : undefined;
    let end!: { resolve: () => void; reject: (err: unknown) => void };
    const run = new Promise<void>((resolve, reject) => (end = { resolve, reject }));
    this.current = run;
    this.begun = false;
    // Without `settle`, the job begins now, before start() returns, as a direct call would.
    const body = async (): Promise<void> => {
      if (settle !== undefined) {
        await settle();
        if (this.stopped) return;
      }
      this.begun = true;
      await this.job();
    };
    const finish = (): void => {
      this.current = undefined;
      this.begun = false;
      if (this.queued === undefined) this.options.onIdle?.();
    };
    body().then(
      () => {
        finish();
        end.resolve();
      },
      (err: unknown) => {
        finish();
        end.reject(err);
      },
    );
    return run;
  }
}
