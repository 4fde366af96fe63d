/**
 * The monitor conditions of the client's tables, kept as ovsdb-cs keeps them:
 * for each table the condition the server acknowledged, the one requested
 * from it, and the one set since but not yet sent. setCondition() moves the
 * wanted condition; monitor_cond_change requests bring the server's in
 * line, one request at a time per session; each change has a generation,
 * and a caller waits until the server has acknowledged the generation of
 * its change.
 *
 * It must not open, close or choose a connection: it sends through the
 * session it is given and asks that session to retry when the server
 * refuses a change. The wanted conditions outlive every connection, so that
 * the next monitor asks for them (see forNewMonitor).
 */

import { NamedUuid } from './datum';
import { SessionLostError, type ReplyHandler } from './jsonrpc';
import { encodeClauses, type Clause } from './operations';
import type { DatabaseSchema } from './schema';

/**
 * Which rows of a table to replicate: a row is replicated when it matches
 * any element (a clause, or a constant true/false), as in OVS's IDL; `[]`
 * replicates nothing.
 */
export type MonitorCondition = readonly (Clause | boolean)[];

/** The session a condition change is sent over (its monitor installed: see session.ts). */
export interface ConditionChannel {
  /** The monitor is installed and the connection still open. */
  readonly monitoring: boolean;
  readonly schema: DatabaseSchema | undefined;
  /** Sends monitor_cond_change for the session's monitor of the database. */
  changeConditions(changes: Record<string, unknown>, handler: ReplyHandler): void;
  /** Drops the session and tries another server. */
  retry(reason: string): void;
}

/** The condition of one table as ovsdb-cs tracks it: acknowledged by the server, requested, and set but not yet sent. */
interface ConditionState {
  acked: MonitorCondition | undefined;
  requested: { where: MonitorCondition | undefined } | undefined;
  pending: { where: MonitorCondition | undefined } | undefined;
}

export class MonitorConditions {
  private readonly states = new Map<string, ConditionState>();
  /** Bumped by every change of a wanted condition. */
  private generation = 0;
  /** The highest generation the server has acknowledged. */
  private ackedGeneration = 0;
  private waiters: { gen: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** The session a monitor_cond_change is waiting on: one request at a time, as ovsdb-cs. */
  private inFlightOn: ConditionChannel | undefined;

  /** `initial`: table -> the condition of its first monitor (undefined: every row). */
  constructor(initial: Iterable<readonly [string, MonitorCondition | undefined]>) {
    for (const [table, where] of initial) this.states.set(table, { acked: where, requested: undefined, pending: undefined });
  }

  /** The generation of the latest wanted conditions. */
  get latest(): number {
    return this.generation;
  }

  has(table: string): boolean {
    return this.states.has(table);
  }

  /**
   * Wants `where` for `table`. Resolves once the server has acknowledged it.
   * `schema` (the current server's, if any) checks the condition before it
   * is kept; `channel` (the current session, if any) is where it is sent.
   */
  set(table: string, where: MonitorCondition | undefined, schema: DatabaseSchema | undefined, channel: ConditionChannel | undefined): Promise<void> {
    const state = this.states.get(table)!;
    if (where && schema) {
      const t = schema.tables.get(table);
      try {
        if (t) encodeClauses(t, where, `condition on ${table}`);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const latest = state.pending ? state.pending.where : state.requested ? state.requested.where : state.acked;
    let target: number;
    if (!sameCondition(latest, where)) {
      state.pending = { where };
      target = ++this.generation;
      // Sent from a microtask, so that conditions set in the same turn go in one request.
      if (channel?.monitoring) queueMicrotask(() => this.sync(channel));
    } else {
      target = state.pending || state.requested ? this.generation : this.ackedGeneration;
    }
    if (target <= this.ackedGeneration) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ gen: target, resolve, reject }));
  }

  /**
   * For a new monitor request: it asks for the latest conditions, so those
   * set since, or sent on an earlier connection and never acknowledged,
   * count as acknowledged once its reply arrives (ovsdb-cs's sync_condition
   * without last_id). Returns each table's condition for the request.
   */
  forNewMonitor(): (table: string) => MonitorCondition | undefined {
    for (const state of this.states.values()) {
      const latest = state.pending ?? state.requested;
      if (latest) state.acked = latest.where;
      state.pending = state.requested = undefined;
    }
    return (table) => this.states.get(table)!.acked;
  }

  /** Sends what changed since the last request over `channel`, if its monitor is up and no request is waiting there. */
  sync(channel: ConditionChannel): void {
    if (!channel.monitoring || this.inFlightOn === channel) return;
    const schema = channel.schema!;
    const changes: Record<string, unknown> = {};
    let any = false;
    for (const [table, state] of this.states) {
      if (!state.pending) continue;
      const t = schema.tables.get(table);
      state.requested = state.pending;
      state.pending = undefined;
      if (!t) continue;
      const where = state.requested.where;
      changes[table] = [{ where: where === undefined ? [true] : where.length === 0 ? [false] : encodeClauses(t, where, `condition on ${table}`) }];
      any = true;
    }
    const gen = this.generation;
    if (!any) {
      this.acknowledged(gen);
      return;
    }
    this.inFlightOn = channel;
    channel.changeConditions(changes, (err) => {
      if (this.inFlightOn === channel) this.inFlightOn = undefined;
      if (err instanceof SessionLostError) return;
      if (err) return channel.retry(`monitor_cond_change failed: ${err.message}`);
      for (const state of this.states.values()) {
        if (state.requested) state.acked = state.requested.where;
        state.requested = undefined;
      }
      this.acknowledged(gen);
      this.sync(channel);
    });
  }

  /** The server acknowledged every change up to generation `gen`: resolves who waited for them. */
  acknowledged(gen: number): void {
    if (gen > this.ackedGeneration) this.ackedGeneration = gen;
    const due = this.waiters.filter((w) => w.gen <= this.ackedGeneration);
    if (due.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.gen > this.ackedGeneration);
    for (const w of due) w.resolve();
  }

  /** Rejects every setCondition() still waiting (the client stopped). */
  fail(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }
}

function sameCondition(a: MonitorCondition | undefined, b: MonitorCondition | undefined): boolean {
  return canonical(a) === canonical(b);
}

function canonical(c: MonitorCondition | undefined): string {
  return JSON.stringify(c ?? null, (_k, v: unknown) => (v instanceof Map ? ['map', [...v]] : v instanceof NamedUuid ? ['named-uuid', v.name] : v));
}
