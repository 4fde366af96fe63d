import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { OvsdbProtocolError } from '../../src/ovsdb';
import { DatumTypeError, encodeDatum, namedUuid } from '../../src/ovsdb/datum';
import { Replica } from '../../src/ovsdb/replica';
import { parseSchema } from '../../src/ovsdb/schema';
import { SCHEMAS } from '../helpers/ovsdb-server';

const sb = parseSchema(JSON.parse(readFileSync(SCHEMAS.sb, 'utf8')));
const PB = 'Port_Binding';
const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const U3 = '33333333-3333-4333-8333-333333333333';
const uuid = (u: string) => ['uuid', u];

function replica(): Replica {
  return new Replica(sb, new Map([[PB, ['logical_port', 'tunnel_key', 'chassis', 'mac', 'options', 'up']]]));
}

describe('Replica', () => {
  it('fills the columns an insert omits with their defaults, by column kind', () => {
    const r = replica();
    const changes = r.apply(2, { [PB]: { [U1]: { initial: { logical_port: 'lsp1' } } } });
    const row = r.rows(PB).get(U1)!;
    expect(row).toEqual({ _uuid: U1, logical_port: 'lsp1', tunnel_key: 0, chassis: null, mac: [], options: new Map(), up: null });
    expect(changes.get(PB)!.inserted).toEqual([row]);
  });

  it('applies modify diffs: new value for a single-valued column, symmetric difference for a set, per-key for a map', () => {
    const r = replica();
    r.apply(2, {
      [PB]: {
        [U1]: {
          insert: {
            logical_port: 'lsp1',
            chassis: uuid(U2),
            mac: ['set', ['aa', 'bb']],
            options: ['map', [['keep', '1'], ['drop', '2'], ['change', '3']]],
            up: false,
          },
        },
      },
    });
    const before = r.rows(PB).get(U1)!;
    const changes = r.apply(2, {
      [PB]: {
        [U1]: {
          modify: {
            chassis: uuid(U3),
            mac: ['set', ['bb', 'cc']],
            options: ['map', [['drop', '2'], ['change', '30'], ['new', '4']]],
            up: true,
          },
        },
      },
    });
    const after = r.rows(PB).get(U1)!;
    expect(after.chassis).toBe(U3);
    expect(after.mac).toEqual(['aa', 'cc']);
    expect(after.options).toEqual(new Map([['keep', '1'], ['change', '30'], ['new', '4']]));
    expect(after.up).toBe(true);
    expect(after.logical_port).toBe('lsp1');
    expect(changes.get(PB)!.modified).toEqual([{ old: before, new: after }]);
    // Whoever held the old row still sees it as it was.
    expect(before.mac).toEqual(['aa', 'bb']);
    expect(before.options).toEqual(new Map([['keep', '1'], ['drop', '2'], ['change', '3']]));
  });

  it('empties an optional column with an empty-set diff and deletes rows', () => {
    const r = replica();
    r.apply(2, { [PB]: { [U1]: { insert: { chassis: uuid(U2) } }, [U2]: { insert: { logical_port: 'b' } } } });
    r.apply(2, { [PB]: { [U1]: { modify: { chassis: ['set', []] } } } });
    expect(r.rows(PB).get(U1)!.chassis).toBeNull();
    const changes = r.apply(2, { [PB]: { [U2]: { delete: null } } });
    expect([...r.rows(PB).keys()]).toEqual([U1]);
    expect(changes.get(PB)!.deleted.map((row) => row.logical_port)).toEqual(['b']);
  });

  it('applies version-1 updates (monitor): "new" holds every column, "old" alone deletes', () => {
    const r = replica();
    r.apply(1, { [PB]: { [U1]: { new: { logical_port: 'lsp1', tunnel_key: 5, mac: 'aa', options: ['map', []] } } } });
    expect(r.rows(PB).get(U1)).toMatchObject({ logical_port: 'lsp1', tunnel_key: 5, mac: ['aa'] });
    r.apply(1, { [PB]: { [U1]: { old: { tunnel_key: 5 }, new: { logical_port: 'lsp1', tunnel_key: 6, mac: ['set', []], options: ['map', []] } } } });
    expect(r.rows(PB).get(U1)).toMatchObject({ tunnel_key: 6, mac: [] });
    r.apply(1, { [PB]: { [U1]: { old: { logical_port: 'lsp1' } } } });
    expect(r.rows(PB).size).toBe(0);
  });

  it('treats a modify of a row it does not have, or a malformed value, as a protocol error (the client then resyncs)', () => {
    expect(() => replica().apply(2, { [PB]: { [U1]: { modify: { tunnel_key: 1 } } } })).toThrow(OvsdbProtocolError);
    expect(() => replica().apply(2, { [PB]: { [U1]: { insert: { tunnel_key: 'one' } } } })).toThrow(/expected an atom of type integer/);
    expect(() => replica().apply(2, { [PB]: { [U1]: { insert: {}, delete: null } } })).toThrow(/more than one member/);
  });
});

describe('encodeDatum', () => {
  const col = (table: string, column: string) => sb.tables.get(table)!.columns.get(column)!;

  it('encodes by column type: atoms, sets, maps from a Map or an object, uuids and named uuids', () => {
    expect(encodeDatum(col(PB, 'logical_port'), 'lsp1', 'x')).toBe('lsp1');
    expect(encodeDatum(col(PB, 'chassis'), null, 'x')).toEqual(['set', []]);
    expect(encodeDatum(col(PB, 'chassis'), U1, 'x')).toEqual(['uuid', U1]);
    expect(encodeDatum(col('Chassis', 'encaps'), [namedUuid('e1'), U2], 'x')).toEqual(['set', [['named-uuid', 'e1'], ['uuid', U2]]]);
    expect(encodeDatum(col(PB, 'options'), { a: '1' }, 'x')).toEqual(['map', [['a', '1']]]);
    expect(encodeDatum(col(PB, 'options'), new Map([['b', '2']]), 'x')).toEqual(['map', [['b', '2']]]);
  });

  it('refuses a value that does not fit, naming the column, before anything is sent', () => {
    expect(() => encodeDatum(col(PB, 'chassis'), 'not-a-uuid', 'Port_Binding.chassis')).toThrow(DatumTypeError);
    expect(() => encodeDatum(col(PB, 'tunnel_key'), 1.5, 'Port_Binding.tunnel_key')).toThrow(/Port_Binding.tunnel_key: 1.5 is not a valid integer/);
    expect(() => encodeDatum(col(PB, 'logical_port'), null, 'lp')).toThrow(/exactly one string/);
    expect(() => encodeDatum(col(PB, 'options'), ['a'], 'opts')).toThrow(/expected a Map or an object/);
  });
});
