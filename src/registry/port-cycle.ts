/**
 * The port cycle (the seed's prepare, finish, ctx destroy): what a ctx is,
 * when it ends, and the reaper of ctxs their callers forgot. Provider calls
 * go through the instance gate; the records live in the ctx table.
 */

import { AnswerRefused, prepareAnswerProblem } from './answer-rules';
import { CtxTable, type Ctx } from './ctx-table';
import { PlugError, isPlugError } from './errors';
import type { CallerContext, GatedInstance, InstanceGate } from './instance-gate';
import type { PortCtxIn, PortCtxOut, PrepareResult } from './provider';

/** The registry's answer to PreparePort. */
export type PrepareAnswer =
  | { readonly plug: true; readonly ctxId: string; readonly out: PortCtxOut | undefined }
  | { readonly plug: false; readonly reason: string; readonly message: string };

export interface PortCycleLimits {
  /** Live ctxs; PreparePort beyond it is RESOURCE_EXHAUSTED. */
  readonly maxCtxs: number;
  /** A ctx neither finished-and-destroyed nor destroyed this long after PreparePort is reaped; 0 never reaps. */
  readonly ctxTtlMs: number;
}

/**
 * The port cycle of the seed (prepare -> finish -> ctx destroy) with the ctx
 * table that lets remote callers refer to a prepared port by id, and the
 * reaper that releases ctxs their callers forgot. Every provider callback
 * goes through the instance gate; this module decides what a ctx is and
 * when it ends.
 */
export class PortCycle<Owner extends GatedInstance> {
  private readonly ctxs = new CtxTable<Owner>();
  private readonly reaper: NodeJS.Timeout | undefined;
  private reapedCount = 0;

  constructor(
    private readonly gate: InstanceGate,
    private readonly limits: PortCycleLimits,
  ) {
    if (limits.ctxTtlMs > 0) {
      // Expiry is checked a few times per TTL, so a ctx lives at most ~1.25 TTL.
      const every = Math.min(Math.max(limits.ctxTtlMs / 4, 50), 60_000);
      this.reaper = setInterval(() => this.reapExpired(), every);
      this.reaper.unref();
    }
  }

  /** Live ctxs. */
  get size(): number {
    return this.ctxs.size;
  }

  /** Ctxs reaped for outliving the TTL, since start. */
  get reaped(): number {
    return this.reapedCount;
  }

  /**
   * Asks the instance's provider about a port; a positive answer becomes a
   * ctx. If the caller gave up meanwhile, the gate releases whatever the
   * provider prepared instead of leaving it to the TTL.
   */
  prepare(instance: Owner, ctxIn: PortCtxIn, caller?: CallerContext): Promise<PrepareAnswer> {
    if (this.ctxs.size >= this.limits.maxCtxs) return Promise.reject(this.ctxLimit());
    return this.gate.prepare(instance, ctxIn, caller, (result) => this.admit(instance, ctxIn, result));
  }

  /** The caller committed the change of `ctxId`; a remove ctx is released. */
  finish(ctxId: string): Promise<void> {
    const ctx = this.ctxs.get(ctxId);
    if (ctx === undefined || ctx.releasing !== undefined) {
      return Promise.reject(
        new PlugError(
          'NOT_FOUND',
          'CTX_NOT_FOUND',
          `no live ctx has id "${ctxId}": it was never created, was already released, or its instance was closed; prepare the port again`,
          { metadata: { ctx_id: ctxId } },
        ),
      );
    }
    if (ctx.finished) return Promise.resolve();
    if (ctx.finishing !== undefined) return ctx.finishing;
    const instance = ctx.owner;
    const finishing = this.gate.call(instance, 'finishPort', (budget) => instance.impl.finishPort?.(ctx.ctxIn, ctx.ctxOut, budget)).then(
      () => {
        ctx.finished = true;
        ctx.finishing = undefined;
        if (ctx.ctxIn.opType === 'remove') this.ctxs.remove(ctx);
      },
      (err: unknown) => {
        ctx.finishing = undefined;
        throw err;
      },
    );
    ctx.finishing = finishing;
    return finishing;
  }

