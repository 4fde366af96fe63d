/**
 * The operations of an OVSDB transaction (RFC 7047 §5.2) as typed values,
 * their encoding against the schema before anything is sent (a value that
 * does not fit its column is refused here, with nothing sent), and the
 * decoding of the server's reply into each operation's result or the error
 * that refused the transaction. Pure: sending is transactions.ts's job.
 */

import { DatumTypeError, encodeAtom, encodeDatum, encodeMap, encodeSet, type WriteValue } from './datum';
import { OvsdbProtocolError, OvsdbTransactionError } from './errors';
import { decodeRow, type Row } from './replica';
import type { ColumnType, DatabaseSchema, TableSchema } from './schema';

/** RFC 7047 §5.1 <function>. */
export type ConditionFunction = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes';

/** One [column, function, value] test (RFC 7047 §5.1 <condition>); the value is typed by the column. */
export type Clause = readonly [column: string, fn: ConditionFunction, value: WriteValue];

/** RFC 7047 §5.1 <mutator>. */
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';

/**
 * One [column, mutator, value] change. Arithmetic takes an atom; `insert`
 * takes a set or map; `delete` from a map takes a map (pairs that match) or
 * an array of keys.
 */
export type Mutation = readonly [column: string, mutator: Mutator, value: WriteValue];

/** Column -> value for insert, update and wait. Undefined members are skipped. */
export type WriteRow = Readonly<Record<string, WriteValue | undefined>>;

/** The operations of a transaction (RFC 7047 §5.2); a `where` holds when every clause does. */
export type Operation =
  | { readonly op: 'insert'; readonly table: string; readonly row: WriteRow; readonly uuidName?: string }
  | { readonly op: 'select'; readonly table: string; readonly where: readonly Clause[]; readonly columns?: readonly string[] }
  | { readonly op: 'update'; readonly table: string; readonly where: readonly Clause[]; readonly row: WriteRow }
  | { readonly op: 'mutate'; readonly table: string; readonly where: readonly Clause[]; readonly mutations: readonly Mutation[] }
  | { readonly op: 'delete'; readonly table: string; readonly where: readonly Clause[] }
  | {
      readonly op: 'wait';
      readonly table: string;
      readonly where: readonly Clause[];
      readonly columns: readonly string[];
      readonly until: '==' | '!=';
      readonly rows: readonly WriteRow[];
      /** Milliseconds; 0 (the default) fails at once if the rows do not match. */
      readonly timeout?: number;
    }
  | { readonly op: 'commit'; readonly durable: boolean }
  | { readonly op: 'abort' }
  | { readonly op: 'comment'; readonly comment: string }
  | { readonly op: 'assert'; readonly lock: string };

/** One operation's result: `uuid` for insert, `count` for update/mutate/delete, `rows` for select. */
export interface OperationResult {
  readonly uuid?: string;
  readonly count?: number;
  readonly rows?: readonly Row[];
}

export interface TransactResult {
  /** One per operation, in order. */
  readonly results: readonly OperationResult[];
  /** The uuid each insert's `uuidName` got. */
  readonly inserted: ReadonlyMap<string, string>;
}

function tableOf(schema: DatabaseSchema, name: string, opIndex: number): TableSchema {
  const table = schema.tables.get(name);
  if (!table) throw new DatumTypeError(`operation ${opIndex}: database ${schema.name} has no table ${name}`);
  return table;
}

function columnOf(table: TableSchema, column: string, where: string): ColumnType {
  const type = table.columns.get(column);
  if (!type) throw new DatumTypeError(`${where}: table ${table.name} has no column ${column}`);
  return type;
}

function encodeRow(table: TableSchema, row: WriteRow, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (value === undefined) continue;
    if (column === '_uuid' || column === '_version') throw new DatumTypeError(`${where}: ${column} cannot be written`);
    out[column] = encodeDatum(columnOf(table, column, where), value, `${where}: ${table.name}.${column}`);
  }
  return out;
}

/** Encodes clauses for `table`; shared by transactions (where all must hold) and monitors (where any may). */
export function encodeClauses(table: TableSchema, clauses: readonly (Clause | boolean)[], where: string): unknown[] {
  return clauses.map((clause) => {
    if (typeof clause === 'boolean') return clause;
    const [column, fn, value] = clause;
    const type = columnOf(table, column, where);
    const at = `${where}: ${table.name}.${column} ${fn}`;
    return [column, fn, type.kind === 'map' ? encodeMap(type, value, at) : encodeSet(type.key, value, at)];
  });
}

