import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

import pino from 'pino';

import type { Logger } from '../common/log';
import { Backoff } from './backoff';
import { NamedUuid } from './datum';
import { OvsdbConfigError, OvsdbError, OvsdbNotConnectedError, OvsdbOutcomeUnknownError } from './errors';
import { JsonRpcSession, SessionLostError } from './jsonrpc';
import { decodeTransactResult, encodeClauses, encodeTransaction, type Clause, type Operation, type TransactResult } from './operations';
import { parseRemotes, type Remote } from './remote';
import { Replica, type ChangeSet, type Row } from './replica';
import { parseSchema, type DatabaseSchema } from './schema';
import { checkTlsFiles, connectRemote, type TlsFiles } from './transport';

/**
 * Which rows of a table to replicate: a row is replicated when it matches
 * any element (a clause, or a constant true/false), as in OVS's IDL; `[]`
 * replicates nothing.
 */
export type MonitorCondition = readonly (Clause | boolean)[];

export interface TableMonitor {
  /** The columns to replicate; every column of the table when omitted. */
  readonly columns?: readonly string[];
  /** Replicate only the rows matching this condition (monitor_cond); every row when omitted. */
  readonly where?: MonitorCondition;
}

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

export interface TransactOptions {
  /** Give up waiting for the reply after this long (the outcome is then unknown). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

type Phase = 'server-schema' | 'server-monitor' | 'data-schema' | 'data-monitor-cond' | 'data-monitor' | 'monitoring';

/** The condition of one table as ovsdb-cs tracks it: acknowledged by the server, requested, and set but not yet sent. */
interface ConditionState {
  acked: MonitorCondition | undefined;
  requested: { where: MonitorCondition | undefined } | undefined;
  pending: { where: MonitorCondition | undefined } | undefined;
}

/** One connection to one remote and where it is in the start-up sequence. */
interface Connection {
  readonly remote: Remote;
  readonly rpc: JsonRpcSession;
  readonly connectedAt: number;
  phase: Phase;
  serverSchema?: DatabaseSchema;
  serverRows?: Replica;
  schema?: DatabaseSchema;
  /** The replica the data monitor fills (installed as the client's when the monitor's reply arrives). */
  monitored?: Map<string, readonly string[]>;
  /** The condition generation the monitor request carried. */
  monitorGen: number;
  condRequestInFlight: boolean;
}

const SERVER_DB = '_Server';
const NO_ROWS: ReadonlyMap<string, Row> = new Map();
const SERVER_COLUMNS = ['name', 'model', 'connected', 'leader', 'schema', 'cid', 'index'];
const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

function monitorId(database: string): [string, string] {
  return ['monid', database];
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
  private readonly remotes: readonly Remote[];
  private readonly tls: TlsFiles | undefined;
  private readonly logger: Logger;
  private readonly leaderOnly: boolean;
  private readonly probeIntervalMs: number | undefined;
  private readonly maxMessageBytes: number;
  private readonly backoff: Backoff;
  private readonly tableSpecs: ReadonlyMap<string, TableMonitor>;
  private readonly conditions = new Map<string, ConditionState>();
  private readonly listeners: { [E in keyof ClientEvents]: Set<(e: ClientEvents[E]) => void> } = {
    resync: new Set(),
    update: new Set(),
    disconnect: new Set(),
  };

  private nextRemote = 0;
  private conn: Connection | undefined;
  private replica: Replica | undefined;
  private currentSchema: DatabaseSchema | undefined;
  private synced = false;
  private resyncs = 0;
  /** The highest Raft index seen: a member behind it has stale data. */
  private minIndex = 0;
  private condGen = 0;
  private ackedGen = 0;
  private condWaiters: { gen: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly warned = new Set<string>();
  private failure: { readonly remote: string; readonly reason: string } | undefined;

  private started = false;
  private closed = false;
  /** Aborted by close(): cuts short a connection attempt or a backoff wait. */
  private readonly stopping = new AbortController();
  /** waitFor() calls in progress, failed when the client stops. */
  private readonly stopWaiters = new Set<(err: Error) => void>();
  private stopped: Promise<void> = Promise.resolve();
  private fatal: Error | undefined;

  constructor(options: OvsdbClientOptions) {
    this.database = options.database;
    const remotes = typeof options.remotes === 'string' ? parseRemotes(options.remotes, { rundir: options.rundir }) : [...options.remotes];
    if (remotes.length === 0) throw new OvsdbConfigError(`no remote given for ${options.database}`);
    checkTlsFiles(remotes, options.tls);
    if (options.shuffleRemotes ?? true) shuffle(remotes);
    this.remotes = remotes;
    this.tls = options.tls;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ ovsdb: options.database });
    this.leaderOnly = options.leaderOnly ?? false;
    this.probeIntervalMs = options.probeIntervalMs;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const minMs = options.backoff?.minMs ?? 1000;
    this.backoff = new Backoff(minMs, Math.max(minMs, options.backoff?.maxMs ?? 8000), remotes.length);
    this.tableSpecs = new Map(Object.entries(options.tables));
    for (const [table, spec] of this.tableSpecs) {
      this.conditions.set(table, { acked: spec.where, requested: undefined, pending: undefined });
    }
  }

