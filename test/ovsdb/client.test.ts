import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { namedUuid, OvsdbClient, OvsdbTransactionError, type OvsdbClientOptions, type UpdateEvent } from '../../src/ovsdb';
import { SCHEMAS, startOvsdbServer, type OvsdbServer } from '../helpers/ovsdb-server';
import { tempDir } from '../helpers/server';

let dir: ReturnType<typeof tempDir>;
let server: OvsdbServer;
beforeAll(async () => {
  dir = tempDir('ovsdb-');
  server = await startOvsdbServer({ dir: dir.path, schema: SCHEMAS.sb });
});
afterAll(async () => {
  await server?.stop();
  dir?.remove();
});

const clients: OvsdbClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(options: Partial<OvsdbClientOptions> = {}): OvsdbClient {
  const c = new OvsdbClient({ database: 'OVN_Southbound', remotes: server.unix, tables: { Chassis: {}, Encap: {} }, ...options });
  clients.push(c);
  return c;
}

describe('monitor', () => {
  it('replicates rows written by another client, decoded by column type', async () => {
    const c = client();
    await c.ready({ timeoutMs: 5000 });
    const updates: UpdateEvent[] = [];
    c.on('update', (e) => updates.push(e));
    await server.transact([
      { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: '10.0.0.1', chassis_name: 'hv1' }, 'uuid-name': 'e' },
      { op: 'insert', table: 'Chassis', row: { name: 'hv1', encaps: ['named-uuid', 'e'], external_ids: ['map', [['k', 'v']]] } },
    ]);
    await c.waitFor(() => c.rows('Chassis').size === 1, { timeoutMs: 5000 });
    const [chassis] = c.rows('Chassis').values();
    const [encap] = c.rows('Encap').values();
    expect(chassis).toMatchObject({ name: 'hv1', hostname: '', nb_cfg: 0, encaps: [encap!._uuid], transport_zones: [] });
    expect(chassis!.external_ids).toEqual(new Map([['k', 'v']]));
    expect(updates.flatMap((u) => [...u.changes.keys()]).sort()).toEqual(['Chassis', 'Encap']);
  });
});

describe('transact', () => {
  it('inserts with named uuids and reports each result', async () => {
    const c = client();
    await c.ready({ timeoutMs: 5000 });
    const r = await c.transact([
      { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: '10.0.0.2', chassis_name: 'hv2' }, uuidName: 'encap' },
      { op: 'insert', table: 'Chassis', row: { name: 'hv2', encaps: [namedUuid('encap')] }, uuidName: 'ch' },
      { op: 'select', table: 'Chassis', where: [['name', '==', 'hv2']], columns: ['name', 'encaps'] },
    ]);
    expect(r.results[2]!.rows).toEqual([{ name: 'hv2', encaps: [r.inserted.get('encap')] }]);
    expect(r.results[1]!.uuid).toBe(r.inserted.get('ch'));
  });

  it('rejects a constraint violation with the server error, and commits nothing', async () => {
    const c = client();
    await c.ready({ timeoutMs: 5000 });
    const err = await c
      .transact([
        { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: '10.0.0.3', chassis_name: 'hv3' }, uuidName: 'e' },
        { op: 'insert', table: 'Chassis', row: { name: 'hv3', encaps: [namedUuid('e')] } },
        { op: 'insert', table: 'Chassis', row: { name: 'hv3', encaps: [namedUuid('e')] } },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbTransactionError);
    expect((err as OvsdbTransactionError).error).toBe('constraint violation');
    expect((err as OvsdbTransactionError).opIndex).toBeUndefined();
    const sel = await c.transact([{ op: 'select', table: 'Chassis', where: [['name', '==', 'hv3']] }]);
    expect(sel.results[0]!.rows).toEqual([]);
  });
});
