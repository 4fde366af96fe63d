/**
 * The client's copy of the monitored tables, and the decoding of rows from
 * the wire (see Replica). It must not know where updates come from: the
 * session feeds it, the client reads it.
 */

import { applyDiff, decodeDatum, defaultValue, type Value } from './datum';
import { OvsdbProtocolError } from './errors';
import type { ColumnType, DatabaseSchema, TableSchema } from './schema';

/** A row as the replica holds it: its uuid and the monitored columns, decoded (see ColumnKind). */
export interface Row {
  readonly _uuid: string;
  readonly [column: string]: Value;
}

export interface ModifiedRow<R extends Row = Row> {
  readonly old: R;
  readonly new: R;
}

/** What one update did to one table. */
export interface TableChange<R extends Row = Row> {
  readonly inserted: readonly R[];
  readonly modified: readonly ModifiedRow<R>[];
  readonly deleted: readonly R[];
}

/** Table name -> what changed in it, for the tables an update touched. */
export type ChangeSet = ReadonlyMap<string, TableChange>;

/** The wire format of updates: `update` (monitor) or `update2` (monitor_cond). */
export type UpdateVersion = 1 | 2;

interface MonitoredTable {
  readonly schema: TableSchema;
  /** The monitored columns (name and type), in the order of the monitor request. */
  readonly columns: ReadonlyMap<string, ColumnType>;
  /** Every monitored column at its default value: what an update2 insert omits. */
  readonly defaults: Readonly<Record<string, Value>>;
  readonly rows: Map<string, Row>;
}

interface MutableChange {
  inserted: Row[];
  modified: ModifiedRow[];
  deleted: Row[];
}

const NO_ROWS: ReadonlyMap<string, Row> = new Map();

/**
 * The client's copy of the monitored tables: rows by uuid, kept up to date by
 * applying the server's updates (RFC 7047 §4.1.6 `update`, ovsdb-server(7)
 * §4.1.14 `update2`). Pure: no I/O. A modified row is a new object (the old
 * one stays valid for whoever holds it); nothing else is copied, so an update
 * costs what it changes, not the size of the replica.
 */
export class Replica {
  private readonly tables = new Map<string, MonitoredTable>();

  /** `monitored`: table -> the columns replicated (each must exist in the schema). */
  constructor(schema: DatabaseSchema, monitored: ReadonlyMap<string, readonly string[]>) {
    for (const [name, columnNames] of monitored) {
      const table = schema.tables.get(name);
      if (!table) throw new Error(`schema ${schema.name} has no table ${name}`);
      const columns = new Map<string, ColumnType>();
      const defaults: Record<string, Value> = {};
      for (const c of columnNames) {
        const type = table.columns.get(c);
        if (!type) throw new Error(`table ${name} has no column ${c}`);
        columns.set(c, type);
        defaults[c] = defaultValue(type);
      }
      this.tables.set(name, { schema: table, columns, defaults, rows: new Map() });
    }
  }

  /** The rows of a monitored table by uuid (empty for a table not monitored). */
  rows(table: string): ReadonlyMap<string, Row> {
    return this.tables.get(table)?.rows ?? NO_ROWS;
  }

  /** Applies a <table-updates> (version 1) or <table-updates2> (version 2) object; returns what changed. */
  apply(version: UpdateVersion, tableUpdates: unknown): ChangeSet {
    if (!isObject(tableUpdates)) throw new OvsdbProtocolError('<table-updates> is not an object');
    const changes = new Map<string, TableChange>();
    for (const tableName in tableUpdates) {
      const table = this.tables.get(tableName);
      if (!table) continue;
      const rowUpdates = tableUpdates[tableName];
      if (!isObject(rowUpdates)) throw new OvsdbProtocolError(`<table-update> for ${tableName} is not an object`);
      const change: MutableChange = { inserted: [], modified: [], deleted: [] };
      for (const uuid in rowUpdates) {
        const update = rowUpdates[uuid];
        if (!isObject(update)) throw new OvsdbProtocolError(`<row-update> for ${tableName} ${uuid} is not an object`);
        if (version === 2) this.applyRow2(table, uuid, update, change);
        else this.applyRow1(table, uuid, update, change);
      }
      if (change.inserted.length + change.modified.length + change.deleted.length > 0) changes.set(tableName, change);
    }
    return changes;
  }

