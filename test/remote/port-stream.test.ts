import { join } from 'node:path';

import { Server, ServerCredentials, status, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import {
  ProviderService,
  type GetInfoResponse,
  type PortStreamRequest,
  type PortStreamResponse,
  type PreparePortRequest,
  type PreparePortResponse,
} from '../../src/gen/vifplug/provider/v1/provider';
import { OpType, PreparePortRequest as ControllerRequest, ProviderHealth, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, tempDir, type TestServer } from '../helpers/server';

// PreparePort on a provider's PortStream, seen from the provider's end of
// the stream: a provider written here on bare grpc-js, so that every message
// vifplugd sends is visible and the stream can be held, answered out of
// order or broken at will.

let t: TestServer;
let dir: ReturnType<typeof tempDir>;
const servers: Server[] = [];
const clients: VifplugClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await t?.stop();
  for (const s of servers.splice(0)) s.forceShutdown();
  dir?.remove();
});

type StreamCall = ServerDuplexStream<PortStreamRequest, PortStreamResponse>;

/** What the provider saw, and the calls it holds unanswered (lports starting with "hold"). */
interface Seen {
  opens: number;
  unary: string[];
  prepares: { id: number; lport: string; timeoutMs: number }[];
  cancels: number[];
  held: Map<string, { id: number; stream: StreamCall }>;
}

const answer = (name: string): PreparePortResponse => ({
  plug: true,
  ctxOut: { name, type: 'internal', ifaceOptions: new Map() },
  handle: Buffer.alloc(0),
  declineReason: '',
  declineMessage: '',
});

/**
 * A provider of type "streamed" announcing `portStream`; without `serveStream`
 * it has no PortStream handler (grpc-js answers UNIMPLEMENTED). An lport
 * named "break" ends the stream with ABORTED.
 */
async function fakeProvider(options: { announce: boolean; serveStream: boolean }): Promise<{ endpoint: string; seen: Seen }> {
  const seen: Seen = { opens: 0, unary: [], prepares: [], cancels: [], held: new Map() };
  const info: GetInfoResponse = {
    type: 'streamed',
    apiVersions: ['v1'],
    maintainedIfaceOptions: [],
    capabilities: { listRepresentors: false, watch: false, preparePorts: false, portStream: options.announce },
    providerVersion: '',
  };
  const portStream = (stream: StreamCall) => {
    seen.opens++;
    stream.on('data', (msg: PortStreamRequest) => {
      if (msg.kind?.$case === 'cancel') return void seen.cancels.push(msg.id);
      if (msg.kind?.$case !== 'prepare') return;
      const lport = msg.kind.value.request!.ctxIn!.lportName;
      seen.prepares.push({ id: msg.id, lport, timeoutMs: msg.kind.value.timeoutMs });
      if (lport === 'break') stream.emit('error', { code: status.ABORTED, details: 'the stream handler restarted' });
      else if (lport.startsWith('hold')) seen.held.set(lport, { id: msg.id, stream });
      else stream.write({ id: msg.id, result: { result: { $case: 'prepared', value: answer(lport) } } });
    });
    stream.on('error', () => undefined);
  };
  const server = new Server();
  servers.push(server);
  server.addService(
    { getInfo: ProviderService.getInfo, preparePort: ProviderService.preparePort, ...(options.serveStream ? { portStream: ProviderService.portStream } : {}) },
    {
      getInfo: (_call: unknown, cb: sendUnaryData<GetInfoResponse>) => cb(null, info),
      preparePort: (call: ServerUnaryCall<PreparePortRequest, PreparePortResponse>, cb: sendUnaryData<PreparePortResponse>) => {
        seen.unary.push(call.request.ctxIn!.lportName);
        cb(null, answer(call.request.ctxIn!.lportName));
      },
      ...(options.serveStream ? { portStream } : {}),
    },
  );
  const socket = join(dir.path, 'streamed.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return { endpoint: `unix://${socket}`, seen };
}

async function start(provider: { announce: boolean; serveStream: boolean }, providerTimeoutMs = 5000) {
  dir = tempDir('vifplug-ps-');
  t = await startTestServer({ providers: ['dummy'], remote: {}, limits: { providerTimeoutMs } });
  const p = await fakeProvider(provider);
  await t.client.call('register', { type: 'streamed', endpoint: p.endpoint });
  const { instanceId } = await t.client.open('streamed');
  // No retries: every test sees the first answer.
  const client = new VifplugClient(t.target, { maxAttempts: 1 });
  clients.push(client);
  const prepare = (lportName: string) => client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });
  return { ...p, instanceId, prepare };
}

