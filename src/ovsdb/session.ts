/**
 * One connection's session as the client drives it, after ovsdb-cs: its
 * start-up, and then its monitor. Start-up asks the server's `_Server`
 * database first (get_schema, monitor_cond of its Database table) to check
 * that this member may be read (cluster-member.ts), then the database's own
 * schema and monitor: monitor_cond, or monitor on a server without it (OVS
 * < 2.6), or get_schema of the database directly on a server without
 * `_Server` (OVS < 2.9). The monitor's reply becomes a new replica; after
 * that the monitor's updates are applied to it, and a change of the
 * `_Server` row is checked again.
 *
 * A server that will not do (no such database, a member out of the
 * cluster, a monitor refused or canceled) gets its connection closed; the
 * connection loop then tries another remote. A session must not reconnect,
 * nor keep anything meant to outlive its connection: that is in its
 * SessionContext (the conditions, the member check's memory, warnings
 * given), and the replica it loaded is handed to its owner.
 */

import type { Logger } from '../common/log';
import { ClusterMemberCheck, SERVER_DB } from './cluster-member';
import type { ConditionChannel, MonitorCondition, MonitorConditions } from './conditions';
import { OvsdbConfigError, type OvsdbError } from './errors';
import { SessionLostError, type JsonRpcSession, type ReplyHandler } from './jsonrpc';
import { encodeClauses } from './operations';
import type { Remote } from './remote';
import { Replica, type ChangeSet } from './replica';
import { parseSchema, type DatabaseSchema } from './schema';
import type { TransactChannel } from './transactions';

export interface TableMonitor {
  /** The columns to replicate; every column of the table when omitted. */
  readonly columns?: readonly string[];
  /** Replicate only the rows matching this condition (monitor_cond); every row when omitted. */
  readonly where?: MonitorCondition;
}

/** What a session needs that outlives it, given by its owner. */
export interface SessionContext {
  readonly database: string;
  readonly logger: Logger;
  /** Table name -> what to replicate of it. */
  readonly tables: ReadonlyMap<string, TableMonitor>;
  readonly memberCheck: ClusterMemberCheck;
  readonly conditions: MonitorConditions;
  /** Keys of the warnings given: a missing table or column is said once per client, not at every reconnect. */
  readonly warned: Set<string>;
  /** The monitor's reply is installed: `session.replica` is loaded. */
  loaded(session: Session, method: 'monitor_cond' | 'monitor'): void;
  /** An update changed rows of `session.replica`. */
  updated(changes: ChangeSet): void;
  /** The client cannot work with this database at all; the session is closed with `err`. */
  fatal(err: OvsdbConfigError): void;
}

type Phase = 'server-schema' | 'server-monitor' | 'data-schema' | 'data-monitor-cond' | 'data-monitor' | 'monitoring';

function monitorId(database: string): [string, string] {
  return ['monid', database];
}

function isMonitorId(id: unknown, database: string): boolean {
  return Array.isArray(id) && id.length === 2 && id[0] === 'monid' && id[1] === database;
}

export class Session implements ConditionChannel, TransactChannel {
  private phase: Phase = 'server-schema';
  /** The server's `_Server` Database rows, watched for the whole session. */
  private serverRows: Replica | undefined;
  private dataSchema: DatabaseSchema | undefined;
  /** Table -> the columns the monitor request asked for (the replica is built for those). */
  private monitored: Map<string, readonly string[]> | undefined;
  /** The condition generation the monitor request carried. */
  private monitorGen = 0;
  private dataReplica: Replica | undefined;

  constructor(
    readonly remote: Remote,
    readonly rpc: JsonRpcSession,
    private readonly ctx: SessionContext,
  ) {}

  get remoteName(): string {
    return this.remote.name;
  }

  /** The monitor is installed and the connection still open (only the current session's can be). */
  get monitoring(): boolean {
    return this.phase === 'monitoring' && this.rpc.isOpen;
  }

  /** The database's schema as this server has it, once known. */
  get schema(): DatabaseSchema | undefined {
    return this.dataSchema;
  }

  /** The replica this session's monitor loaded, once installed. */
  get replica(): Replica | undefined {
    return this.dataReplica;
  }

  start(): void {
    this.rpc.onNotification = (method, params) => this.notification(method, params);
    this.rpc.request('get_schema', [SERVER_DB], (err, result) => this.onServerSchema(err, result));
  }

  changeConditions(changes: Record<string, unknown>, handler: ReplyHandler): void {
    const id = monitorId(this.ctx.database);
    this.rpc.request('monitor_cond_change', [id, id, changes], handler);
  }

  /** Drops this connection and tries another member (ovsdb-cs's retry). */
  retry(reason: string): void {
    this.ctx.logger.info({ remote: this.remote.name, reason }, 'ovsdb: trying another server');
    this.rpc.close(new SessionLostError(`${this.remote.name}: ${reason}`));
  }

  private onServerSchema(err: OvsdbError | undefined, result: unknown): void {
    if (err instanceof SessionLostError) return;
    if (err) {
      // A server older than the _Server database (OVS < 2.9): ask for the schema directly.
      this.requestDataSchema();
      return;
    }
    const serverSchema = parseSchema(result);
    const columns = ClusterMemberCheck.columns(serverSchema);
    if (!columns) {
      this.requestDataSchema();
      return;
    }
    this.serverRows = new Replica(serverSchema, new Map([['Database', columns]]));
    this.phase = 'server-monitor';
    this.rpc.request('monitor_cond', [SERVER_DB, monitorId(SERVER_DB), { Database: [{ columns }] }], (e, r) => this.onServerMonitor(e, r));
  }

