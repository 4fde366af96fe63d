/**
 * The OVSDB client's public face: one object per database that the agent
 * and the tests hold, assembled from the parts that do the work, each in
 * its own module:
 *
 * - connection-loop.ts: one connection at a time over the remotes, backoff,
 *   inactivity probe;
 * - session.ts: a session's start-up (the `_Server` check through
 *   cluster-member.ts, get_schema, monitor_cond or monitor) and its monitor;
 * - replicator.ts: which session feeds the replica the client reads, and
 *   the resync, update and disconnect events (events.ts);
 * - conditions.ts: the monitor conditions and their acknowledgement;
 * - transactions.ts: one transaction and its precise outcome.
 *
 * It validates the options, owns the client's life (start, close, and
 * giving up on a configuration that cannot work) and passes every call on.
 * It must not hold connection, replica or condition state of its own: that
 * state has one home each, in the modules above.
 */

import pino from 'pino';

import type { Logger } from '../common/log';
import { ClusterMemberCheck } from './cluster-member';
import { MonitorConditions, type MonitorCondition } from './conditions';
import { ConnectionLoop } from './connection-loop';
import { OvsdbConfigError, OvsdbNotConnectedError } from './errors';
import { EventHub, type ClientEvents, type WaitOptions } from './events';
import { SessionLostError } from './jsonrpc';
import type { Operation, TransactResult } from './operations';
import { parseRemotes, type Remote } from './remote';
import type { Row } from './replica';
import { Replicator } from './replicator';
import type { DatabaseSchema } from './schema';
import type { TableMonitor } from './session';
import { transact, type TransactOptions } from './transactions';
import { checkTlsFiles, type TlsFiles } from './transport';

const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export interface OvsdbClientOptions {
  /** The database to replicate and write, e.g. `OVN_Southbound` or `Open_vSwitch`. */
  readonly database: string;
  /** OVS syntax: `unix:PATH`, `tcp:IP:PORT`, `ssl:IP:PORT`, or a comma-separated list of a clustered database's members. */
  readonly remotes: string | readonly Remote[];
  /** Table name -> what to replicate of it. */
  readonly tables: Readonly<Record<string, TableMonitor>>;
  /** Required when a remote is ssl: (the agent's --private-key, --certificate, --ca-cert). */
  readonly tls?: TlsFiles;
  readonly logger?: Logger;
  /**
   * Accept only the leader of a clustered database (ovsdb-cs's leader_only).
   * Default false, as ovn-controller does for the Southbound DB: any member
   * connected to the cluster serves reads, and writes are forwarded to the
   * leader by the member itself.
   */
  readonly leaderOnly?: boolean;
  /** Try the members of a list in random order (default true, as ovsdb-cs), so that clients spread over a cluster. */
  readonly shuffleRemotes?: boolean;
  /**
   * Idle time before an echo probe, and again before dropping the connection.
   * Default as OVS: 5000 ms for tcp: and ssl:, none for unix:. 0 disables.
   */
  readonly probeIntervalMs?: number;
  /** Reconnect backoff, doubling from minMs to maxMs (default 1000 and 8000 ms, as OVS), jittered. */
  readonly backoff?: { readonly minMs?: number; readonly maxMs?: number };
  /** Largest JSON-RPC message accepted (default 256 MiB); a larger one drops the connection. */
  readonly maxMessageBytes?: number;
  /** Directory relative unix: paths are taken from (default $OVS_RUNDIR or /var/run/openvswitch). */
  readonly rundir?: string;
}

/**
 * A client of one OVSDB database, in the manner of OVS's ovsdb-cs: it keeps
 * a replica of the monitored tables up to date over one connection at a
 * time, moving to the next remote with backoff when a connection fails; it
 * checks each member of a clustered database through the `_Server` database
 * and skips one that is not connected to the cluster (or behind what it has
 * already seen); and it writes through transactions whose outcome it reports
 * precisely (committed, refused, or unknown).
 *
 * After every (re)connection the replica is loaded afresh and a `resync`
 * event says so: a consumer that reconciles level-triggered recomputes from
 * the replica then, and applies `update` events in between.
 */
export class OvsdbClient {
  readonly database: string;
  private readonly events: EventHub;
  private readonly conditions: MonitorConditions;
  private readonly loop: ConnectionLoop;
  private readonly replicator: Replicator;

  private started = false;
  /** Set by close(), or when the configuration cannot work (fatal). */
  private closed = false;
  /** Settles when the connection loop has stopped. */
  private stopped: Promise<void> = Promise.resolve();
  /** Why the client gave up on its own, if it did: every later wait fails with it. */
  private fatal: Error | undefined;

