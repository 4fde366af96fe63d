/**
 * OVSDB values <-> plain JavaScript, driven by the column's type from the
 * schema (RFC 7047 §5.1): the wire form alone is ambiguous (a one-element set
 * is sent as a bare atom), the column type is not.
 *
 * Read side: an atom is a string, number or boolean (a uuid is its string);
 * a column is shown by its kind (see ColumnKind): the atom, the atom or null,
 * an array, or a Map. Write side: see WriteValue.
 *
 * Pure: no I/O, no knowledge of tables or operations (operations.ts and
 * replica.ts build on it).
 */

import { OvsdbProtocolError } from './errors';
import type { BaseType, ColumnType } from './schema';

/** Read side: one atom; a uuid is its string. */
export type Atom = string | number | boolean;
/** Read side: a column's value, shaped by its kind (see ColumnKind): the atom, the atom or null, an array, or a Map. */
export type Value = Atom | null | readonly Atom[] | ReadonlyMap<Atom, Atom>;

/** The name of a row inserted earlier in the same transaction (RFC 7047 <named-uuid>). */
export class NamedUuid {
  constructor(readonly name: string) {
    if (!/^[_a-zA-Z][_a-zA-Z0-9]*$/.test(name)) {
      throw new TypeError(`"${name}" is not a valid uuid-name: use letters, digits and _, not starting with a digit`);
    }
  }
}

/** Shorthand for `new NamedUuid(name)`. */
export function namedUuid(name: string): NamedUuid {
  return new NamedUuid(name);
}

/**
 * Write side: what a transaction accepts for a column. Besides the read-side
 * shapes, a uuid column takes a NamedUuid, any set or optional column takes a
 * single atom or null (empty), and a map with string keys may be a plain
 * object.
 */
export type WriteAtom = Atom | NamedUuid;
export type WriteValue =
  | WriteAtom
  | null
  | readonly WriteAtom[]
  | ReadonlyMap<WriteAtom, WriteAtom>
  | Readonly<Record<string, WriteAtom>>;

export const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

const EMPTY_SET: readonly Atom[] = Object.freeze([]);
const EMPTY_MAP: ReadonlyMap<Atom, Atom> = new Map();

/** The value a column has when a row update omits it (update2 omits default values). */
export function defaultValue(type: ColumnType): Value {
  switch (type.kind) {
    case 'map':
      return EMPTY_MAP;
    case 'set':
      return EMPTY_SET;
    case 'optional':
      return null;
    case 'scalar':
      return defaultAtom(type.key);
  }
}

function defaultAtom(base: BaseType): Atom {
  switch (base.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
  }
}

function bad(what: string, json: unknown): never {
  const text = JSON.stringify(json);
  throw new OvsdbProtocolError(`${what}: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`);
}

export function decodeAtom(base: BaseType, json: unknown): Atom {
  switch (base.type) {
    case 'string':
      if (typeof json === 'string') return json;
      break;
    case 'integer':
      if (typeof json === 'number' && Number.isInteger(json)) return json;
      break;
    case 'real':
      if (typeof json === 'number') return json;
      break;
    case 'boolean':
      if (typeof json === 'boolean') return json;
      break;
    case 'uuid':
      if (Array.isArray(json) && json.length === 2 && json[0] === 'uuid' && typeof json[1] === 'string') return json[1];
      break;
  }
  return bad(`expected an atom of type ${base.type}`, json);
}

function isWireSet(json: unknown): json is ['set', unknown[]] {
  return Array.isArray(json) && json[0] === 'set' && json.length === 2 && Array.isArray(json[1]);
}

/** The elements of a set-typed datum, which the wire may send as a bare atom. */
function setElements(json: unknown): readonly unknown[] {
  return isWireSet(json) ? json[1] : [json];
}

function mapPairs(json: unknown): readonly unknown[] {
  if (Array.isArray(json) && json[0] === 'map' && json.length === 2 && Array.isArray(json[1])) return json[1];
  return bad('expected a map', json);
}

