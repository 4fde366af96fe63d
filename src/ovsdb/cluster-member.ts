/**
 * Whether a server's copy of the database is one the client may read:
 * ovsdb-cs's check_server_db, judged from the server's own `_Server`
 * database. A clustered member must have joined the cluster, be connected
 * to it, be the leader when only the leader will do, and not be behind
 * what the client has already seen (its Raft index), or the replica could
 * step back in time after a failover.
 *
 * No I/O: it reads the `_Server` rows it is given and remembers the highest
 * index seen, across connections. It must not send anything nor drop a
 * connection; the session does, on its verdict.
 */

import type { Replica } from './replica';
import type { DatabaseSchema } from './schema';

/** The database in which an ovsdb-server describes the databases it serves (ovsdb-server(5)). */
export const SERVER_DB = '_Server';

/** The columns of _Server's Database table the check reads. */
const SERVER_COLUMNS = ['name', 'model', 'connected', 'leader', 'schema', 'cid', 'index'];

export type MemberVerdict = { readonly ok: true; readonly schema: string } | { readonly ok: false; readonly reason: string };

export class ClusterMemberCheck {
  /** The highest Raft index seen: a member behind it has stale data. */
  private minIndex = 0;

  constructor(
    private readonly database: string,
    /** Accept only the cluster's leader (ovsdb-cs's leader_only). */
    private readonly leaderOnly: boolean,
  ) {}

  /**
   * The columns of _Server's Database table to monitor: those of
   * SERVER_COLUMNS this server has (an older one lacks some); undefined when
   * it has no Database table.
   */
  static columns(serverSchema: DatabaseSchema): string[] | undefined {
    const table = serverSchema.tables.get('Database');
    return table && SERVER_COLUMNS.filter((c) => table.columns.has(c));
  }

  /** May this server's copy be used? If so, its schema (JSON text) for the database. */
  check(serverRows: Replica): MemberVerdict {
    const row = [...serverRows.rows('Database').values()].find((r) => r.name === this.database);
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
}