  /** Starts connecting (once); listeners added before see the first resync. */
  start(): this {
    if (this.started || this.closed) return this;
    this.started = true;
    this.stopped = this.run();
    return this;
  }

  /** True while connected with a replica loaded from the current connection. */
  get isSynced(): boolean {
    return this.synced;
  }

  /** The remote of the current connection, if any. */
  get remote(): string | undefined {
    return this.conn?.remote.name;
  }

  /**
   * Why the last connection attempt failed or the last connection ended
   * (e.g. the server's certificate is not signed by --ca-cert), for an
   * operator; undefined once a replica is loaded again.
   */
  get lastFailure(): { readonly remote: string; readonly reason: string } | undefined {
    return this.synced ? undefined : this.failure;
  }

  /** The database schema as the current (or last) server has it. */
  get schema(): DatabaseSchema | undefined {
    return this.currentSchema;
  }

  /**
   * The replicated rows of `table` by uuid, live: read it again after each
   * event rather than keeping it (a resync replaces it). Empty before the
   * first resync.
   */
  rows<R extends Row = Row>(table: string): ReadonlyMap<string, R> {
    return (this.replica?.rows(table) ?? NO_ROWS) as ReadonlyMap<string, R>;
  }

  row<R extends Row = Row>(table: string, uuid: string): R | undefined {
    return this.replica?.rows(table).get(uuid) as R | undefined;
  }

