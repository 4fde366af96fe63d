import { join } from 'node:path';

import { Metadata, Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { ErrorInfo, RetryInfo } from '../../src/gen/google/rpc/error_details';
import { Status } from '../../src/gen/google/rpc/status';
import { ProviderService, type GetInfoResponse, type PreparePortRequest, type PreparePortResponse, type WatchResponse } from '../../src/gen/vifplug/provider/v1/provider';
import { OpType, ProviderHealth, ProviderKind } from '../../src/gen/vifplug/v1/vifplug';
import { serveProvider, type ServedProvider } from '../../src/sdk';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, tempDir, type TestServer } from '../helpers/server';

// What vifplugd does with what a remote provider answers, decided and
// written in the provider API (proto/vifplug/provider/v1) and
// docs/providers.md: a provider's own UNAVAILABLE, with or without a reason;
// its ErrorInfo's domain and metadata; a Watch it announced but does not
// serve, or that breaks; and who may take a built-in's name.

let t: TestServer | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
const servers: Server[] = [];
const served: ServedProvider[] = [];
const clients: VifplugClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await t?.stop();
  t = undefined;
  for (const s of servers.splice(0)) s.forceShutdown();
  for (const p of served.splice(0)) await p.close();
  dir?.remove();
});

async function start(): Promise<VifplugClient> {
  dir = tempDir('vifplug-ct-');
  t = await startTestServer({ providers: ['dummy'], remote: { probeIntervalMs: 200 } });
  // No retries: every test sees the first answer.
  const c = new VifplugClient(t.target, { maxAttempts: 1 });
  clients.push(c);
  return c;
}

/** grpc-status-details-bin for a google.rpc.Status with an ErrorInfo (when `reason`) and a RetryInfo (when `retrySeconds`). */
function details(code: number, message: string, info?: { reason: string; domain: string; metadata: Record<string, string> }, retrySeconds?: number): Metadata {
  const parts = [];
  if (info) parts.push({ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(ErrorInfo.encode({ ...info, metadata: new Map(Object.entries(info.metadata)) }).finish()) });
  if (retrySeconds !== undefined) parts.push({ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay: { seconds: retrySeconds, nanos: 0 } }).finish()) });
  const md = new Metadata();
  md.set('grpc-status-details-bin', Buffer.from(Status.encode({ code, message, details: parts }).finish()));
  return md;
}

/**
 * A provider on bare grpc-js (PreparePort unary; Watch announced when
 * `watch`, served only by `serveWatch`), answering by lport:
 *   "bare"        UNAVAILABLE without any details;
 *   "bare-retry"  UNAVAILABLE with a RetryInfo of 3 s and no ErrorInfo;
 *   "warming"     UNAVAILABLE HW_WARMING_UP with a RetryInfo of 7 s;
 *   "vendor-err"  NOT_FOUND NO_SUCH_VF in domain "nic.example.com", metadata type and vf;
 *   "slow"        plugs after 300 ms; anything else plugs at once.
 */
