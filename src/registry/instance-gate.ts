/**
 * The instance gate: the one place a provider callback is called from, with
 * its budget (deadline and abort), load shedding, the in-flight count Close
 * waits for, and the release of answers nobody waits for any more.
 */

import { AnswerRefused } from './answer-rules';
import { CallAbort } from './call-abort';
import { DeadlineTimers } from './deadline-timers';
import { PlugError, describeError, isPlugError } from './errors';
import { NO_OPTIONS, type CallBudget, type PortCtxIn, type PortCtxOut, type PrepareResult, type ProviderInstance } from './provider';

/** What the edge knows about the caller of a call: its deadline and whether it gave up. */
export interface CallerContext {
  /** Milliseconds since the epoch; Infinity when the caller set none. */
  readonly deadline: number;
  isCancelled(): boolean;
  /**
   * Calls `listener` once if the caller gives up; returns a function that
   * stops listening. Optional: without it cancellation is only noticed when
   * the provider answers.
   */
  onCancel?(listener: () => void): () => void;
}

/** A provider failure no caller can be told about (a late answer, Close, shutdown). */
export interface ProviderFault {
  readonly type: string;
  readonly operation: string;
  readonly error: unknown;
}

export interface GateLimits {
  /** Provider calls under way per instance (and per class: listRepresentors) beyond which PreparePort, Run and ListRepresentors are RESOURCE_EXHAUSTED (retry shortly); releases always go through. */
  readonly maxCallsPerInstance: number;
  /** How long a provider callback may take before its caller gets DEADLINE_EXCEEDED. */
  readonly providerTimeoutMs: number;
}

/**
 * What the gate counts calls on, and limits: an open instance (its port
 * calls and Run), or a class (its own calls, listRepresentors: counted apart,
 * so that listing, a metrics scrape's included, never takes a port call's
 * slot).
 */
export interface GateSlot {
  readonly type: string;
  /** Provider calls under way on this slot. */
  inflight: number;
  /** Wakes whoever waits for `inflight` to reach zero (Close). */
  drained: (() => void) | undefined;
}

/** An open instance as the gate sees it: what it calls and what it counts. */
export interface GatedInstance extends GateSlot {
  readonly id: string;
  readonly impl: ProviderInstance;
  /** Set by Close once it owns the instance: no new PreparePort may start. */
  closing: boolean;
}

/** The operations the gate refuses first when a slot is busy: they add load. */
type Sheddable = 'preparePort' | 'run' | 'listRepresentors' | 'readHardware';
type Operation = Sheddable | 'finishPort' | 'destroyPortCtx';

const SHEDDABLE: ReadonlySet<Operation> = new Set<Sheddable>(['preparePort', 'run', 'listRepresentors', 'readHardware']);

/**
 * The one gate every provider callback passes (the port calls and Run of an
 * open instance, and a class's listRepresentors), whether the provider lives
 * in this process or behind a socket:
 *
 * - load shedding: a slot takes only so many calls at once, but
 *   finishing and releasing ctxs always go through, or a controller releasing
 *   many ports at once would leak them;
 * - the in-flight count that Close waits for;
 * - timeouts: a callback gets at most the provider timeout, or what is left
 *   of the caller's deadline, and is told so (CallBudget); one that overruns
 *   is abandoned, its caller answered DEADLINE_EXCEEDED and its slot freed;
 * - late results: an answer that arrives after its caller left is not kept,
 *   and what a prepare created for nobody is released with destroyPortCtx;
 * - provider errors: whatever a callback throws that is not a PlugError is a
 *   provider bug, INTERNAL / PROVIDER_ERROR.
 */
export class InstanceGate {
  private calls = 0;
  private readonly timers = new DeadlineTimers();

  constructor(
    private readonly limits: GateLimits,
    private readonly onFault?: (fault: ProviderFault) => void,
  ) {}

  /** Provider calls under way on every instance. */
  get inflight(): number {
    return this.calls;
  }