  /** Subscribes to an event; returns the unsubscribe function. Listeners run synchronously, after the replica changed. */
  on<E extends keyof ClientEvents>(event: E, listener: (e: ClientEvents[E]) => void): () => void {
    const set = this.listeners[event] as Set<(e: ClientEvents[E]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Resolves once the replica is loaded (at once if it is); starts the client if needed. */
  ready(options: WaitOptions = {}): Promise<void> {
    this.start();
    return this.waitFor(() => this.synced, options);
  }

  /** Resolves when `predicate` (evaluated now and after every resync and update) holds. */
  waitFor(predicate: () => boolean, options: WaitOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.fatal) return reject(this.fatal);
      if (this.closed) return reject(new OvsdbNotConnectedError(`the ${this.database} client is closed`));
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
      if (this.synced) check();
    });
  }

  /**
   * Changes which rows of `table` are replicated, without resubscribing
   * (monitor_cond_change). Resolves when the server has acknowledged it and
   * the replica holds the rows it selects (the update that brings them
   * arrives before the acknowledgement). While disconnected, the condition
   * is used by the next connection's monitor.
   */
  setCondition(table: string, where: MonitorCondition | undefined): Promise<void> {
    const state = this.conditions.get(table);
    if (!state) return Promise.reject(new OvsdbConfigError(`table ${table} is not monitored by the ${this.database} client`));
    if (this.closed) return Promise.reject(new OvsdbNotConnectedError(`the ${this.database} client is closed`));
    if (where && this.currentSchema) {
      const t = this.currentSchema.tables.get(table);
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
      target = ++this.condGen;
      const conn = this.conn;
      if (conn?.phase === 'monitoring') queueMicrotask(() => this.sendConditionChange(conn));
    } else {
      target = state.pending || state.requested ? this.condGen : this.ackedGen;
    }
    if (target <= this.ackedGen) return Promise.resolve();
    return new Promise((resolve, reject) => this.condWaiters.push({ gen: target, resolve, reject }));
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
    const conn = this.conn;
    if (this.closed) return Promise.reject(new OvsdbNotConnectedError(`the ${this.database} client is closed; the transaction was not sent`));
    if (!conn || conn.phase !== 'monitoring' || !conn.schema || !conn.rpc.isOpen) {
      return Promise.reject(
        new OvsdbNotConnectedError(`not connected to ${this.database}${conn ? ` (still starting on ${conn.remote.name})` : ''}; the transaction was not sent: retry after the next resync`),
      );
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const schema = conn.schema;
    let params: unknown[];
    try {
      params = encodeTransaction(schema, ops);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<TransactResult>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => giveUp('the transaction was aborted', signal!.reason);
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const id = conn.rpc.request('transact', params, (err, result) => {
        if (err instanceof SessionLostError) {
          return finish(() =>
            reject(
              new OvsdbOutcomeUnknownError(`the connection to ${conn.remote.name} ended before the transaction's reply (${err.message}); it may or may not have committed: read the database again`, { cause: err }),
            ),
          );
        }
        if (err) return finish(() => reject(err));
        finish(() => {
          try {
            resolve(decodeTransactResult(schema, ops, result));
          } catch (e) {
            reject(e as Error);
          }
        });
      });
      const giveUp = (why: string, cause: unknown) => {
        if (settled) return;
        conn.rpc.forget(id);
        // Only a transaction blocked in a "wait" can still be cancelled; any other may already have committed.
        conn.rpc.notify('cancel', [id]);
        finish(() => reject(new OvsdbOutcomeUnknownError(`${why} before its reply; it was sent and may or may not have committed: read the database again`, { cause })));
      };
      if (options.timeoutMs !== undefined) timer = setTimeout(() => giveUp(`no reply within ${options.timeoutMs} ms`, undefined), options.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Stops: drops the connection and stops reconnecting. A transaction still
   * waiting for its reply rejects with OvsdbOutcomeUnknownError; waiters
   * reject with OvsdbNotConnectedError.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.conn?.rpc.close(new SessionLostError(`the ${this.database} client was closed`));
      this.stopping.abort();
      this.failWaiters(new OvsdbNotConnectedError(`the ${this.database} client is closed`));
    }
    await this.stopped;
  }

  // ---- connection life cycle -------------------------------------------------

  private async run(): Promise<void> {
    while (!this.closed) {
      const remote = this.remotes[this.nextRemote]!;
      this.nextRemote = (this.nextRemote + 1) % this.remotes.length;
      let lived: number | undefined;
      let reason: string;
      try {
        this.logger.debug({ remote: remote.name }, 'ovsdb: connecting');
        const socket = await connectRemote(remote, this.tls, Math.max(1000, this.backoff.currentMs), this.stopping.signal);
        if (this.closed) {
          socket.destroy();
          break;
        }
        const conn = this.open(remote, socket);
        const end = await conn.rpc.ended;
        lived = performance.now() - conn.connectedAt;
        reason = end.message;
        this.connectionEnded(conn, reason);
      } catch (err) {
        if (!(err instanceof OvsdbError)) throw err;
        reason = err.message;
      }
      if (this.closed || this.fatal) break;
      this.failure = { remote: remote.name, reason };
      const delay = this.backoff.failed(lived);
      // At the longest wait OVS stops logging each attempt; so do we, down to debug.
      this.logger[this.backoff.atMax ? 'debug' : 'info']({ remote: remote.name, reason, retryInMs: delay }, 'ovsdb: connection lost or refused; trying the next remote');
      await this.sleep(delay);
    }
    if (this.fatal) this.failWaiters(this.fatal);
  }

  private async sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return;
    await delay(ms, undefined, { signal: this.stopping.signal }).catch(() => {});
  }

  private open(remote: Remote, socket: import('node:net').Socket): Connection {
    const rpc = new JsonRpcSession(socket, {
      name: remote.name,
      logger: this.logger,
      probeIntervalMs: this.probeIntervalMs ?? (remote.kind === 'unix' ? 0 : 5000),
      maxMessageBytes: this.maxMessageBytes,
    });
    const conn: Connection = { remote, rpc, connectedAt: performance.now(), phase: 'server-schema', monitorGen: 0, condRequestInFlight: false };
    this.conn = conn;
    this.logger.debug({ remote: remote.name }, 'ovsdb: connected');
    rpc.onNotification = (method, params) => this.notification(conn, method, params);
    rpc.request('get_schema', [SERVER_DB], (err, result) => this.onServerSchema(conn, err, result));
    return conn;
  }

  private connectionEnded(conn: Connection, reason: string): void {
    const wasSynced = this.synced && this.conn === conn;
    if (this.conn === conn) {
      this.conn = undefined;
      this.synced = false;
    }
    if (wasSynced && !this.closed) this.emit('disconnect', { remote: conn.remote.name, reason });
  }

  /** Drops this connection and tries another member (ovsdb-cs's retry). */
  private retry(conn: Connection, reason: string): void {
    this.logger.info({ remote: conn.remote.name, reason }, 'ovsdb: trying another server');
    conn.rpc.close(new SessionLostError(`${conn.remote.name}: ${reason}`));
  }

  private onServerSchema(conn: Connection, err: OvsdbError | undefined, result: unknown): void {
    if (err instanceof SessionLostError) return;
    if (err) {
      // A server older than the _Server database (OVS < 2.9): ask for the schema directly.
      this.requestDataSchema(conn);
      return;
    }
    const serverSchema = parseSchema(result);
    const table = serverSchema.tables.get('Database');
    if (!table) {
      this.requestDataSchema(conn);
      return;
    }
    const columns = SERVER_COLUMNS.filter((c) => table.columns.has(c));
    conn.serverSchema = serverSchema;
    conn.serverRows = new Replica(serverSchema, new Map([['Database', columns]]));
    conn.phase = 'server-monitor';
    conn.rpc.request('monitor_cond', [SERVER_DB, monitorId(SERVER_DB), { Database: [{ columns }] }], (e, r) => this.onServerMonitor(conn, e, r));
  }

  private onServerMonitor(conn: Connection, err: OvsdbError | undefined, result: unknown): void {
    if (err instanceof SessionLostError) return;
    if (err) {
      this.requestDataSchema(conn);
      return;
    }
    conn.serverRows!.apply(2, result);
    const check = this.checkServerDb(conn);
    if (!check.ok) return this.retry(conn, check.reason);
    // Be told of database changes rather than disconnected (ovsdb-server(7) §4.1.16).
    conn.rpc.request('set_db_change_aware', [true], () => {});
    conn.schema = parseSchema(JSON.parse(check.schema) as unknown);
    this.requestDataMonitor(conn, 2);
  }

  private requestDataSchema(conn: Connection): void {
    conn.phase = 'data-schema';
    conn.rpc.request('get_schema', [this.database], (err, result) => {
      if (err instanceof SessionLostError) return;
      if (err) return this.retry(conn, `the server does not have the ${this.database} database (${err.message})`);
      conn.schema = parseSchema(result);
      this.requestDataMonitor(conn, 2);
    });
  }

  private requestDataMonitor(conn: Connection, version: 1 | 2): void {
    let requests: Record<string, unknown>;
    try {
      requests = this.monitorRequests(conn, version);
    } catch (err) {
      // A condition naming a column the schema lacks: the caller's mistake, not the server's.
      this.fatal = new OvsdbConfigError(`cannot monitor ${this.database}: ${(err as Error).message}`);
      this.logger.error({ err: this.fatal.message }, 'ovsdb: giving up');
      this.closed = true;
      conn.rpc.close(this.fatal);
      return;
    }
    conn.monitorGen = this.condGen;
    conn.phase = version === 2 ? 'data-monitor-cond' : 'data-monitor';
    const method = version === 2 ? 'monitor_cond' : 'monitor';
    conn.rpc.request(method, [this.database, monitorId(this.database), requests], (err, result) => {
      if (err instanceof SessionLostError) return;
      if (err) {
        if (version === 2) return this.requestDataMonitor(conn, 1); // a server without monitor_cond (OVS < 2.6)
        return this.retry(conn, `monitor failed: ${err.message}`);
      }
      this.install(conn, version, result);
    });
  }

  private monitorRequests(conn: Connection, version: 1 | 2): Record<string, unknown> {
    // A new monitor asks for the latest conditions: those set since, or sent
    // on an earlier connection and never acknowledged, count as acknowledged
    // once its reply arrives (ovsdb-cs's sync_condition without last_id).
    for (const state of this.conditions.values()) {
      const latest = state.pending ?? state.requested;
      if (latest) state.acked = latest.where;
      state.pending = state.requested = undefined;
    }
    const schema = conn.schema!;
    const requests: Record<string, unknown> = {};
    const monitored = new Map<string, readonly string[]>();
    for (const [table, spec] of this.tableSpecs) {
      const t = schema.tables.get(table);
      if (!t) {
        this.warnOnce(`table:${table}`, `the ${this.database} schema has no table ${table} (older server?); not replicating it`);
        continue;
      }
      const all = [...t.columns.keys()].filter((c) => c !== '_uuid' && c !== '_version');
      const columns = (spec.columns ?? all).filter((c) => {
        if (t.columns.has(c) && c !== '_uuid') return true;
        this.warnOnce(`column:${table}.${c}`, `table ${table} of ${this.database} has no column ${c} (older server?); not replicating it`);
        return false;
      });
      monitored.set(table, columns);
      const request: Record<string, unknown> = { columns };
      const where = this.conditions.get(table)!.acked;
      if (version === 2 && where !== undefined) request.where = where.length === 0 ? [false] : encodeClauses(t, where, `condition on ${table}`);
      requests[table] = [request];
    }
    conn.monitored = monitored;
    return requests;
  }

  private install(conn: Connection, version: 1 | 2, result: unknown): void {
    const replica = new Replica(conn.schema!, conn.monitored!);
    replica.apply(version, result);
    conn.phase = 'monitoring';
    this.replica = replica;
    this.currentSchema = conn.schema;
    this.synced = true;
    const reconnect = this.resyncs++ > 0;
    this.logger.info({ remote: conn.remote.name, method: version === 2 ? 'monitor_cond' : 'monitor', reconnect }, 'ovsdb: replica loaded');
    // On a server without monitor_cond every row is replicated: any condition is trivially satisfied.
    this.conditionsAcked(version === 2 ? conn.monitorGen : this.condGen);
    this.emit('resync', { remote: conn.remote.name, reconnect, method: version === 2 ? 'monitor_cond' : 'monitor' });
    if (version === 2 && this.condGen > conn.monitorGen) this.sendConditionChange(conn);
  }

  private notification(conn: Connection, method: string, params: unknown): void {
    if (!Array.isArray(params)) return;
    const [id] = params;
    const forData = isMonitorId(id, this.database);
    const forServer = isMonitorId(id, SERVER_DB);
    if (method === 'update2' || method === 'update') {
      if (forServer && conn.serverRows) {
        conn.serverRows.apply(2, params[1]);
        const check = this.checkServerDb(conn);
        if (!check.ok) this.retry(conn, check.reason);
      } else if (forData && conn.phase === 'monitoring' && this.conn === conn) {
        const changes = this.replica!.apply(method === 'update2' ? 2 : 1, params[1]);
        if (changes.size > 0) this.emit('update', { changes });
      }
    } else if (method === 'monitor_canceled' && (forData || forServer)) {
      this.retry(conn, `the server canceled the monitor of ${forData ? this.database : SERVER_DB} (database removed or converted)`);
    }
  }

  /** ovsdb-cs's check_server_db: is this server's copy of the database one we may use? */
  private checkServerDb(conn: Connection): { ok: true; schema: string } | { ok: false; reason: string } {
    const row = [...conn.serverRows!.rows('Database').values()].find((r) => r.name === this.database);
    if (!row) return { ok: false, reason: `the server does not have the ${this.database} database` };
    const schema = typeof row.schema === 'string' ? row.schema : undefined;
    if (row.model === 'clustered') {
      const index = typeof row.index === 'number' ? row.index : 0;
      if (!schema) return { ok: false, reason: 'clustered database server has not yet joined the cluster' };
      if (row.connected !== true) return { ok: false, reason: 'clustered database server is disconnected from the cluster' };
      if (this.leaderOnly && row.leader !== true) return { ok: false, reason: 'clustered database server is not the cluster leader' };
      if (index < this.minIndex) return { ok: false, reason: `clustered database server has stale data (index ${index} < ${this.minIndex})` };
      this.minIndex = index;
    } else if (!schema) {
      return { ok: false, reason: 'the server has no schema for the database' };
    }
    return { ok: true, schema: schema! };
  }

  // ---- conditions ------------------------------------------------------------

  private sendConditionChange(conn: Connection): void {
    if (conn !== this.conn || conn.phase !== 'monitoring' || conn.condRequestInFlight || !conn.rpc.isOpen) return;
    const schema = conn.schema!;
    const changes: Record<string, unknown> = {};
    let any = false;
    for (const [table, state] of this.conditions) {
      if (!state.pending) continue;
      const t = schema.tables.get(table);
      state.requested = state.pending;
      state.pending = undefined;
      if (!t) continue;
      const where = state.requested.where;
      changes[table] = [{ where: where === undefined ? [true] : where.length === 0 ? [false] : encodeClauses(t, where, `condition on ${table}`) }];
      any = true;
    }
    const gen = this.condGen;
    if (!any) {
      this.conditionsAcked(gen);
      return;
    }
    conn.condRequestInFlight = true;
    const id = monitorId(this.database);
    conn.rpc.request('monitor_cond_change', [id, id, changes], (err) => {
      conn.condRequestInFlight = false;
      if (err instanceof SessionLostError) return;
      if (err) return this.retry(conn, `monitor_cond_change failed: ${err.message}`);
      for (const state of this.conditions.values()) {
        if (state.requested) state.acked = state.requested.where;
        state.requested = undefined;
      }
      this.conditionsAcked(gen);
      this.sendConditionChange(conn);
    });
  }

  private conditionsAcked(gen: number): void {
    if (gen > this.ackedGen) this.ackedGen = gen;
    const due = this.condWaiters.filter((w) => w.gen <= this.ackedGen);
    if (due.length === 0) return;
    this.condWaiters = this.condWaiters.filter((w) => w.gen > this.ackedGen);
    for (const w of due) w.resolve();
  }

  private failWaiters(err: Error): void {
    const waiters = this.condWaiters;
    this.condWaiters = [];
    for (const w of waiters) w.reject(err);
    for (const w of [...this.stopWaiters]) w(err);
  }

  // ---- helpers ---------------------------------------------------------------

  private emit<E extends keyof ClientEvents>(event: E, payload: ClientEvents[E]): void {
    for (const listener of [...this.listeners[event]] as ((e: ClientEvents[E]) => void)[]) {
      try {
        listener(payload);
      } catch (err) {
        this.logger.error({ err, event }, 'ovsdb: an event listener threw; the client carries on');
      }
    }
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(msg);
  }
}

function isMonitorId(id: unknown, database: string): boolean {
  return Array.isArray(id) && id.length === 2 && id[0] === 'monid' && id[1] === database;
}

function sameCondition(a: MonitorCondition | undefined, b: MonitorCondition | undefined): boolean {
  return canonical(a) === canonical(b);
}

function canonical(c: MonitorCondition | undefined): string {
  return JSON.stringify(c ?? null, (_k, v: unknown) => (v instanceof Map ? ['map', [...v]] : v instanceof NamedUuid ? ['named-uuid', v.name] : v));
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