  constructor(options: OvsdbClientOptions) {
    this.database = options.database;
    const remotes = typeof options.remotes === 'string' ? parseRemotes(options.remotes, { rundir: options.rundir }) : [...options.remotes];
    if (remotes.length === 0) throw new OvsdbConfigError(`no remote given for ${options.database}`);
    checkTlsFiles(remotes, options.tls);
    const logger = (options.logger ?? pino({ level: 'silent' })).child({ ovsdb: options.database });
    const minMs = options.backoff?.minMs ?? 1000;
    this.loop = new ConnectionLoop({
      remotes,
      tls: options.tls,
      logger,
      shuffleRemotes: options.shuffleRemotes ?? true,
      probeIntervalMs: options.probeIntervalMs,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      backoff: { minMs, maxMs: Math.max(minMs, options.backoff?.maxMs ?? 8000) },
    });
    const tables = new Map(Object.entries(options.tables));
    this.events = new EventHub(options.database, logger);
    this.conditions = new MonitorConditions([...tables].map(([table, spec]) => [table, spec.where] as const));
    this.replicator = new Replicator({
      database: options.database,
      logger,
      tables,
      memberCheck: new ClusterMemberCheck(options.database, options.leaderOnly ?? false),
      conditions: this.conditions,
      events: this.events,
      fatal: (err) => this.giveUp(err),
    });
  }

  /** Starts connecting (once); listeners added before see the first resync. */
  start(): this {
    if (this.started || this.closed) return this;
    this.started = true;
    this.stopped = this.loop.run(this.replicator).then(() => {
      if (this.fatal) this.failWaiters(this.fatal);
    });
    return this;
  }

  /** True while connected with a replica loaded from the current connection. */
  get isSynced(): boolean {
    return this.replicator.isSynced;
  }

  /** The remote of the current connection, if any. */
  get remote(): string | undefined {
    return this.replicator.session?.remote.name;
  }

  /**
   * Why the last connection attempt failed or the last connection ended
   * (e.g. the server's certificate is not signed by --ca-cert), for an
   * operator; undefined once a replica is loaded again.
   */
  get lastFailure(): { readonly remote: string; readonly reason: string } | undefined {
    return this.replicator.isSynced ? undefined : this.loop.lastFailure;
  }

  /** The database schema as the current (or last) server has it. */
  get schema(): DatabaseSchema | undefined {
    return this.replicator.schema;
  }

  /**
   * The replicated rows of `table` by uuid, live: read it again after each
   * event rather than keeping it (a resync replaces it). Empty before the
   * first resync.
   */
  rows<R extends Row = Row>(table: string): ReadonlyMap<string, R> {
    return this.replicator.rows(table) as ReadonlyMap<string, R>;
  }

  row<R extends Row = Row>(table: string, uuid: string): R | undefined {
    return this.replicator.rows(table).get(uuid) as R | undefined;
  }

  /** Subscribes to an event; returns the unsubscribe function. Listeners run synchronously, after the replica changed. */
  on<E extends keyof ClientEvents>(event: E, listener: (e: ClientEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Resolves once the replica is loaded (at once if it is); starts the client if needed. */
  ready(options: WaitOptions = {}): Promise<void> {
    this.start();
    return this.waitFor(() => this.replicator.isSynced, options);
  }

  /** Resolves when `predicate` (evaluated now and after every resync and update) holds. */
  waitFor(predicate: () => boolean, options: WaitOptions = {}): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.closed) return Promise.reject(new OvsdbNotConnectedError(`the ${this.database} client is closed`));
    return this.events.waitFor(predicate, options, this.replicator.isSynced);
  }

  /**
   * Changes which rows of `table` are replicated, without resubscribing
   * (monitor_cond_change). Resolves when the server has acknowledged it and
   * the replica holds the rows it selects (the update that brings them
   * arrives before the acknowledgement). While disconnected, the condition
   * is used by the next connection's monitor.
   */
  setCondition(table: string, where: MonitorCondition | undefined): Promise<void> {
    if (!this.conditions.has(table)) return Promise.reject(new OvsdbConfigError(`table ${table} is not monitored by the ${this.database} client`));
    if (this.closed) return Promise.reject(new OvsdbNotConnectedError(`the ${this.database} client is closed`));
    return this.conditions.set(table, where, this.replicator.schema, this.replicator.session);
  }

  /**
   * Runs a transaction. Resolves with each operation's result once committed.
   * Rejects with OvsdbTransactionError when the server refused it (nothing
   * committed), OvsdbNotConnectedError when it was not sent (retry after the
   * next resync), OvsdbOutcomeUnknownError when it was sent and no reply came
   * (re-read before acting), DatumTypeError when a value does not fit its
   * column (nothing sent). The update the transaction causes in the replica
   * usually arrives before the reply, but a clustered server may reply first:
   * use waitFor() when the next step reads the replica.
   */
  transact(ops: readonly Operation[], options: TransactOptions = {}): Promise<TransactResult> {
    if (this.closed) return Promise.reject(new OvsdbNotConnectedError(`the ${this.database} client is closed; the transaction was not sent`));
    return transact(this.database, this.replicator.session, ops, options);
  }

  /**
   * Stops: drops the connection and stops reconnecting. A transaction still
   * waiting for its reply rejects with OvsdbOutcomeUnknownError; waiters
   * reject with OvsdbNotConnectedError.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.loop.stop(new SessionLostError(`the ${this.database} client was closed`));
      this.failWaiters(new OvsdbNotConnectedError(`the ${this.database} client is closed`));
    }
    await this.stopped;
  }

  /** The configuration cannot work with this server's schema: stop for good, and say why to every waiter. */
  private giveUp(err: OvsdbConfigError): void {
    this.fatal = err;
    this.closed = true;
    this.loop.stop(err);
  }

  private failWaiters(err: Error): void {
    this.conditions.fail(err);
    this.events.failWaiters(err);
  }
}
