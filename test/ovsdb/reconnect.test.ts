import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { namedUuid, OvsdbClient, OvsdbNotConnectedError, OvsdbOutcomeUnknownError, type OvsdbClientOptions } from '../../src/ovsdb';
import { captureLogs, nextEvent, ovsEnv, SCHEMAS, startOvsdbServer, type OvsdbServer } from '../helpers/ovsdb-server';
import { tempDir } from '../helpers/server';

let dir: ReturnType<typeof tempDir>;
let server: OvsdbServer;
const clients: OvsdbClient[] = [];
beforeEach(async () => {
  dir = tempDir('ovsdb-');
  server = await startOvsdbServer({ dir: dir.path, schema: SCHEMAS.sb });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  if (server.running) process.kill(server.pid, 'SIGCONT');
  await server.stop('SIGKILL');
  dir.remove();
});

function client(options: Partial<OvsdbClientOptions> = {}): OvsdbClient {
  const c = new OvsdbClient({
    database: 'OVN_Southbound',
    remotes: server.unix,
    tables: { Chassis: { columns: ['name'] } },
    backoff: { minMs: 50, maxMs: 200 },
    ...options,
  });
  clients.push(c);
  return c;
}

/** Wire-format operations (for ovsdb-client and ovsdb-tool) that add a chassis and its encap. */
const addChassis = (name: string) => [
  { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: `ip-${name}`, chassis_name: name }, 'uuid-name': `e_${name}` },
  { op: 'insert', table: 'Chassis', row: { name, encaps: ['named-uuid', `e_${name}`] } },
];
const names = (c: OvsdbClient) => [...c.rows('Chassis').values()].map((r) => r.name as string).sort();

/** A wait that blocks in the server until a chassis named `never` exists: a transaction in flight for as long as we like. */
const blockingWait = { op: 'wait', table: 'Chassis', where: [], columns: ['name'], until: '==', rows: [{ name: 'never' }], timeout: 60_000 } as const;

describe.each(['SIGTERM', 'SIGKILL'] as const)('a server stopped with %s and restarted', (signal) => {
  it('is reported as a disconnect, then a resync that holds what changed meanwhile', async () => {
    const c = client();
    await c.ready({ timeoutMs: 5000 });
    await server.transact([...addChassis('a'), ...addChassis('b')]);
    await c.waitFor(() => names(c).length === 2, { timeoutMs: 5000 });

    const disconnected = nextEvent(c, 'disconnect');
    await server.stop(signal);
    expect((await disconnected).remote).toBe(server.unix);
    expect(c.isSynced).toBe(false);
    await expect(c.transact([{ op: 'comment', comment: 'x' }])).rejects.toThrow(OvsdbNotConnectedError);

    // While it is down, the database changes behind the client's back.
    await server.transactOffline([{ op: 'delete', table: 'Chassis', where: [['name', '==', 'b']] }, ...addChassis('c')]);
    const resynced = nextEvent(c, 'resync');
    await server.start();
    expect(await resynced).toMatchObject({ remote: server.unix, reconnect: true, method: 'monitor_cond' });
    expect(names(c)).toEqual(['a', 'c']);
    await c.transact([{ op: 'comment', comment: 'back' }]);
  });
});