function encodeMutations(table: TableSchema, mutations: readonly Mutation[], where: string): unknown[] {
  return mutations.map(([column, mutator, value]) => {
    const type = columnOf(table, column, where);
    const at = `${where}: ${table.name}.${column} ${mutator}`;
    if (mutator !== 'insert' && mutator !== 'delete') return [column, mutator, encodeAtom(type.key, value as never, at)];
    if (type.kind !== 'map') return [column, mutator, encodeSet(type.key, value, at)];
    if (mutator === 'delete' && (Array.isArray(value) || typeof value !== 'object' || value === null)) {
      return [column, mutator, encodeSet(type.key, value, at)];
    }
    return [column, mutator, encodeMap(type, value, at)];
  });
}

/** The `transact` params for `ops` against `schema`; throws DatumTypeError (nothing sent) when a value does not fit. */
export function encodeTransaction(schema: DatabaseSchema, ops: readonly Operation[]): unknown[] {
  const params: unknown[] = [schema.name];
  ops.forEach((op, i) => {
    const where = `operation ${i} (${op.op})`;
    switch (op.op) {
      case 'insert': {
        const t = tableOf(schema, op.table, i);
        const out: Record<string, unknown> = { op: 'insert', table: op.table, row: encodeRow(t, op.row, where) };
        if (op.uuidName !== undefined) out['uuid-name'] = op.uuidName;
        params.push(out);
        break;
      }
      case 'select': {
        const t = tableOf(schema, op.table, i);
        const out: Record<string, unknown> = { op: 'select', table: op.table, where: encodeClauses(t, op.where, where) };
        if (op.columns) out.columns = op.columns.map((c) => (columnOf(t, c, where), c));
        params.push(out);
        break;
      }
      case 'update': {
        const t = tableOf(schema, op.table, i);
        params.push({ op: 'update', table: op.table, where: encodeClauses(t, op.where, where), row: encodeRow(t, op.row, where) });
        break;
      }
      case 'mutate': {
        const t = tableOf(schema, op.table, i);
        params.push({ op: 'mutate', table: op.table, where: encodeClauses(t, op.where, where), mutations: encodeMutations(t, op.mutations, where) });
        break;
      }
      case 'delete': {
        const t = tableOf(schema, op.table, i);
        params.push({ op: 'delete', table: op.table, where: encodeClauses(t, op.where, where) });
        break;
      }
      case 'wait': {
        const t = tableOf(schema, op.table, i);
        for (const c of op.columns) columnOf(t, c, where);
        const out: Record<string, unknown> = {
          op: 'wait',
          table: op.table,
          where: encodeClauses(t, op.where, where),
          columns: op.columns,
          until: op.until,
          rows: op.rows.map((r) => encodeRow(t, r, where)),
        };
        if (op.timeout !== undefined) out.timeout = op.timeout;
        params.push(out);
        break;
      }
      case 'commit':
        params.push({ op: 'commit', durable: op.durable });
        break;
      case 'abort':
        params.push({ op: 'abort' });
        break;
      case 'comment':
        params.push({ op: 'comment', comment: op.comment });
        break;
      case 'assert':
        params.push({ op: 'assert', lock: op.lock });
        break;
      default:
        throw new DatumTypeError(`${where}: unknown operation`);
    }
  });
  return params;
}

/**
 * Reads a `transact` reply (RFC 7047 §4.1.3): one result per operation; an
 * error in the result of operation i means it failed (and nothing
 * committed); an error in an extra, last element means the commit failed.
 */
export function decodeTransactResult(schema: DatabaseSchema, ops: readonly Operation[], reply: unknown): TransactResult {
  if (!Array.isArray(reply)) throw new OvsdbProtocolError('the transact reply is not an array');
  for (let i = 0; i < reply.length; i++) {
    const r = reply[i] as { error?: unknown; details?: unknown } | null;
    if (r !== null && typeof r === 'object' && typeof r.error === 'string') {
      throw new OvsdbTransactionError(r.error, typeof r.details === 'string' ? r.details : undefined, i < ops.length ? i : undefined, ops[i]?.op);
    }
  }
  if (reply.length < ops.length) throw new OvsdbProtocolError(`the transact reply has ${reply.length} results for ${ops.length} operations`);
  const inserted = new Map<string, string>();
  const results = ops.map((op, i): OperationResult => {
    const r = (reply[i] ?? {}) as { uuid?: unknown; count?: unknown; rows?: unknown };
    if (op.op === 'insert') {
      const uuid = Array.isArray(r.uuid) && r.uuid[0] === 'uuid' && typeof r.uuid[1] === 'string' ? r.uuid[1] : undefined;
      if (uuid === undefined) throw new OvsdbProtocolError(`the result of insert ${i} has no uuid`);
      if (op.uuidName !== undefined) inserted.set(op.uuidName, uuid);
      return { uuid };
    }
    if (op.op === 'select') {
      if (!Array.isArray(r.rows)) throw new OvsdbProtocolError(`the result of select ${i} has no rows`);
      const table = schema.tables.get(op.table)!;
      return { rows: r.rows.map((row) => decodeRow(table, row)) };
    }
    return typeof r.count === 'number' ? { count: r.count } : {};
  });
  return { results, inserted };
}
