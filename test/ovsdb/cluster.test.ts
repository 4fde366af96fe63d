import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { namedUuid, OvsdbClient, type OvsdbClientOptions } from '../../src/ovsdb';
import { nextEvent, SCHEMAS, startOvsdbCluster, type OvsdbCluster, type OvsdbServer } from '../helpers/ovsdb-server';
import { tempDir } from '../helpers/server';

let dir: ReturnType<typeof tempDir>;
let cluster: OvsdbCluster;
beforeAll(async () => {
  dir = tempDir('ovsdb-');
  cluster = await startOvsdbCluster({ dir: dir.path, schema: SCHEMAS.sb, size: 3 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  dir?.remove();
});

const clients: OvsdbClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  // Every test leaves the whole cluster up for the next.
  for (const m of cluster.members) if (!m.running) await m.start();
  await cluster.waitConnected();
});

function client(options: Partial<OvsdbClientOptions> = {}): OvsdbClient {
  const c = new OvsdbClient({
    database: 'OVN_Southbound',
    remotes: cluster.remotes,
    tables: { Chassis: { columns: ['name'] } },
    backoff: { minMs: 50, maxMs: 400 },
    ...options,
  });
  clients.push(c);
  return c;
}

function memberOf(c: OvsdbClient): OvsdbServer {
  return cluster.members.find((m) => m.unix === c.remote)!;
}

async function addChassis(c: OvsdbClient, name: string): Promise<void> {
  await c.transact([
    { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: `ip-${name}`, chassis_name: name }, uuidName: 'e' },
    { op: 'insert', table: 'Chassis', row: { name, encaps: [namedUuid('e')] } },
  ]);
}

/**
 * Waits until the running members have a leader and each is connected to
 * the cluster, then until `c` is synced. A member may serve a client for a
 * moment before it notices that its leader is gone and an election starts: a
 * write sent then is cut off with the session, or is interrupted after it
 * committed and retried by ovsdb-server itself (a commit that ends in a
 * "cluster error" is run again, ovsdb/trigger.c), which then reports a
 * constraint violation against the row the first attempt inserted.
 */
async function settled(c: OvsdbClient): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const leader = await cluster.leader().catch((err: Error) => err);
    if (!(leader instanceof Error)) break;
    if (Date.now() > deadline) throw new Error(`no leader among the running members after 20 s: ${leader.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await cluster.waitConnected();
  await c.ready({ timeoutMs: 10_000 });
}

const names = (c: OvsdbClient) => [...c.rows('Chassis').values()].map((r) => r.name as string).sort();

describe('a clustered database', () => {
  it('fails over to another member when the one it reads from is killed with -9, data intact, writes still committing', async () => {
    const c = client();
    await c.ready({ timeoutMs: 10_000 });
    await addChassis(c, 'before');
    await c.waitFor(() => names(c).includes('before'), { timeoutMs: 5000 });
    const first = memberOf(c);
    const disconnected = nextEvent(c, 'disconnect');
    const resynced = nextEvent(c, 'resync', 15_000);
    await first.stop('SIGKILL');
    expect((await disconnected).remote).toBe(first.unix);
    const resync = await resynced;
    expect(resync.reconnect).toBe(true);
    expect(resync.remote).not.toBe(first.unix);
    expect(names(c)).toContain('before');
    await settled(c);
    await addChassis(c, 'after');
    await c.waitFor(() => names(c).includes('after'), { timeoutMs: 5000 });
  });

  it('leaves a member cut off from the cluster (no quorum), and resyncs once the cluster is back', async () => {
    const c = client();
    await c.ready({ timeoutMs: 10_000 });
    const kept = memberOf(c);
    const disconnected = nextEvent(c, 'disconnect', 15_000);
    await Promise.all(cluster.members.filter((m) => m !== kept).map((m) => m.stop('SIGKILL')));
    // The kept member still serves, but says in _Server.Database that it lost the cluster.
    expect((await disconnected).reason).toMatch(/clustered database server is disconnected from the cluster/);
    expect(c.isSynced).toBe(false);
    const resynced = nextEvent(c, 'resync', 20_000);
    for (const m of cluster.members) if (!m.running) await m.start();
    expect((await resynced).reconnect).toBe(true);
    await settled(c);
    await addChassis(c, 'quorum-again');
    await c.waitFor(() => names(c).includes('quorum-again'), { timeoutMs: 5000 });
  });

  it('with leaderOnly, reads only from the leader', async () => {
    const c = client({ leaderOnly: true });
    await c.ready({ timeoutMs: 10_000 });
    expect(c.remote).toBe((await cluster.leader()).unix);
  });
});
