/**
 * The replica the client reads, and which session feeds it. Every session
 * the connection loop opens is started (session.ts); the one whose monitor
 * is installed becomes the source of the client's rows and schema and says
 * so with a `resync` event; its updates are `update` events; its end a
 * `disconnect` event, after which the replica is kept, stale, until the
 * next resync (a consumer may go on reading it).
 *
 * It must not connect nor choose remotes (connection-loop.ts), nor speak
 * the start-up's protocol (session.ts).
 */

import type { Logger } from '../common/log';
import type { ClusterMemberCheck } from './cluster-member';
import type { MonitorConditions } from './conditions';
import type { ConnectionHandler } from './connection-loop';
import type { OvsdbConfigError } from './errors';
import type { EventHub } from './events';
import type { JsonRpcSession } from './jsonrpc';
import type { Remote } from './remote';
import type { Replica, Row } from './replica';
import type { DatabaseSchema } from './schema';
import { Session, type SessionContext, type TableMonitor } from './session';

export interface ReplicatorOptions {
  readonly database: string;
  readonly logger: Logger;
  readonly tables: ReadonlyMap<string, TableMonitor>;
  readonly memberCheck: ClusterMemberCheck;
  readonly conditions: MonitorConditions;
  readonly events: EventHub;
  /** The client cannot work with this database at all (see SessionContext.fatal). */
  readonly fatal: (err: OvsdbConfigError) => void;
}

const NO_ROWS: ReadonlyMap<string, Row> = new Map();

export class Replicator implements ConnectionHandler<Session> {
  private readonly context: SessionContext;
  private readonly events: EventHub;
  /** The session of the current connection, from its opening to its end. */
  private current: Session | undefined;
  /** The last replica loaded, with the schema it was loaded with. */
  private loaded: { readonly replica: Replica; readonly schema: DatabaseSchema } | undefined;
  private synced = false;
  private resyncs = 0;

  constructor(options: ReplicatorOptions) {
    this.events = options.events;
    this.context = {
      database: options.database,
      logger: options.logger,
      tables: options.tables,
      memberCheck: options.memberCheck,
      conditions: options.conditions,
      warned: new Set(),
      fatal: options.fatal,
      loaded: (session, method) => this.install(session, method),
      updated: (changes) => this.events.emit('update', { changes }),
    };
  }

  /** True while connected with a replica loaded from the current connection. */
  get isSynced(): boolean {
    return this.synced;
  }

  /** The session of the current connection, if any (its monitor may not be up yet). */
  get session(): Session | undefined {
    return this.current;
  }

  /** The database schema as the current (or last) server has it. */
  get schema(): DatabaseSchema | undefined {
    return this.loaded?.schema;
  }

  rows(table: string): ReadonlyMap<string, Row> {
    return this.loaded?.replica.rows(table) ?? NO_ROWS;
  }

  opened(remote: Remote, rpc: JsonRpcSession): Session {
    const session = new Session(remote, rpc, this.context);
    this.current = session;
    session.start();
    return session;
  }

  ended(session: Session, reason: string, stopping: boolean): void {
    const wasSynced = this.synced && this.current === session;
    if (this.current === session) {
      this.current = undefined;
      this.synced = false;
    }
    // A disconnect its owner asked for (close) is no news to the consumer.
    if (wasSynced && !stopping) this.events.emit('disconnect', { remote: session.remote.name, reason });
  }

  private install(session: Session, method: 'monitor_cond' | 'monitor'): void {
    this.loaded = { replica: session.replica!, schema: session.schema! };
    this.synced = true;
    const reconnect = this.resyncs++ > 0;
    this.context.logger.info({ remote: session.remote.name, method, reconnect }, 'ovsdb: replica loaded');
    this.events.emit('resync', { remote: session.remote.name, reconnect, method });
  }
}