  /** Resolves once no call is under way on `instance`. */
  drained(instance: GateSlot): Promise<void> {
    if (instance.inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      instance.drained = resolve;
    });
  }

  /**
   * PreparePort through the gate. The provider's answer goes to `admit`
   * (which checks it and records the ctx) only while someone waits for it;
   * a positive create answer that nobody takes (the caller gave up, the
   * budget ran out, or `admit` refused it) is released at once, and so is
   * one the provider's own transport refused (an AnswerRefused carries it).
   */
  prepare<A>(instance: GatedInstance, ctxIn: PortCtxIn, caller: CallerContext | undefined, admit: (result: PrepareResult) => A): Promise<A> {
    return this.gated(
      instance,
      'preparePort',
      (budget) => {
        const result = instance.impl.preparePort(ctxIn, budget);
        // Only an answer that took time can find its caller gone.
        if (!isThenable(result)) return this.hand(instance, ctxIn, result, undefined, budget, admit);
        return result.then(
          (r) => this.hand(instance, ctxIn, r, caller, budget, admit),
          (err: unknown) => {
            if (err instanceof AnswerRefused) this.release(instance, ctxIn, err.answer);
            throw err;
          },
        );
      },
      caller,
    );
  }

  /** Run, FinishPort or DestroyCtx on an instance, or listRepresentors and the hardware reads (identify, listCards) on a class's slot, through the gate. */
  call<T>(slot: GateSlot, operation: Operation, fn: (budget: CallBudget) => T | Promise<T>, caller?: CallerContext): Promise<T> {
    return this.gated(slot, operation, fn, caller);
  }

  private gated<T>(instance: GateSlot, operation: Operation, fn: (budget: Budget) => T | Promise<T>, caller?: CallerContext): Promise<T> {
    if (SHEDDABLE.has(operation) && instance.inflight >= this.limits.maxCallsPerInstance) {
      return Promise.reject(busy(instance));
    }
    this.enter(instance);
    const budget = new Budget(this.limits.providerTimeoutMs, caller);
    let result: T | Promise<T>;
    try {
      result = fn(budget);
    } catch (err) {
      this.leave(instance);
      return Promise.reject(this.providerError(instance, operation, err));
    }
    if (!isThenable(result)) {
      this.leave(instance);
      return Promise.resolve(result);
    }
    return this.await(instance, operation, result, budget, caller);
  }

  /** Runs a provider callback whose failure no caller can be told about. */
  async quietly(type: string, operation: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.fault(type, operation, error);
    }
  }

  fault(type: string, operation: string, error: unknown): void {
    this.onFault?.({ type, operation, error });
  }

  /** Waits for an asynchronous callback within its budget. */
  private await<T>(instance: GateSlot, operation: Operation, pending: Promise<T>, budget: Budget, caller: CallerContext | undefined): Promise<T> {
    const timeoutMs = Math.max(0, budget.deadline - Date.now());
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const stopListening = caller?.onCancel?.(() => budget.abort('the caller cancelled the call'));
      const settle = () => {
        settled = true;
        cancelTimer();
        stopListening?.();
        this.leave(instance);
      };
      const cancelTimer = this.timers.add(Date.now() + timeoutMs, () => {
        settle();
        budget.abandon();
        reject(
          new PlugError(
            'DEADLINE_EXCEEDED',
            'PROVIDER_TIMEOUT',
            `provider "${instance.type}" did not answer ${operation} within ${Math.round(timeoutMs)} ms`,
            { metadata: { type: instance.type, operation } },
          ),
        );
      });
      pending.then(
        (value) => {
          if (settled) return;
          settle();
          resolve(value);
        },
        (err: unknown) => {
          if (settled) {
            // A callback told that it was abandoned may well fail for it.
            if (!budget.told && err !== ABANDONED) this.fault(instance.type, `${operation} (after its timeout)`, err);
            return;
          }
          settle();
          reject(this.providerError(instance, operation, err));
        },
      );
    });
  }

  /** Gives a prepare answer to whoever still waits for it, or releases it. */
  private hand<A>(
    instance: GatedInstance,
    ctxIn: PortCtxIn,
    result: PrepareResult,
    caller: CallerContext | undefined,
    budget: Budget,
    admit: (result: PrepareResult) => A,
  ): A {
    if (budget.abandoned) {
      this.release(instance, ctxIn, result);
      throw ABANDONED;
    }
    if (caller !== undefined && (caller.isCancelled() || Date.now() >= caller.deadline)) {
      this.release(instance, ctxIn, result);
      throw new PlugError('CANCELLED', 'CALLER_GONE', 'the caller cancelled the call or its deadline passed; nothing was kept');
    }
    try {
      return admit(result);
    } catch (err) {
      this.release(instance, ctxIn, result);
      throw err;
    }
  }

  /**
   * Releases what a positive create answer holds; it never became a ctx.
   * An answer without ctx_out (refused for it) is released with an empty
   * one: what the provider holds for it is keyed by its handle, if anything.
   */
  private release(instance: GatedInstance, ctxIn: PortCtxIn, result: PrepareResult): void {
    if (result?.plug !== true || ctxIn.opType !== 'create') return;
    const out = result.out ?? NO_OUT;
    this.call(instance, 'destroyPortCtx', (budget) => instance.impl.destroyPortCtx?.(ctxIn, out, budget)).catch((err: unknown) =>
      this.fault(instance.type, 'destroyPortCtx', err),
    );
  }

  private enter(instance: GateSlot): void {
    instance.inflight++;
    this.calls++;
  }

  private leave(instance: GateSlot): void {
    this.calls--;
    if (--instance.inflight === 0 && instance.drained !== undefined) {
      const wake = instance.drained;
      instance.drained = undefined;
      wake();
    }
  }

  private providerError(instance: GateSlot, operation: string, err: unknown): PlugError {
    return isPlugError(err) ? err : providerBug(instance.type, operation, describeError(err), err);
  }
}