  /**
   * Releases `ctxId`; unknown ids are fine (idempotent). The ctx leaves the
   * table once its provider released it, or refused to for good; while the
   * provider cannot be reached (UNAVAILABLE: it is down; DEADLINE_EXCEEDED:
   * it did not answer) the caller gets that error and the ctx stays, so that
   * a retry reaches the provider once it is back. Never an OK for a release
   * that was not forwarded.
   */
  destroy(ctxId: string): Promise<void> {
    const ctx = this.ctxs.get(ctxId);
    if (ctx === undefined) return Promise.resolve();
    return this.releaseKept(ctx);
  }

  /**
   * Releases every ctx `instance` still holds (its Close, once no call is in
   * flight on it). Failures are the provider's and go to the fault log.
   */
  async releaseOwnedBy(instance: Owner): Promise<void> {
    const owned = this.ctxs.ownedBy(instance);
    for (const ctx of owned) this.ctxs.remove(ctx);
    for (const ctx of owned) {
      await this.release(ctx).catch((err: unknown) => this.gate.fault(instance.type, 'destroyPortCtx', err));
    }
  }

  /**
   * Releases what the providers hold for ctxs older than the TTL, and
   * removes them. One whose provider cannot be reached now stays (quietly:
   * the provider being down is logged already) and is tried again at the
   * next pass. Returns how many were tried.
   */
  reapExpired(): number {
    if (this.limits.ctxTtlMs <= 0) return 0;
    const expired = this.ctxs.createdBefore(this.ctxs.now() - this.limits.ctxTtlMs).filter((ctx) => ctx.releasing === undefined);
    for (const ctx of expired) {
      this.releaseKept(ctx).then(
        () => this.reapedCount++,
        (error: unknown) => {
          if (isRetryable(error)) return;
          this.reapedCount++;
          this.gate.fault(ctx.owner.type, 'destroyPortCtx', error);
        },
      );
    }
    return expired.length;
  }

  stop(): void {
    if (this.reaper !== undefined) clearInterval(this.reaper);
  }

  /**
   * Checks a provider's prepare answer by the answer rules (every provider's
   * answer passes here, built-in or remote, whichever way it came) and, if
   * positive, records the ctx. A refused answer never reaches the caller as
   * a plug; the gate releases what it held.
   */
  private admit(instance: Owner, ctxIn: PortCtxIn, result: PrepareResult): PrepareAnswer {
    const problem = prepareAnswerProblem(ctxIn.opType, result);
    if (problem !== undefined) throw new AnswerRefused(instance.type, problem, result);
    if (result.plug === false) return result;
    const out: PortCtxOut | undefined = ctxIn.opType === 'create' ? result.out : undefined;
    if (this.ctxs.size >= this.limits.maxCtxs) throw this.ctxLimit();
    const ctx = this.ctxs.add(instance, ctxIn, out);
    return { plug: true, ctxId: ctx.id, out };
  }

  private ctxLimit(): PlugError {
    return new PlugError(
      'RESOURCE_EXHAUSTED',
      'CTX_LIMIT',
      `${this.ctxs.size} ctxs are live, the limit is ${this.limits.maxCtxs}: finish and destroy the ctxs of ports already prepared (or raise --max-ctx)`,
      { metadata: { limit: String(this.limits.maxCtxs) }, retryAfterMs: 1000 },
    );
  }

  /** Releases a ctx still in the table (see destroy), joining a release under way. */
  private releaseKept(ctx: Ctx<Owner>): Promise<void> {
    ctx.releasing ??= this.release(ctx).then(
      () => this.ctxs.remove(ctx),
      (error: unknown) => {
        if (isRetryable(error)) ctx.releasing = undefined;
        else this.ctxs.remove(ctx);
        throw error;
      },
    );
    return ctx.releasing;
  }

  /** Releases what the provider holds for a ctx (removed from the table, or about to be). */
  private release(ctx: Ctx<Owner>): Promise<void> {
    const instance = ctx.owner;
    return this.gate.call(instance, 'destroyPortCtx', async (budget) => {
      if (ctx.finishing !== undefined) await ctx.finishing.catch(() => undefined);
      if (ctx.ctxIn.opType === 'create' && ctx.ctxOut !== undefined) {
        await instance.impl.destroyPortCtx?.(ctx.ctxIn, ctx.ctxOut, budget);
      }
    });
  }
}

/** A release that did not reach the provider, or got no answer: worth trying again (the provider API's DestroyPortCtx is idempotent). */
function isRetryable(error: unknown): boolean {
  return isPlugError(error) && (error.status === 'UNAVAILABLE' || error.status === 'DEADLINE_EXCEEDED');
}