export function decodeDatum(type: ColumnType, json: unknown): Value {
  switch (type.kind) {
    case 'scalar': {
      const els = setElements(json);
      if (els.length !== 1) bad('expected exactly one value', json);
      return decodeAtom(type.key, els[0]);
    }
    case 'optional': {
      const els = setElements(json);
      if (els.length > 1) bad('expected at most one value', json);
      return els.length === 0 ? null : decodeAtom(type.key, els[0]);
    }
    case 'set': {
      const els = setElements(json);
      if (els.length === 0) return EMPTY_SET;
      const out = new Array<Atom>(els.length);
      for (let i = 0; i < els.length; i++) out[i] = decodeAtom(type.key, els[i]);
      return out;
    }
    case 'map': {
      const pairs = mapPairs(json);
      const out = new Map<Atom, Atom>();
      for (const pair of pairs) {
        if (!Array.isArray(pair) || pair.length !== 2) bad('expected a [key, value] pair', pair);
        out.set(decodeAtom(type.key, pair[0]), decodeAtom(type.value!, pair[1]));
      }
      return out;
    }
  }
}

/**
 * Applies an update2 "modify" diff (ovsdb-server(7) §4.1.14) to the old value:
 * a column of at most one value gets the new value; a set gets the symmetric
 * difference; a map deletes a key sent with its current value and inserts or
 * updates any other. Linear in the sizes of old and diff.
 */
export function applyDiff(type: ColumnType, old: Value, diff: unknown): Value {
  switch (type.kind) {
    case 'scalar':
    case 'optional':
      return decodeDatum(type, diff);
    case 'set': {
      const toggled = new Set<Atom>();
      for (const el of setElements(diff)) {
        const atom = decodeAtom(type.key, el);
        if (toggled.has(atom)) toggled.delete(atom);
        else toggled.add(atom);
      }
      const out: Atom[] = [];
      for (const atom of old as readonly Atom[]) {
        if (toggled.has(atom)) toggled.delete(atom);
        else out.push(atom);
      }
      for (const atom of toggled) out.push(atom);
      return out.length === 0 ? EMPTY_SET : out;
    }
    case 'map': {
      const out = new Map(old as ReadonlyMap<Atom, Atom>);
      for (const pair of mapPairs(diff)) {
        if (!Array.isArray(pair) || pair.length !== 2) bad('expected a [key, value] pair', pair);
        const key = decodeAtom(type.key, pair[0]);
        const value = decodeAtom(type.value!, pair[1]);
        if (out.has(key) && out.get(key) === value) out.delete(key);
        else out.set(key, value);
      }
      return out.size === 0 ? EMPTY_MAP : out;
    }
  }
}

/** A value given for a column does not fit its type; thrown before anything is sent. */
export class DatumTypeError extends TypeError {
  override readonly name = 'DatumTypeError';
}

export function encodeAtom(base: BaseType, value: WriteAtom, where: string): unknown {
  switch (base.type) {
    case 'uuid':
      if (value instanceof NamedUuid) return ['named-uuid', value.name];
      if (typeof value === 'string' && UUID_PATTERN.test(value)) return ['uuid', value];
      break;
    case 'string':
      if (typeof value === 'string') return value;
      break;
    case 'integer':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      break;
    case 'real':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      break;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      break;
  }
  const shown = value instanceof NamedUuid ? `named-uuid ${value.name}` : JSON.stringify(value);
  throw new DatumTypeError(`${where}: ${shown} is not a valid ${base.type}`);
}

function isMapLike(value: WriteValue): value is ReadonlyMap<WriteAtom, WriteAtom> | Readonly<Record<string, WriteAtom>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof NamedUuid);
}

export function encodeMap(type: ColumnType, value: WriteValue, where: string): unknown {
  if (!isMapLike(value)) throw new DatumTypeError(`${where}: expected a Map or an object for a map column`);
  const entries: Iterable<[WriteAtom, WriteAtom]> = value instanceof Map ? value.entries() : Object.entries(value);
  const pairs: unknown[] = [];
  for (const [k, v] of entries) pairs.push([encodeAtom(type.key, k, where), encodeAtom(type.value!, v, where)]);
  return ['map', pairs];
}

export function encodeSet(base: BaseType, value: WriteValue, where: string): unknown {
  if (value === null) return ['set', []];
  if (Array.isArray(value)) return ['set', (value as readonly WriteAtom[]).map((v) => encodeAtom(base, v, where))];
  if (isMapLike(value)) throw new DatumTypeError(`${where}: expected an atom or an array, not a map`);
  return encodeAtom(base, value as WriteAtom, where);
}

/** Encodes a value for a column of `type`, e.g. in an insert's or update's row. */
export function encodeDatum(type: ColumnType, value: WriteValue, where: string): unknown {
  if (type.kind === 'map') return encodeMap(type, value, where);
  if (type.kind === 'scalar' && (value === null || Array.isArray(value))) {
    throw new DatumTypeError(`${where}: the column holds exactly one ${type.key.type}`);
  }
  return encodeSet(type.key, value, where);
}
