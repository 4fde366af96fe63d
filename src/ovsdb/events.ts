/**
 * The OVSDB client's events and the promises that wait on them: listeners
 * of `resync`, `update` and `disconnect`, run synchronously in the order
 * they subscribed, and waitFor(), which re-evaluates a predicate after every
 * resync and update.
 *
 * A listener that throws is logged and the others still run: one consumer's
 * bug must not stop the replica being delivered to the rest. This module
 * must not decide when an event happens nor read the replica; its owner does.
 */

import type { Logger } from '../common/log';
import { OvsdbError } from './errors';
import type { ChangeSet } from './replica';

/** The replica was loaded afresh from `remote`: it is now the whole truth (rows may have come and gone unreported). */
export interface ResyncEvent {
  readonly remote: string;
  /** false for the first load, true after a reconnect. */
  readonly reconnect: boolean;
  /** `monitor_cond`, or `monitor` on a server without it (conditions then apply to nothing: every row is replicated). */
  readonly method: 'monitor_cond' | 'monitor';
}

/** Rows changed; the replica already holds the new rows. */
export interface UpdateEvent {
  readonly changes: ChangeSet;
}

/** The connection that fed the replica ended: the replica is stale until the next resync. */
export interface DisconnectEvent {
  readonly remote: string;
  readonly reason: string;
}

export interface ClientEvents {
  resync: ResyncEvent;
  update: UpdateEvent;
  disconnect: DisconnectEvent;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export class EventHub {
  private readonly listeners: { [E in keyof ClientEvents]: Set<(e: ClientEvents[E]) => void> } = {
    resync: new Set(),
    update: new Set(),
    disconnect: new Set(),
  };
  /** waitFor() calls in progress, failed when the client stops. */
  private readonly stopWaiters = new Set<(err: Error) => void>();

  constructor(
    /** The database, for the timeout's message. */
    private readonly database: string,
    private readonly logger: Logger,
  ) {}

  on<E extends keyof ClientEvents>(event: E, listener: (e: ClientEvents[E]) => void): () => void {
    const set = this.listeners[event] as Set<(e: ClientEvents[E]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<E extends keyof ClientEvents>(event: E, payload: ClientEvents[E]): void {
    // A copy: a listener may unsubscribe itself (waitFor's do) while the event is delivered.
    for (const listener of [...this.listeners[event]] as ((e: ClientEvents[E]) => void)[]) {
      try {
        listener(payload);
      } catch (err) {
        this.logger.error({ err, event }, 'ovsdb: an event listener threw; the client carries on');
      }
    }
  }

  /**
   * Resolves when `predicate` holds, evaluated after every resync and update,
   * and at once when `checkNow` (a replica is loaded: between events the
   * predicate cannot have changed otherwise).
   */
  waitFor(predicate: () => boolean, options: WaitOptions, checkNow: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanups: (() => void)[] = [];
      const done = (err?: Error) => {
        for (const c of cleanups) c();
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        let ok: boolean;
        try {
          ok = predicate();
        } catch (err) {
          return done(err as Error);
        }
        if (ok) done();
      };
      cleanups.push(this.on('resync', check), this.on('update', check));
      const onStop = (err: Error) => done(err);
      this.stopWaiters.add(onStop);
      cleanups.push(() => this.stopWaiters.delete(onStop));
      if (options.timeoutMs !== undefined) {
        const timer = setTimeout(() => done(new OvsdbError(`timed out after ${options.timeoutMs} ms waiting for ${this.database}`)), options.timeoutMs);
        cleanups.push(() => clearTimeout(timer));
      }
      if (options.signal) {
        const signal = options.signal;
        if (signal.aborted) return done(signal.reason as Error);
        const onAbort = () => done(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
      if (checkNow) check();
    });
  }

  /** Rejects every waitFor() in progress with `err` (the client stopped). */
  failWaiters(err: Error): void {
    for (const w of [...this.stopWaiters]) w(err);
  }
}