  private applyRow2(table: MonitoredTable, uuid: string, update: Record<string, unknown>, change: MutableChange): void {
    const op = onlyKey(update, table.schema.name, uuid);
    const body = update[op];
    switch (op) {
      case 'initial':
      case 'insert':
        this.insert(table, uuid, body, change);
        return;
      case 'delete':
        this.delete(table, uuid, change);
        return;
      case 'modify': {
        const old = this.existing(table, uuid, 'modify');
        if (!isObject(body)) throw new OvsdbProtocolError(`modify of ${table.schema.name} ${uuid} is not an object`);
        const row: Record<string, Value> = { ...old };
        for (const column in body) {
          const type = table.columns.get(column);
          if (type) row[column] = applyDiff(type, old[column] ?? defaultValue(type), body[column]);
        }
        this.replace(table, uuid, old, row as Row, change);
        return;
      }
      default:
        throw new OvsdbProtocolError(`<row-update2> for ${table.schema.name} ${uuid} has unknown member "${op}"`);
    }
  }

  private applyRow1(table: MonitoredTable, uuid: string, update: Record<string, unknown>, change: MutableChange): void {
    const hasNew = update.new !== undefined;
    const hasOld = update.old !== undefined;
    if (!hasNew && !hasOld) throw new OvsdbProtocolError(`<row-update> for ${table.schema.name} ${uuid} has neither "old" nor "new"`);
    if (!hasNew) {
      this.delete(table, uuid, change);
    } else if (!hasOld || !table.rows.has(uuid)) {
      this.insert(table, uuid, update.new, change);
    } else {
      const old = this.existing(table, uuid, 'modify');
      // "new" carries every monitored column of the row.
      this.replace(table, uuid, old, this.decode(table, uuid, update.new, old), change);
    }
  }

  private insert(table: MonitoredTable, uuid: string, body: unknown, change: MutableChange): void {
    const row = this.decode(table, uuid, body, table.defaults);
    const old = table.rows.get(uuid);
    if (old) {
      this.replace(table, uuid, old, row, change);
      return;
    }
    table.rows.set(uuid, row);
    change.inserted.push(row);
  }

  private delete(table: MonitoredTable, uuid: string, change: MutableChange): void {
    const old = table.rows.get(uuid);
    if (!old) return; // already gone: nothing a consumer could act on
    table.rows.delete(uuid);
    change.deleted.push(old);
  }

  private replace(table: MonitoredTable, uuid: string, old: Row, row: Row, change: MutableChange): void {
    table.rows.set(uuid, row);
    change.modified.push({ old, new: row });
  }

  private existing(table: MonitoredTable, uuid: string, what: string): Row {
    const old = table.rows.get(uuid);
    if (!old) throw new OvsdbProtocolError(`the server sent a ${what} of ${table.schema.name} row ${uuid}, which the replica does not have`);
    return old;
  }

  private decode(table: MonitoredTable, uuid: string, body: unknown, base: Readonly<Record<string, Value>>): Row {
    if (!isObject(body)) throw new OvsdbProtocolError(`row ${uuid} of ${table.schema.name} is not an object`);
    const row: Record<string, Value> = { ...base, _uuid: uuid };
    for (const column in body) {
      const type = table.columns.get(column);
      if (type) row[column] = decodeDatum(type, body[column]);
    }
    return row as Row;
  }
}

/** Decodes a <row> of a select result: the columns it has, typed by the table's schema. */
export function decodeRow(table: TableSchema, json: unknown): Row {
  if (!isObject(json)) throw new OvsdbProtocolError(`a row of ${table.name} is not an object`);
  const row: Record<string, Value> = {};
  for (const column in json) {
    const type = table.columns.get(column);
    if (type) row[column] = decodeDatum(type, json[column]);
  }
  return row as Row;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function onlyKey(update: Record<string, unknown>, table: string, uuid: string): string {
  let key: string | undefined;
  for (const k in update) {
    if (key !== undefined) throw new OvsdbProtocolError(`<row-update2> for ${table} ${uuid} has more than one member`);
    key = k;
  }
  if (key === undefined) throw new OvsdbProtocolError(`<row-update2> for ${table} ${uuid} is empty`);
  return key;
}
