import { join } from 'node:path';

import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { ProviderService, type DestroyPortCtxRequest, type GetInfoResponse, type PreparePortRequest, type PreparePortResponse } from '../../src/gen/vifplug/provider/v1/provider';
import { OpType, ProviderHealth } from '../../src/gen/vifplug/v1/vifplug';
import { toWireCtxOut } from '../../src/api/wire';
import { serveProvider, type ProviderAnswer, type ServedProvider } from '../../src/sdk';
import { expectStatus } from '../helpers/expect-status';
import { GARBAGE, goodAnswer, reasonOf } from '../helpers/garbage-answers';
import { startTestServer, tempDir, type TestServer } from '../helpers/server';

// The answer rules at the boundary, for providers in other processes, on
// each route a PreparePort travels (the session's PortStream, PreparePorts,
// a unary PreparePort): an answer no OVS or kernel could use is refused
// before any caller sees it as a plug, naming the provider, and a positive
// one is released at the provider with exactly one DestroyPortCtx carrying
// its handle. Other ports' calls, and the provider's health, are not
// affected.

let t: TestServer | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
const served: ServedProvider[] = [];
const servers: Server[] = [];
const clients: VifplugClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await t?.stop();
  t = undefined;
  for (const p of served.splice(0)) await p.close();
  for (const s of servers.splice(0)) s.forceShutdown();
  dir?.remove();
});

/** The answers of the broken provider: GARBAGE's, one with a handle over 4096 bytes, each with a handle naming its lport. */
function answerFor(lport: string): ProviderAnswer {
  const handle = Buffer.from(`h:${lport}`);
  if (lport === 'huge-handle') return { ...goodAnswer(lport), handle: Buffer.alloc(5000, 'h') } as ProviderAnswer;
  const answer = GARBAGE[lport]?.answer ?? goodAnswer(lport);
  return answer.plug ? { ...answer, handle } : answer;
}

const CASES = { ...GARBAGE, 'huge-handle': { answer: goodAnswer('huge-handle'), field: 'handle', problem: 'too-long', released: true } };

async function start(): Promise<{ dummy: string }> {
  dir = tempDir('vifplug-ar-');
  t = await startTestServer({ providers: ['dummy'], remote: {} });
  const c = new VifplugClient(t.target, { maxAttempts: 1 });
  clients.push(c);
  return { dummy: (await c.open('dummy')).instanceId };
}

/**
 * An SDK provider answering answerFor(lport); every DestroyPortCtx it sees,
 * as "lport handle"; and how each PreparePort came (the SDK gives a port of a
 * PortStream a budget of its own kind).
 */
async function sdkProvider(): Promise<{ endpoint: string; destroyed: string[]; routes: Map<string, string> }> {
  const destroyed: string[] = [];
  const routes = new Map<string, string>();
  const p = await serveProvider(
    {
      type: 'broken',
      preparePort: (ctxIn, budget) => {
        routes.set(ctxIn.lportName, budget.constructor.name === 'StreamBudget' ? 'stream' : 'call');
        return answerFor(ctxIn.lportName);
      },
      destroyPortCtx: (ctxIn, _out, call) => void destroyed.push(`${ctxIn.lportName} ${call.handle.length > 64 ? `${call.handle.length} bytes` : call.handle.toString()}`),
    },
    { socket: join(dir!.path, 'broken.sock') },
  );
  served.push(p);
  return { endpoint: p.endpoint, destroyed, routes };
}

/**
 * A provider written on bare grpc-js that announces neither PreparePorts nor
 * PortStream, so that vifplugd calls its unary PreparePort; same answers.
 */
