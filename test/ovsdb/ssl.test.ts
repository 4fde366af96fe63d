import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { namedUuid, OvsdbClient, type TlsFiles } from '../../src/ovsdb';
import { makePki, type Pki } from '../helpers/certs';
import { captureLogs, SCHEMAS, startOvsdbServer, type OvsdbServer } from '../helpers/ovsdb-server';
import { tempDir } from '../helpers/server';

let dir: ReturnType<typeof tempDir>;
let pki: Pki;
let rogue: Pki;
const servers: OvsdbServer[] = [];
beforeAll(() => {
  dir = tempDir('ovsdb-');
  pki = makePki(dir.path, 'good');
  rogue = makePki(dir.path, 'rogue');
});
afterAll(() => dir?.remove());

const clients: OvsdbClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function sslServer(serverPki: Pki, name: string): Promise<OvsdbServer> {
  const s = await startOvsdbServer({ dir: dir.path, schema: SCHEMAS.sb, name, ssl: serverPki });
  servers.push(s);
  return s;
}

function client(remote: string, tls: TlsFiles, logger = captureLogs().logger): OvsdbClient {
  const c = new OvsdbClient({ database: 'OVN_Southbound', remotes: remote, tls, tables: { Chassis: { columns: ['name'] } }, logger, backoff: { minMs: 50, maxMs: 200 } });
  clients.push(c);
  return c;
}

const files = (p: Pki): TlsFiles => ({ privateKey: p.clientKey, certificate: p.clientCert, caCert: p.caCert });

/** A server certificate from `p`'s CA for a name that is not the address the client dials. */
function certForOtherName(p: Pki): Pki {
  const f = (s: string) => join(p.dir, `other-${s}`);
  writeFileSync(f('ext'), 'subjectAltName=DNS:sb.example.invalid\nextendedKeyUsage=serverAuth\n');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: p.dir, stdio: 'pipe' });
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=sb.example.invalid', '-keyout', f('key.pem'), '-out', f('csr.pem'));
  openssl('x509', '-req', '-in', f('csr.pem'), '-CA', p.caCert, '-CAkey', p.caCert.replace(/\.pem$/, '.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext'), '-out', f('cert.pem'));
  return { ...p, serverCert: f('cert.pem'), serverKey: f('key.pem') };
}

describe('ssl remotes', () => {
  it('replicates and writes over SSL with the key, certificate and CA files', async () => {
    const s = await sslServer(pki, 'ok');
    const c = client(s.ssl!, files(pki));
    await c.ready({ timeoutMs: 10_000 });
    await c.transact([
      { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: '10.0.0.1', chassis_name: 'hv1' }, uuidName: 'e' },
      { op: 'insert', table: 'Chassis', row: { name: 'hv1', encaps: [namedUuid('e')] } },
    ]);
    await c.waitFor(() => c.rows('Chassis').size === 1, { timeoutMs: 5000 });
  });

  it('does not check the server\'s host name, as OVS does not: the CA is the trust anchor', async () => {
    const s = await sslServer(certForOtherName(pki), 'othername');
    const c = client(s.ssl!, files(pki));
    await c.ready({ timeoutMs: 10_000 });
  });

  it('refuses a server whose certificate another CA signed, and says why', async () => {
    const s = await sslServer(rogue, 'rogue');
    const logs = captureLogs();
    const c = client(s.ssl!, files(pki), logs.logger);
    c.start();
    const lines = await logs.until((ls) => ls.some((l) => /not signed by the CA in --ca-cert/.test(String(l.reason))));
    expect(c.isSynced).toBe(false);
    expect(lines.find((l) => l.reason)!.remote).toBe(s.ssl);
  });

  it('is refused by a server that does not trust its certificate', async () => {
    const s = await sslServer(pki, 'strict');
    const logs = captureLogs();
    // Trusts the server, but presents a certificate the server's CA did not sign.
    const c = client(s.ssl!, { privateKey: rogue.clientKey, certificate: rogue.clientCert, caCert: pki.caCert }, logs.logger);
    c.start();
    await logs.until((ls) => ls.some((l) => /the server rejected our certificate/.test(String(l.reason))));
    expect(c.isSynced).toBe(false);
    await s.waitLog(/SSL_accept: .*certificate verify failed/);
  });

  it('reports a missing TLS file when connecting, and keeps retrying', async () => {
    const s = await sslServer(pki, 'nofile');
    const logs = captureLogs();
    const c = client(s.ssl!, { ...files(pki), privateKey: join(dir.path, 'absent.key') }, logs.logger);
    c.start();
    await logs.until((ls) => ls.some((l) => /cannot read the TLS files .*absent\.key/.test(String(l.reason))));
  });
});