async function rawProvider(type: string, options: { watch?: boolean; serveWatch?: (call: ServerWritableStream<unknown, WatchResponse>) => void } = {}): Promise<string> {
  const info: GetInfoResponse = {
    type,
    apiVersions: ['v1'],
    maintainedIfaceOptions: [],
    providerVersion: '',
    capabilities: { listRepresentors: false, watch: options.watch === true, preparePorts: false, portStream: false },
  };
  const plug = (name: string): PreparePortResponse => ({ plug: true, ctxOut: { name, type: 'internal', ifaceOptions: new Map() }, handle: Buffer.alloc(0), declineReason: '', declineMessage: '' });
  const server = new Server();
  servers.push(server);
  server.addService(
    { getInfo: ProviderService.getInfo, preparePort: ProviderService.preparePort, ...(options.serveWatch ? { watch: ProviderService.watch } : {}) },
    {
      getInfo: (_call: unknown, cb: sendUnaryData<GetInfoResponse>) => cb(null, info),
      preparePort: (call: ServerUnaryCall<PreparePortRequest, PreparePortResponse>, cb: sendUnaryData<PreparePortResponse>) => {
        const lport = call.request.ctxIn!.lportName;
        if (lport === 'bare') return cb({ code: status.UNAVAILABLE, details: 'not now' });
        if (lport === 'bare-retry') return cb({ code: status.UNAVAILABLE, details: 'not now', metadata: details(status.UNAVAILABLE, 'not now', undefined, 3) });
        if (lport === 'warming') {
          return cb({ code: status.UNAVAILABLE, details: 'the NIC is warming up', metadata: details(status.UNAVAILABLE, 'the NIC is warming up', { reason: 'HW_WARMING_UP', domain: 'nic.example.com', metadata: {} }, 7) });
        }
        if (lport === 'vendor-err') {
          const meta = { type: 'vf', vf: '3' };
          return cb({ code: status.NOT_FOUND, details: 'no VF 3', metadata: details(status.NOT_FOUND, 'no VF 3', { reason: 'NO_SUCH_VF', domain: 'nic.example.com', metadata: meta }) });
        }
        if (lport === 'slow') return void setTimeout(() => cb(null, plug(lport)), 300);
        cb(null, plug(lport));
      },
      ...(options.serveWatch ? { watch: options.serveWatch } : {}),
    },
  );
  const socket = join(dir!.path, `${type}.sock`);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return `unix://${socket}`;
}

