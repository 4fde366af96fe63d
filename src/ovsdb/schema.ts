/**
 * OVSDB database schemas (RFC 7047 §3.2), reduced to what a client needs to
 * type values: tables, their columns, and each column's kind and atom
 * types. A malformed schema is a protocol error, said with the place it is
 * wrong.
 */

import { OvsdbProtocolError } from './errors';

/** RFC 7047 §3.2 <atomic-type>. */
export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

/** The part of a <base-type> a client needs: what an atom is, and what a uuid refers to. */
export interface BaseType {
  readonly type: AtomicType;
  readonly refTable?: string;
}

/**
 * How a column's datum is shown to JavaScript, from its <type>:
 * - `scalar` (min 1, max 1): the atom itself;
 * - `optional` (min 0, max 1): the atom, or null when empty;
 * - `set` (max > 1): an array of atoms;
 * - `map` (a value type): a Map from key atom to value atom.
 */
export type ColumnKind = 'scalar' | 'optional' | 'set' | 'map';

export interface ColumnType {
  readonly key: BaseType;
  readonly value?: BaseType;
  readonly min: number;
  /** Infinity for "unlimited". */
  readonly max: number;
  readonly kind: ColumnKind;
}

export interface TableSchema {
  readonly name: string;
  /** Every column, including the implicit `_uuid` and `_version`. */
  readonly columns: ReadonlyMap<string, ColumnType>;
}

export interface DatabaseSchema {
  readonly name: string;
  readonly version: string;
  readonly tables: ReadonlyMap<string, TableSchema>;
}

const ATOMIC = new Set<string>(['integer', 'real', 'boolean', 'string', 'uuid']);
const UUID_COLUMN: ColumnType = { key: { type: 'uuid' }, min: 1, max: 1, kind: 'scalar' };

function fail(what: string): never {
  throw new OvsdbProtocolError(`malformed database schema: ${what}`);
}

function parseBase(json: unknown, where: string): BaseType {
  if (typeof json === 'string') {
    if (!ATOMIC.has(json)) fail(`${where}: unknown atomic type "${json}"`);
    return { type: json as AtomicType };
  }
  if (json === null || typeof json !== 'object') fail(`${where}: base type is neither a string nor an object`);
  const b = json as { type?: unknown; refTable?: unknown };
  if (typeof b.type !== 'string' || !ATOMIC.has(b.type)) fail(`${where}: unknown atomic type ${JSON.stringify(b.type)}`);
  return typeof b.refTable === 'string' ? { type: b.type as AtomicType, refTable: b.refTable } : { type: b.type as AtomicType };
}

function parseType(json: unknown, where: string): ColumnType {
  if (typeof json === 'string') return { key: parseBase(json, where), min: 1, max: 1, kind: 'scalar' };
  if (json === null || typeof json !== 'object') fail(`${where}: type is neither a string nor an object`);
  const t = json as { key?: unknown; value?: unknown; min?: unknown; max?: unknown };
  const key = parseBase(t.key, where);
  const value = t.value === undefined ? undefined : parseBase(t.value, where);
  const min = t.min === undefined ? 1 : t.min;
  const max = t.max === undefined ? 1 : t.max === 'unlimited' ? Infinity : t.max;
  if (typeof min !== 'number' || typeof max !== 'number' || min < 0 || min > 1 || max < 1 || min > max) {
    fail(`${where}: bad min/max ${JSON.stringify(t.min)}/${JSON.stringify(t.max)}`);
  }
  const kind: ColumnKind = value ? 'map' : max > 1 ? 'set' : min === 1 ? 'scalar' : 'optional';
  return value ? { key, value, min, max, kind } : { key, min, max, kind };
}

/** Parses a <database-schema> (RFC 7047 §3.2) as get_schema or the _Server database return it. */
export function parseSchema(json: unknown): DatabaseSchema {
  if (json === null || typeof json !== 'object') fail('not an object');
  const s = json as { name?: unknown; version?: unknown; tables?: unknown };
  if (typeof s.name !== 'string') fail('no name');
  if (s.tables === null || typeof s.tables !== 'object') fail(`${s.name}: no tables`);
  const tables = new Map<string, TableSchema>();
  for (const [tableName, tableJson] of Object.entries(s.tables as Record<string, unknown>)) {
    const cols = (tableJson as { columns?: unknown } | null)?.columns;
    if (cols === null || typeof cols !== 'object') fail(`table ${tableName} has no columns`);
    const columns = new Map<string, ColumnType>([
      ['_uuid', UUID_COLUMN],
      ['_version', UUID_COLUMN],
    ]);
    for (const [columnName, columnJson] of Object.entries(cols as Record<string, unknown>)) {
      columns.set(columnName, parseType((columnJson as { type?: unknown } | null)?.type, `${tableName}.${columnName}`));
    }
    tables.set(tableName, { name: tableName, columns });
  }
  return { name: s.name, version: typeof s.version === 'string' ? s.version : '', tables };
}