const heldBy = (seen: Seen, lport: string) => vi.waitFor(() => seen.held.get(lport) ?? Promise.reject(new Error(`${lport} not held yet`)));

describe('PreparePort on a PortStream', () => {
  it('answers find their calls by id, in whatever order they come, all on one stream', async () => {
    const { seen, prepare } = await start({ announce: true, serveStream: true });
    const first = prepare('hold-a');
    const held = await heldBy(seen, 'hold-a');
    expect((await prepare('b')).name).toBe('b');
    held.stream.write({ id: held.id, result: { result: { $case: 'prepared', value: answer('hold-a') } } });
    expect((await first).name).toBe('hold-a');
    expect(seen.opens).toBe(1);
    expect(seen.unary).toEqual([]);
    const [a, b] = seen.prepares;
    expect(a!.id).not.toBe(b!.id);
    // The time left of the call, never more than --provider-timeout.
    expect(a!.timeoutMs).toBeGreaterThan(4000);
    expect(a!.timeoutMs).toBeLessThanOrEqual(5000);
  });

  it('a call that times out or is cancelled is cancelled on the stream by its id; its late answer is dropped and the stream goes on', async () => {
    const { seen, prepare, instanceId } = await start({ announce: true, serveStream: true }, 300);
    await expectStatus(prepare('hold-slow'), Code.DEADLINE_EXCEEDED, 'PROVIDER_TIMEOUT');
    const slow = seen.held.get('hold-slow')!;
    await vi.waitFor(() => expect(seen.cancels).toContain(slow.id));

    const def = VifPlugService.preparePort;
    const req = ControllerRequest.fromPartial({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'hold-gone' });
    const call = t.client.grpc.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, () => undefined);
    const gone = await heldBy(seen, 'hold-gone');
    call.cancel();
    await vi.waitFor(() => expect(seen.cancels).toContain(gone.id));

    for (const h of [slow, gone]) h.stream.write({ id: h.id, result: { result: { $case: 'prepared', value: answer('late') } } });
    expect((await prepare('next')).name).toBe('next');
    expect(seen.opens).toBe(1);
    expect(t.registry.stats().ctxs).toBe(1);
  });

  it('breaking mid-call fails only the calls under way on it (UNAVAILABLE), and the next call opens a new stream', async () => {
    const { seen, prepare } = await start({ announce: true, serveStream: true });
    const held = prepare('hold-x');
    await heldBy(seen, 'hold-x');
    const errors = await Promise.all([held, prepare('break')].map((call) => expectStatus(call, Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE')));
    for (const err of errors) expect(err.metadata.get('cause')).toBe('PORT_STREAM_BROKEN');
    expect((await prepare('after')).name).toBe('after');
    expect(seen.opens).toBe(2);
    const { providers } = await t.client.listProviders();
    expect(providers.find((p) => p.type === 'streamed')?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
  });

  it('a provider without the capability gets PreparePort; one that announces it but answers UNIMPLEMENTED too, from its first call on', async () => {
    const plain = await start({ announce: false, serveStream: true });
    expect((await plain.prepare('p1')).name).toBe('p1');
    expect(plain.seen).toMatchObject({ opens: 0, unary: ['p1'] });
    await t.stop();
    for (const s of servers.splice(0)) s.forceShutdown();
    dir.remove();

    const lying = await start({ announce: true, serveStream: false });
    expect((await lying.prepare('u1')).name).toBe('u1');
    expect((await lying.prepare('u2')).name).toBe('u2');
    expect(lying.seen.unary).toEqual(['u1', 'u2']);
  });
});