describe('reconnect', () => {
  it('rejects a transaction in flight when the server is killed with "outcome unknown", then works again', async () => {
    const c = client();
    await c.ready({ timeoutMs: 5000 });
    const inFlight = c.transact([blockingWait]).catch((e: unknown) => e);
    const resynced = nextEvent(c, 'resync');
    await server.stop('SIGKILL');
    const err = await inFlight;
    expect(err).toBeInstanceOf(OvsdbOutcomeUnknownError);
    expect((err as Error).message).toMatch(/ended before the transaction's reply .* may or may not have committed/);
    await server.start();
    await resynced;
    const r = await c.transact([
      { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: '10.0.0.9', chassis_name: 'after' }, uuidName: 'e' },
      { op: 'insert', table: 'Chassis', row: { name: 'after', encaps: [namedUuid('e')] } },
    ]);
    expect(r.results).toHaveLength(2);
  });

  it('moves on to the next remote when one is dead', async () => {
    const c = client({ remotes: `unix:${dir.path}/nobody.sock,${server.unix}`, shuffleRemotes: false });
    await c.ready({ timeoutMs: 5000 });
    expect(c.remote).toBe(server.unix);
  });

  it('drops a connection whose server stops answering (inactivity probe), and resyncs once it answers again', async () => {
    const c = client({ probeIntervalMs: 200 });
    await c.ready({ timeoutMs: 5000 });
    const disconnected = nextEvent(c, 'disconnect', 5000);
    process.kill(server.pid, 'SIGSTOP');
    try {
      expect((await disconnected).reason).toMatch(/no response to inactivity probe after 0\.\d s, disconnecting/);
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    await nextEvent(c, 'resync', 5000);
  });

  it('backs off between attempts at a dead server instead of spinning, and resumes when it is back', async () => {
    const logs = captureLogs();
    const c = client({ logger: logs.logger });
    await c.ready({ timeoutMs: 5000 });
    await server.stop('SIGKILL');
    const retries = (lines: Record<string, unknown>[]) => lines.filter((l) => l.retryInMs !== undefined).map((l) => l.retryInMs as number);
    const waits = retries(await logs.until((lines) => retries(lines).length >= 6, 5000));
    // One remote: no free try; waits double from 50 to 200 ms, each jittered down by at most half.
    expect(waits[0]).toBeGreaterThanOrEqual(25);
    for (const w of waits) expect(w).toBeLessThanOrEqual(200);
    expect(waits.slice(3).every((w) => w >= 100)).toBe(true);
    const resynced = nextEvent(c, 'resync');
    await server.start();
    await resynced;
  });
});

describe('conditions across reconnects', () => {
  it('uses a condition set while disconnected in the next monitor, and resolves once that replica is loaded', async () => {
    await server.transact([...addChassis('x'), ...addChassis('y')]);
    const c = client({ tables: { Chassis: { columns: ['name'], where: [['name', '==', 'x']] } } });
    const early = c.setCondition('Chassis', [['name', '==', 'y']]); // before the first connection
    await c.ready({ timeoutMs: 5000 });
    await early;
    expect(names(c)).toEqual(['y']);

    const disconnected = nextEvent(c, 'disconnect');
    await server.stop('SIGKILL');
    await disconnected;
    let applied = false;
    const changed = c.setCondition('Chassis', [['name', '==', 'x']]).then(() => (applied = true));
    await server.start();
    await changed;
    expect(applied).toBe(true);
    expect(names(c)).toEqual(['x']);
  });
});

describe('database changes and shutdown', () => {
  it('resyncs when the server cancels its monitor because the database was converted online', async () => {
    const logs = captureLogs();
    const c = client({ logger: logs.logger });
    await c.ready({ timeoutMs: 5000 });
    await server.transact(addChassis('kept'));
    await c.waitFor(() => names(c).includes('kept'), { timeoutMs: 5000 });
    const resynced = nextEvent(c, 'resync');
    // What an OVN upgrade does to a running database: ovsdb-server cancels every monitor of it.
    await promisify(execFile)('ovsdb-client', ['convert', server.unix, SCHEMAS.sb], { env: ovsEnv(dir.path) });
    expect((await resynced).reconnect).toBe(true);
    expect(names(c)).toEqual(['kept']);
    expect(logs.lines.some((l) => /the server canceled the monitor of OVN_Southbound/.test(String(l.reason)))).toBe(true);
  });

  it('stops a connection attempt in progress when closed', async () => {
    const c = client({ remotes: 'tcp:192.0.2.1:6640' });
    c.start();
    const waiting = c.ready().catch((e: unknown) => e);
    await c.close();
    expect(await waiting).toBeInstanceOf(OvsdbNotConnectedError);
  });
});