const healthOf = async (c: VifplugClient, type: string) => (await c.listProviders()).providers.find((p) => p.type === type);
const create = (instanceId: string, lportName: string) => ({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a provider's own UNAVAILABLE", () => {
  it('without a reason: passed to that caller with the retry delay it gave (or 1 s); the provider stays serving and other calls go on', async () => {
    const c = await start();
    await c.call('register', { type: 'vendor', endpoint: await rawProvider('vendor') });
    const { instanceId } = await c.open('vendor');
    // A call of another port under way while the provider answers one UNAVAILABLE.
    const slow = c.preparePort(create(instanceId, 'slow'));
    const bare = await expectStatus(c.preparePort(create(instanceId, 'bare')), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
    expect(bare.metadata.get('cause')).toBe('UNAVAILABLE_WITHOUT_REASON');
    expect(bare.message).toContain('answered PreparePort UNAVAILABLE without a reason (not now)');
    expect(bare.status?.retryInfo?.retryDelay).toMatchObject({ seconds: 1 });
    const retry = await expectStatus(c.preparePort(create(instanceId, 'bare-retry')), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
    expect(retry.status?.retryInfo?.retryDelay).toMatchObject({ seconds: 3 });
    expect((await slow).plug).toBe(true);
    expect((await c.preparePort(create(instanceId, 'after'))).plug).toBe(true);
    await sleep(500);
    expect((await healthOf(c, 'vendor'))?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
  });

  it('with a reason: passed on as it is, with its RetryInfo delay', async () => {
    const c = await start();
    await c.call('register', { type: 'vendor', endpoint: await rawProvider('vendor') });
    const { instanceId } = await c.open('vendor');
    const err = await expectStatus(c.preparePort(create(instanceId, 'warming')), Code.UNAVAILABLE, 'HW_WARMING_UP');
    expect(err.message).toBe('PreparePort: UNAVAILABLE: provider "vendor": the NIC is warming up');
    expect(err.status?.retryInfo?.retryDelay).toMatchObject({ seconds: 7 });
    expect((await healthOf(c, 'vendor'))?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
  });
});

describe("a provider's ErrorInfo", () => {
  it('comes under vifplugd\'s domain, with the provider\'s type and its own domain in the metadata; its own "type" entry gives way', async () => {
    const c = await start();
    await c.call('register', { type: 'vendor', endpoint: await rawProvider('vendor') });
    const { instanceId } = await c.open('vendor');
    const err = await expectStatus(c.preparePort(create(instanceId, 'vendor-err')), Code.NOT_FOUND, 'NO_SUCH_VF');
    expect(err.status?.errorInfo?.domain).toBe('vifplug');
    expect(Object.fromEntries(err.metadata)).toEqual({ type: 'vendor', provider_domain: 'nic.example.com', vf: '3' });
  });
});

describe('a Watch', () => {
  it('announced but answered UNIMPLEMENTED: the provider stays serving (Run is polled), and the log says so once', async () => {
    const c = await start();
    await c.call('register', { type: 'vendor', endpoint: await rawProvider('vendor', { watch: true }) });
    const { instanceId } = await c.open('vendor');
    await sleep(800);
    expect((await healthOf(c, 'vendor'))?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
    expect((await c.preparePort(create(instanceId, 'lsp1'))).plug).toBe(true);
    expect((await c.run(instanceId)).changed).toBe(true);
    expect(t!.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('announced Watch but answers it UNIMPLEMENTED'))).toHaveLength(1);
  });

  it('that breaks with another status: the provider is down until a new session starts, with a fresh Watch', async () => {
    const c = await start();
    const streams: ServerWritableStream<unknown, WatchResponse>[] = [];
    const endpoint = await rawProvider('vendor', {
      watch: true,
      serveWatch: (call) => {
        streams.push(call);
        call.write({ generation: 1 });
      },
    });
    await c.call('register', { type: 'vendor', endpoint });
    await c.open('vendor');
    for (let i = 0; i < 50 && streams.length === 0; i++) await sleep(20);
    streams[0]!.emit('error', { code: status.INTERNAL, details: 'watcher crashed' });
    let seen: ProviderHealth | undefined;
    for (let i = 0; i < 100 && streams.length < 2; i++) {
      const h = (await healthOf(c, 'vendor'))?.health;
      if (h === ProviderHealth.PROVIDER_HEALTH_DOWN) seen = h;
      await sleep(10);
    }
    expect(streams.length).toBe(2);
    expect(t!.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('its Watch stream broke (INTERNAL: watcher crashed)'))).toBe(true);
    expect(seen === undefined || seen === ProviderHealth.PROVIDER_HEALTH_DOWN).toBe(true);
    for (let i = 0; i < 100 && (await healthOf(c, 'vendor'))?.health !== ProviderHealth.PROVIDER_HEALTH_SERVING; i++) await sleep(20);
    expect((await healthOf(c, 'vendor'))?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
  });
});

describe("a built-in's name", () => {
  it('is free once the built-in is unregistered: a remote provider may take it, and the built-in comes back only once the remote leaves', async () => {
    const c = await start();
    const p = await serveProvider({ type: 'dummy', preparePort: () => ({ plug: true, out: { name: 'remote0', type: 'internal', ifaceOptions: new Map() } }) }, { socket: join(dir!.path, 'dummy.sock') });
    served.push(p);
    await expectStatus(c.call('register', { type: 'dummy', endpoint: p.endpoint }), Code.ALREADY_EXISTS, 'PROVIDER_EXISTS');
    await c.unregister('dummy');
    const res = await c.call('register', { type: 'dummy', endpoint: p.endpoint });
    expect(res.provider).toMatchObject({ type: 'dummy', kind: ProviderKind.PROVIDER_KIND_REMOTE, endpoint: p.endpoint });
    const { instanceId } = await c.open('dummy');
    expect((await c.preparePort(create(instanceId, 'lsp1'))).name).toBe('remote0');
    await expectStatus(c.register('dummy'), Code.ALREADY_EXISTS, 'PROVIDER_EXISTS');
    await c.closeInstance(instanceId);
    await c.unregister('dummy');
    await c.register('dummy');
    expect((await healthOf(c, 'dummy'))?.kind).toBe(ProviderKind.PROVIDER_KIND_BUILTIN);
  });
});