  private onServerMonitor(err: OvsdbError | undefined, result: unknown): void {
    if (err instanceof SessionLostError) return;
    if (err) {
      this.requestDataSchema();
      return;
    }
    this.serverRows!.apply(2, result);
    const check = this.ctx.memberCheck.check(this.serverRows!);
    if (!check.ok) return this.retry(check.reason);
    // Be told of database changes rather than disconnected (ovsdb-server(7) §4.1.16).
    this.rpc.request('set_db_change_aware', [true], () => {});
    this.dataSchema = parseSchema(JSON.parse(check.schema) as unknown);
    this.requestDataMonitor(2);
  }

  private requestDataSchema(): void {
    const { database } = this.ctx;
    this.phase = 'data-schema';
    this.rpc.request('get_schema', [database], (err, result) => {
      if (err instanceof SessionLostError) return;
      if (err) return this.retry(`the server does not have the ${database} database (${err.message})`);
      this.dataSchema = parseSchema(result);
      this.requestDataMonitor(2);
    });
  }

  private requestDataMonitor(version: 1 | 2): void {
    const { database, conditions } = this.ctx;
    let requests: Record<string, unknown>;
    try {
      requests = this.monitorRequests(version);
    } catch (err) {
      // A condition naming a column the schema lacks: the caller's mistake, not the server's.
      const fatal = new OvsdbConfigError(`cannot monitor ${database}: ${(err as Error).message}`);
      this.ctx.logger.error({ err: fatal.message }, 'ovsdb: giving up');
      this.ctx.fatal(fatal);
      return;
    }
    this.monitorGen = conditions.latest;
    this.phase = version === 2 ? 'data-monitor-cond' : 'data-monitor';
    const method = version === 2 ? 'monitor_cond' : 'monitor';
    this.rpc.request(method, [database, monitorId(database), requests], (err, result) => {
      if (err instanceof SessionLostError) return;
      if (err) {
        if (version === 2) return this.requestDataMonitor(1); // a server without monitor_cond (OVS < 2.6)
        return this.retry(`monitor failed: ${err.message}`);
      }
      this.install(version, result);
    });
  }

  private monitorRequests(version: 1 | 2): Record<string, unknown> {
    const { database, tables } = this.ctx;
    const conditionOf = this.ctx.conditions.forNewMonitor();
    const schema = this.dataSchema!;
    const requests: Record<string, unknown> = {};
    const monitored = new Map<string, readonly string[]>();
    for (const [table, spec] of tables) {
      const t = schema.tables.get(table);
      if (!t) {
        this.warnOnce(`table:${table}`, `the ${database} schema has no table ${table} (older server?); not replicating it`);
        continue;
      }
      const all = [...t.columns.keys()].filter((c) => c !== '_uuid' && c !== '_version');
      const columns = (spec.columns ?? all).filter((c) => {
        if (t.columns.has(c) && c !== '_uuid') return true;
        this.warnOnce(`column:${table}.${c}`, `table ${table} of ${database} has no column ${c} (older server?); not replicating it`);
        return false;
      });
      monitored.set(table, columns);
      const request: Record<string, unknown> = { columns };
      const where = conditionOf(table);
      if (version === 2 && where !== undefined) request.where = where.length === 0 ? [false] : encodeClauses(t, where, `condition on ${table}`);
      requests[table] = [request];
    }
    this.monitored = monitored;
    return requests;
  }

  private install(version: 1 | 2, result: unknown): void {
    const replica = new Replica(this.dataSchema!, this.monitored!);
    replica.apply(version, result);
    this.phase = 'monitoring';
    this.dataReplica = replica;
    const { conditions } = this.ctx;
    // On a server without monitor_cond every row is replicated: any condition is trivially satisfied.
    conditions.acknowledged(version === 2 ? this.monitorGen : conditions.latest);
    this.ctx.loaded(this, version === 2 ? 'monitor_cond' : 'monitor');
    // Conditions set while the monitor request was on its way are sent now.
    if (version === 2 && conditions.latest > this.monitorGen) conditions.sync(this);
  }

  private notification(method: string, params: unknown): void {
    if (!Array.isArray(params)) return;
    const { database } = this.ctx;
    const [id] = params;
    const forData = isMonitorId(id, database);
    const forServer = isMonitorId(id, SERVER_DB);
    if (method === 'update2' || method === 'update') {
      if (forServer && this.serverRows) {
        this.serverRows.apply(2, params[1]);
        const check = this.ctx.memberCheck.check(this.serverRows);
        if (!check.ok) this.retry(check.reason);
      } else if (forData && this.phase === 'monitoring') {
        const changes = this.dataReplica!.apply(method === 'update2' ? 2 : 1, params[1]);
        if (changes.size > 0) this.ctx.updated(changes);
      }
    } else if (method === 'monitor_canceled' && (forData || forServer)) {
      this.retry(`the server canceled the monitor of ${forData ? database : SERVER_DB} (database removed or converted)`);
    }
  }

  private warnOnce(key: string, msg: string): void {
    if (this.ctx.warned.has(key)) return;
    this.ctx.warned.add(key);
    this.ctx.logger.warn(msg);
  }
}
