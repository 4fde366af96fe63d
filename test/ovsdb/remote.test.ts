import { describe, expect, it } from 'vitest';

import { OvsdbConfigError, parseRemote, parseRemotes } from '../../src/ovsdb';

describe('parseRemotes', () => {
  it('reads the three active methods as OVS writes them', () => {
    expect(parseRemote('unix:/run/ovn/ovnsb_db.sock')).toEqual({ kind: 'unix', path: '/run/ovn/ovnsb_db.sock', name: 'unix:/run/ovn/ovnsb_db.sock' });
    expect(parseRemote('tcp:192.0.2.7:6642')).toEqual({ kind: 'tcp', host: '192.0.2.7', port: 6642, name: 'tcp:192.0.2.7:6642' });
    expect(parseRemote('ssl:[fd00::7]:6642')).toEqual({ kind: 'ssl', host: 'fd00::7', port: 6642, name: 'ssl:[fd00::7]:6642' });
    expect(parseRemote('ssl:ovn-central.example:6642')).toMatchObject({ kind: 'ssl', host: 'ovn-central.example', port: 6642 });
  });

  it('defaults the port to 6640 and resolves a relative unix path in the run directory, as OVS does', () => {
    expect(parseRemote('tcp:10.0.0.1')).toMatchObject({ port: 6640 });
    expect(parseRemote('ssl:[::1]')).toMatchObject({ host: '::1', port: 6640, name: 'ssl:[::1]:6640' });
    expect(parseRemote('unix:db.sock', { rundir: '/var/run/openvswitch' })).toMatchObject({ path: '/var/run/openvswitch/db.sock' });
  });

  it('reads the comma-separated members of a clustered database in order', () => {
    const remotes = parseRemotes('ssl:10.0.0.1:6642, ssl:10.0.0.2:6642,ssl:[fd00::3]:6642');
    expect(remotes.map((r) => r.name)).toEqual(['ssl:10.0.0.1:6642', 'ssl:10.0.0.2:6642', 'ssl:[fd00::3]:6642']);
  });

  it.each([
    ['', 'it is empty'],
    ['10.0.0.1:6642', 'no method prefix'],
    ['http://10.0.0.1', '"http:" is not a connection method'],
    ['ptcp:6642', 'listening (passive) remote'],
    ['punix:/run/db.sock', 'a client connects with unix:'],
    ['tcp:::1:6642', 'must be written in brackets'],
    ['tcp:[::1:6642', 'not closed'],
    ['tcp:[10.0.0.1]:6642', 'not an IPv6 address'],
    ['tcp:10.0.0.1:0', 'not a port number'],
    ['tcp:10.0.0.1:65536', 'not a port number'],
    ['tcp:10.0.0.1:66x', 'not a port number'],
    ['tcp::6642', 'the host is empty'],
    ['tcp:bad_host!:6642', 'neither an IP address nor a host name'],
    ['unix:', 'socket path is empty'],
    ['tcp:10.0.0.1:6642,,tcp:10.0.0.2:6642', 'empty member'],
    ['tcp:10.0.0.1:6642,tcp:10.0.0.1:6642', 'listed twice'],
  ])('rejects %j with a message that says why and what OVS syntax is expected', (text, why) => {
    let err: unknown;
    try {
      parseRemotes(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OvsdbConfigError);
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).toContain('expected unix:PATH, tcp:IP:PORT or ssl:IP:PORT');
  });
});