/**
 * The time a callback has and the signal that it was abandoned. Both are made
 * on first use: built-in providers answer at once and never look.
 */
class Budget extends CallAbort implements CallBudget {
  private until: number | undefined;
  /** The callback listened for the abort. */
  private heard = false;
  /** The gate gave up on the call: whatever it answers is released, not kept. */
  abandoned = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly caller: CallerContext | undefined,
  ) {
    super();
  }

  get deadline(): number {
    this.until ??= Math.min(Date.now() + this.timeoutMs, this.caller?.deadline ?? Infinity);
    return this.until;
  }

  override get signal(): AbortSignal {
    this.heard = true;
    return super.signal;
  }

  override onAbort(listener: () => void): () => void {
    this.heard = true;
    return super.onAbort(listener);
  }

  /** Whether the callback listened for the abort and it came. */
  get told(): boolean {
    return this.heard && this.aborted;
  }

  abandon(): void {
    this.abandoned = true;
    this.abort('the provider did not answer in time');
  }

  override abort(why: string): void {
    if (!this.aborted) super.abort(new PlugError('CANCELLED', 'CALLER_GONE', why));
  }
}

const NO_OUT: PortCtxOut = { name: '', type: '', ifaceOptions: NO_OPTIONS };

/** Thrown into an abandoned call's own promise chain; never reaches a caller. */
const ABANDONED = new PlugError('DEADLINE_EXCEEDED', 'PROVIDER_TIMEOUT', 'the call was abandoned');

export function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function busy(instance: GateSlot): PlugError {
  return new PlugError(
    'RESOURCE_EXHAUSTED',
    'PROVIDER_BUSY',
    `provider "${instance.type}" already has ${instance.inflight} calls under way; retry shortly`,
    { metadata: { type: instance.type }, retryAfterMs: 100 },
  );
}

function providerBug(type: string, operation: string, what: string, cause?: unknown): PlugError {
  return new PlugError(
    'INTERNAL',
    'PROVIDER_ERROR',
    `provider "${type}" failed in ${operation}: ${what}; this is a bug in the provider, see the daemon log`,
    { metadata: { type, operation }, cause },
  );
}
