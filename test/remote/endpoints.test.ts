import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ServerCredentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { OpType, ProviderHealth } from '../../src/gen/vifplug/v1/vifplug';
import { serveProvider, type ServedProvider } from '../../src/sdk';
import { makePki } from '../helpers/certs';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, tempDir, type TestServer } from '../helpers/server';

let t: TestServer | undefined;
let dir: ReturnType<typeof tempDir>;
const served: ServedProvider[] = [];
afterEach(async () => {
  await t?.stop();
  t = undefined;
  for (const p of served.splice(0)) await p.close();
  dir?.remove();
});

async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  dir = tempDir('vifplug-ep-');
  t = await startTestServer({ remote: {}, ...options });
  return t;
}

/** A provider of `type` served at `socket`. */
async function serveAt(type: string, socket: string): Promise<ServedProvider> {
  const p = await serveProvider({ type, preparePort: () => ({ plug: true, out: { name: 'x', type: '', ifaceOptions: new Map() } }) }, { socket });
  served.push(p);
  return p;
}

describe('Register refuses endpoints that could name another socket than meant (INVALID_ARGUMENT INVALID_ENDPOINT)', () => {
  const cases: [string, string, string][] = [
    ['a ".." component', 'unix:///run/vifplug/providers/../../../tmp/evil.sock', 'dot-segment'],
    ['a "." component', 'unix:///run/vifplug/./p.sock', 'dot-segment'],
    ['a relative path', 'unix:p.sock', 'relative'],
    ['a single-slash path', 'unix:/run/p.sock', 'relative'],
    ['a host part', 'unix://localhost/run/p.sock', 'host'],
    ['an empty path', 'unix://', 'malformed'],
    ['an empty component', 'unix:///run//p.sock', 'malformed'],
    ['a path longer than a socket path can be', `unix:///run/${'p'.repeat(120)}.sock`, 'too-long'],
    ['another scheme', 'http://localhost:8080', 'malformed'],
    ['a bare path', '/run/p.sock', 'malformed'],
    ['a port out of range', 'localhost:70000', 'malformed'],
  ];
  it.each(cases)('%s', async (_what, endpoint, problem) => {
    const s = await start();
    const err = await expectStatus(s.client.call('register', { type: 'vendor', endpoint }), Code.INVALID_ARGUMENT, 'INVALID_ENDPOINT');
    expect(err.metadata.get('problem')).toBe(problem);
    expect(err.status?.badRequest?.fieldViolations[0]?.field).toBe('endpoint');
  });

  it('an endpoint over 1024 characters is INVALID_FIELD, before anything else', async () => {
    const s = await start();
    await expectStatus(s.client.call('register', { type: 'vendor', endpoint: `unix:///${'a'.repeat(1100)}` }), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
  });
});

describe('Register checks what the endpoint names', () => {
  it('TCP without --provider-tls-ca: FAILED_PRECONDITION ENDPOINT_TCP_WITHOUT_TLS', async () => {
    const s = await start();
    const err = await expectStatus(s.client.call('register', { type: 'vendor', endpoint: '127.0.0.1:50099' }), Code.FAILED_PRECONDITION, 'ENDPOINT_TCP_WITHOUT_TLS');
    expect(err.message).toContain('--provider-tls-ca');
  });

  it('a path that is not a socket (a file, a directory, a symlink to a socket): FAILED_PRECONDITION ENDPOINT_NOT_SOCKET', async () => {
    const s = await start();
    const p = await serveAt('vendor', join(dir.path, 'real.sock'));
    writeFileSync(join(dir.path, 'file.sock'), '');
    mkdirSync(join(dir.path, 'dir.sock'));
    symlinkSync(join(dir.path, 'real.sock'), join(dir.path, 'link.sock'));
    for (const name of ['file.sock', 'dir.sock', 'link.sock']) {
      await expectStatus(s.client.call('register', { type: 'vendor', endpoint: `unix://${join(dir.path, name)}` }), Code.FAILED_PRECONDITION, 'ENDPOINT_NOT_SOCKET');
    }
    expect((await s.client.call('register', { type: 'vendor', endpoint: p.endpoint })).provider?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
  });

  it('a socket in a directory others can write, even a sticky one: FAILED_PRECONDITION ENDPOINT_UNSAFE_DIRECTORY; fixed, it registers', async () => {
    const s = await start();
    const shared = join(dir.path, 'shared');
    mkdirSync(shared);
    const p = await serveAt('vendor', join(shared, 'vendor.sock'));
    for (const mode of [0o777, 0o1777, 0o775]) {
      chmodSync(shared, mode);
      const err = await expectStatus(s.client.call('register', { type: 'vendor', endpoint: p.endpoint }), Code.FAILED_PRECONDITION, 'ENDPOINT_UNSAFE_DIRECTORY');
      expect(err.metadata.get('directory')).toBe(shared);
    }
    // Above the socket's own directory, a sticky world-writable one (as /tmp) is fine.
    const sticky = join(dir.path, 'sticky');
    mkdirSync(join(sticky, 'own'), { recursive: true });
    chmodSync(sticky, 0o1777);
    const q = await serveAt('other', join(sticky, 'own', 'other.sock'));
    await s.client.call('register', { type: 'other', endpoint: q.endpoint });
    chmodSync(shared, 0o755);
    await s.client.call('register', { type: 'vendor', endpoint: p.endpoint });
  });

  it('a TCP provider with TLS, once the daemon trusts its CA, runs the port cycle', async () => {
    dir = tempDir('vifplug-ep-');
    const pki = makePki(dir.path);
    const p = await serveProvider(
      { type: 'far', preparePort: (ctxIn) => ({ plug: true, out: { name: ctxIn.lportName, type: '', ifaceOptions: new Map() } }) },
      {
        tcp: {
          address: '127.0.0.1:0',
          credentials: ServerCredentials.createSsl(pki.read(pki.caCert), [{ cert_chain: pki.read(pki.serverCert), private_key: pki.read(pki.serverKey) }], true),
        },
      },
    );
    served.push(p);
    const tls = { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey };
    t = await startTestServer({ remote: { tls } });
    await t.client.call('register', { type: 'far', endpoint: p.endpoint });
    const { instanceId } = await t.client.open('far');
    const port = await t.client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1' });
    expect(port).toMatchObject({ plug: true, name: 'lsp1' });
    await t.client.finishPorts([port.ctxId], true);
  });
});

describe('who may register (--registration)', () => {
  async function viaTcp(s: TestServer): Promise<VifplugClient> {
    const tcp = s.server.endpoints.find((e) => e.address.kind === 'tcp')!;
    return new VifplugClient(tcp.target, { maxAttempts: 1 });
  }

  it('unix (the default): Register and Unregister over a unix socket, not over TCP (PERMISSION_DENIED)', async () => {
    const s = await start({ tcp: true, providers: ['dummy'] });
    const tcp = await viaTcp(s);
    try {
      const err = await expectStatus(tcp.register('representor'), Code.PERMISSION_DENIED, 'REGISTRATION_NOT_ALLOWED');
      expect(err.message).toContain('--registration any');
      await expectStatus(tcp.unregister('dummy'), Code.PERMISSION_DENIED, 'REGISTRATION_NOT_ALLOWED');
      // The rest of the API is open to TCP callers.
      await tcp.open('dummy');
      expect((await tcp.listProviders()).providers.map((p) => [p.type, p.open])).toEqual([['dummy', true]]);
    } finally {
      tcp.close();
    }
    const p = await serveAt('vendor', join(dir.path, 'vendor.sock'));
    await s.client.call('register', { type: 'vendor', endpoint: p.endpoint });
  });

  it('any: TCP callers may register too', async () => {
    const s = await start({ tcp: true, registration: 'any' });
    const tcp = await viaTcp(s);
    try {
      await tcp.register('dummy');
      await tcp.unregister('dummy');
    } finally {
      tcp.close();
    }
  });

  it('off: nobody may, not even on the unix socket; what is registered stays usable', async () => {
    const s = await start({ registration: 'off', providers: ['dummy'] });
    const p = await serveAt('vendor', join(dir.path, 'vendor.sock'));
    const err = await expectStatus(s.client.call('register', { type: 'vendor', endpoint: p.endpoint }), Code.PERMISSION_DENIED, 'REGISTRATION_NOT_ALLOWED');
    expect(err.message).toContain('--registration off');
    await expectStatus(s.client.unregister('dummy'), Code.PERMISSION_DENIED, 'REGISTRATION_NOT_ALLOWED');
    await s.client.open('dummy');
  });
});
