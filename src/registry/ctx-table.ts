/**
 * The ctx table: live ctxs by id, in creation order so that expiry scans
 * stop early. Owns the ctx records; decides nothing about their life (that is
 * port-cycle.ts).
 */

import { performance } from 'node:perf_hooks';

import { newId } from './ctx-id';
import type { PortCtxIn, PortCtxOut } from './provider';

/**
 * A port change between PreparePort and its release: what the caller asked
 * (ctxIn) and what the provider answered (ctxOut, creates only).
 */
export interface Ctx<Owner> {
  readonly id: string;
  readonly owner: Owner;
  readonly ctxIn: PortCtxIn;
  readonly ctxOut: PortCtxOut | undefined;
  /** Milliseconds on the table's clock when the ctx was created. */
  readonly createdAt: number;
  /** The provider acknowledged FinishPort. */
  finished: boolean;
  /** A FinishPort in progress; concurrent ones wait for it instead of repeating it. */
  finishing: Promise<void> | undefined;
  /** Its release (DestroyCtx, the reaper) in progress: concurrent ones join it; it is no longer finished. */
  releasing: Promise<void> | undefined;
}

/**
 * Live ctxs by id. Insertion order is creation order, which lets expiry stop
 * at the first ctx that is young enough. There is deliberately no index by
 * owner: it would cost every ctx memory for the sake of Close, which is rare
 * and may well scan.
 */
export class CtxTable<Owner> {
  private readonly byId = new Map<string, Ctx<Owner>>();

  /** `now` is monotonic milliseconds, so that expiry survives wall-clock jumps. */
  constructor(readonly now: () => number = () => performance.now()) {}

  get size(): number {
    return this.byId.size;
  }

  add(owner: Owner, ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined): Ctx<Owner> {
    const ctx: Ctx<Owner> = {
      id: newId(),
      owner,
      ctxIn,
      ctxOut,
      createdAt: this.now(),
      finished: false,
      finishing: undefined,
      releasing: undefined,
    };
    this.byId.set(ctx.id, ctx);
    return ctx;
  }

  get(id: string): Ctx<Owner> | undefined {
    return this.byId.get(id);
  }

  /** Removes the ctx from the table; later lookups by its id miss. */
  remove(ctx: Ctx<Owner>): void {
    if (this.byId.get(ctx.id) === ctx) this.byId.delete(ctx.id);
  }

  /** The owner's live ctxs, as a snapshot safe to iterate while removing. */
  ownedBy(owner: Owner): Ctx<Owner>[] {
    const owned: Ctx<Owner>[] = [];
    for (const ctx of this.byId.values()) if (ctx.owner === owner) owned.push(ctx);
    return owned;
  }

  /** Live ctxs created before `cutoff` (table clock), oldest first. */
  createdBefore(cutoff: number): Ctx<Owner>[] {
    const old: Ctx<Owner>[] = [];
    for (const ctx of this.byId.values()) {
      if (ctx.createdAt >= cutoff) break;
      old.push(ctx);
    }
    return old;
  }
}