async function unaryProvider(): Promise<{ endpoint: string; destroyed: string[]; routes: Map<string, string> }> {
  const destroyed: string[] = [];
  const routes = new Map<string, string>();
  const info: GetInfoResponse = { type: 'broken', apiVersions: ['v1'], maintainedIfaceOptions: [], providerVersion: '', capabilities: { listRepresentors: false, watch: false, preparePorts: false, portStream: false } };
  const server = new Server();
  servers.push(server);
  server.addService(
    { getInfo: ProviderService.getInfo, preparePort: ProviderService.preparePort, destroyPortCtx: ProviderService.destroyPortCtx },
    {
      getInfo: (_call: unknown, cb: sendUnaryData<GetInfoResponse>) => cb(null, info),
      preparePort: (call: ServerUnaryCall<PreparePortRequest, PreparePortResponse>, cb: sendUnaryData<PreparePortResponse>) => {
        routes.set(call.request.ctxIn!.lportName, 'unary');
        const a = answerFor(call.request.ctxIn!.lportName);
        cb(null, a.plug
          ? { plug: true, ctxOut: toWireCtxOut(a.out), handle: Buffer.from(a.handle ?? []), declineReason: '', declineMessage: '' }
          : { plug: false, ctxOut: undefined, handle: Buffer.alloc(0), declineReason: a.reason, declineMessage: a.message });
      },
      destroyPortCtx: (call: ServerUnaryCall<DestroyPortCtxRequest, object>, cb: sendUnaryData<object>) => {
        const h = call.request.handle;
        destroyed.push(`${call.request.ctxIn!.lportName} ${h.length > 64 ? `${h.length} bytes` : h.toString()}`);
        cb(null, {});
      },
    },
  );
  const socket = join(dir!.path, 'broken-unary.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return { endpoint: `unix://${socket}`, destroyed, routes };
}

/** What the provider must have seen released for `lport`: one DestroyPortCtx with its handle, or none for a decline. */
function releasedFor(lport: string): string[] {
  if (!CASES[lport as keyof typeof CASES].released) return [];
  return [lport === 'huge-handle' ? `${lport} 5000 bytes` : `${lport} h:${lport}`];
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe.each([
  ['on the PortStream (an SDK provider)', sdkProvider, 'stream'],
  ['as a unary PreparePort (a provider without PortStream)', unaryProvider, 'unary'],
])('a remote provider answering what no OVS or kernel could use, %s', (_what, makeProvider, route) => {
  it('is refused per answer, naming it; a positive answer is released once at the provider with its handle; other calls go on', async () => {
    const s = await start();
    const p = await makeProvider();
    const c = clients[0]!;
    await c.call('register', { type: 'broken', endpoint: p.endpoint });
    const { instanceId } = await c.open('broken');
    const create = (id: string, lportName: string) => c.preparePort({ instanceId: id, opType: OpType.OP_TYPE_CREATE, lportName });
    for (const [lport, want] of Object.entries(CASES)) {
      // Alone on its provider (ports asked for together travel as one PreparePorts), beside another provider's call.
      const [bad, other] = await Promise.allSettled([create(instanceId, lport), create(s.dummy, `d-${lport}`)]);
      const good = await create(instanceId, `g-${lport}`.slice(0, 15)).then((value) => ({ status: 'fulfilled', value }));
      expect(p.routes.get(lport), lport).toBe(route);
      const err = await expectStatus(bad.status === 'rejected' ? Promise.reject(bad.reason) : Promise.resolve(bad.value), Code.INTERNAL, 'PROVIDER_ANSWER_INVALID');
      expect(err.message, lport).toContain('provider "broken"');
      expect(Object.fromEntries(err.metadata), lport).toMatchObject({ type: 'broken', field: want.field, problem: want.problem });
      expect(good, lport).toMatchObject({ status: 'fulfilled', value: { plug: true } });
      expect(other, lport).toMatchObject({ status: 'fulfilled', value: { plug: true } });
      await until(() => p.destroyed.some((d) => d.startsWith(`${lport} `)) === want.released);
      await new Promise((r) => setTimeout(r, 50));
      expect(p.destroyed.filter((d) => d.startsWith(`${lport} `)), lport).toEqual(releasedFor(lport));
    }
    // Nothing but the refused answers was released; the good ones are live ctxs.
    expect(p.destroyed).toHaveLength(Object.values(CASES).filter((w) => w.released).length);
    expect(t!.registry.stats().ctxs).toBe(2 * Object.keys(CASES).length);
    const { providers } = await c.listProviders();
    expect(providers.find((x) => x.type === 'broken')?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
  });
});

describe('a remote provider answering the ports of a PreparePorts with garbage for some', () => {
  it('fails those ports alone, each released once with its handle; the others are plugged', async () => {
    await start();
    const p = await sdkProvider();
    const c = clients[0]!;
    await c.call('register', { type: 'broken', endpoint: p.endpoint });
    const { instanceId } = await c.open('broken');
    const lports = ['good1', ...Object.keys(CASES), 'good2'];
    const { results } = await c.preparePorts(instanceId, lports.map((lportName) => ({ opType: OpType.OP_TYPE_CREATE, lportName })));
    expect(results.map((r) => (r.result?.$case === 'prepared' ? 'plug' : r.result && reasonOf(r.result.value)))).toEqual([
      'plug',
      ...Object.keys(CASES).map(() => 'PROVIDER_ANSWER_INVALID'),
      'plug',
    ]);
    // The first port of the turn goes at once on the PortStream; the others travel together as PreparePorts.
    expect(lports.map((l) => p.routes.get(l))).toEqual(['stream', ...lports.slice(1).map(() => 'call')]);
    const released = Object.keys(CASES).flatMap(releasedFor);
    await until(() => p.destroyed.length >= released.length);
    await new Promise((r) => setTimeout(r, 50));
    expect([...p.destroyed].sort()).toEqual([...released].sort());
  });
});
