/**
 * An OVSDB client (RFC 7047 and ovsdb-server(7)'s extensions) after OVS's
 * own ovsdb-cs: replicate tables with monitor_cond, write with transact,
 * reconnect with backoff across a clustered database's members, over unix:,
 * tcp: or ssl: remotes.
 *
 *     const sb = new OvsdbClient({
 *       database: 'OVN_Southbound',
 *       remotes: 'ssl:10.0.0.1:6642,ssl:10.0.0.2:6642',
 *       tls: { privateKey, certificate, caCert },
 *       tables: { Chassis: { columns: ['name'], where: [['name', '==', systemId]] }, Port_Binding: { where: [] } },
 *     });
 *     sb.on('resync', () => recomputeAll());
 *     sb.on('update', ({ changes }) => apply(changes));
 *     await sb.ready();
 *     await sb.setCondition('Port_Binding', [['requested_chassis', '==', chassisUuid]]);
 *     for (const pb of sb.rows('Port_Binding').values()) ...
 */
export { OvsdbClient, type OvsdbClientOptions } from './client';
export type { MonitorCondition } from './conditions';
export type { ClientEvents, DisconnectEvent, ResyncEvent, UpdateEvent, WaitOptions } from './events';
export type { TableMonitor } from './session';
export type { TransactOptions } from './transactions';
export { DatumTypeError, NamedUuid, namedUuid, type Atom, type Value, type WriteAtom, type WriteValue } from './datum';
export {
  OvsdbConfigError,
  OvsdbError,
  OvsdbNotConnectedError,
  OvsdbOutcomeUnknownError,
  OvsdbProtocolError,
  OvsdbRpcError,
  OvsdbTransactionError,
} from './errors';
export type { Clause, ConditionFunction, Mutation, Mutator, Operation, OperationResult, TransactResult, WriteRow } from './operations';
export { DEFAULT_OVSDB_PORT, defaultRundir, parseRemote, parseRemotes, type Remote } from './remote';
export type { ChangeSet, ModifiedRow, Row, TableChange } from './replica';
export type { AtomicType, BaseType, ColumnKind, ColumnType, DatabaseSchema, TableSchema } from './schema';
export type { TlsFiles } from './transport';
