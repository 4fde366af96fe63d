import { join } from 'node:path';

import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { Code } from '../../src/client/client';
import { ProviderService } from '../../src/gen/vifplug/provider/v1/provider';
import { ChangeKind, OpType, ProviderHealth, ProviderKind } from '../../src/gen/vifplug/v1/vifplug';
import { PlugError } from '../../src/registry';
import { serveProvider, type ProviderDefinition, type ServedProvider } from '../../src/sdk';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, tempDir, type TestServer } from '../helpers/server';

// The seed's registry semantics (lib/plug.c), for classes that live in
// another process: each provider here is served by the SDK on its own unix
// socket and reached through the real daemon over another.

let t: TestServer;
let dir: ReturnType<typeof tempDir>;
const served: ServedProvider[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await t?.stop();
  for (const p of served.splice(0)) await p.close();
  for (const s of servers.splice(0)) s.forceShutdown();
  dir?.remove();
});

async function start(): Promise<void> {
  dir = tempDir('vifplug-rp-');
  t = await startTestServer({ providers: ['dummy'], remote: {} });
}

/** A provider served in this process that records what vifplugd asked of it. */
async function provider(type: string, overrides: Partial<ProviderDefinition> = {}, socketName = type) {
  const calls: string[] = [];
  const p = await serveProvider(
    {
      type,
      maintainedIfaceOptions: [`${type}-option`],
      init: () => void calls.push('init'),
      destroy: () => void calls.push('destroy'),
      open: (id) => void calls.push(`open ${id}`),
      close: (id) => void calls.push(`close ${id}`),
      preparePort: (ctxIn) => {
        calls.push(`prepare ${ctxIn.opType} ${ctxIn.lportName}`);
        return ctxIn.opType === 'create'
          ? { plug: true, out: { name: ctxIn.lportName, type: 'internal', ifaceOptions: new Map([[`${type}-option`, ctxIn.lportName]]) }, handle: Buffer.from(`h-${ctxIn.lportName}`) }
          : { plug: true, handle: Buffer.from(`rm-${ctxIn.lportName}`) };
      },
      finishPort: (ctxIn, _out, call) => void calls.push(`finish ${ctxIn.lportName} ${call.handle.toString()}`),
      destroyPortCtx: (ctxIn, _out, call) => void calls.push(`destroyCtx ${ctxIn.lportName} ${call.handle.toString()}`),
      ...overrides,
    },
    { socket: join(dir.path, `${socketName}.sock`) },
  );
  served.push(p);
  return { endpoint: p.endpoint, calls, served: p };
}

const create = (instanceId: string, lportName: string) => ({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });

describe('a remote class', () => {
  it('registers after the checks, and lists as remote, with its endpoint, health and maintained options', async () => {
    await start();
    const p = await provider('vendor');
    const res = await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    expect(res.provider).toMatchObject({ type: 'vendor', kind: ProviderKind.PROVIDER_KIND_REMOTE, endpoint: p.endpoint, health: ProviderHealth.PROVIDER_HEALTH_SERVING });
    const { providers } = await t.client.listProviders();
    expect(providers.map((x) => [x.type, x.kind, x.endpoint, x.health, x.maintainedIfaceOptions])).toEqual([
      ['dummy', ProviderKind.PROVIDER_KIND_BUILTIN, '', ProviderHealth.PROVIDER_HEALTH_SERVING, ['plug-dummy-option']],
      ['vendor', ProviderKind.PROVIDER_KIND_REMOTE, p.endpoint, ProviderHealth.PROVIDER_HEALTH_SERVING, ['vendor-option']],
    ]);
    expect(p.calls).toEqual(['init']);
  });

  it('a duplicate type is ALREADY_EXISTS (another endpoint, or a built-in); the same endpoint again is the provider coming back', async () => {
    await start();
    const a = await provider('vendor');
    const b = await provider('vendor', {}, 'vendor-b');
    await t.client.call('register', { type: 'vendor', endpoint: a.endpoint });
    const dup = await expectStatus(t.client.call('register', { type: 'vendor', endpoint: b.endpoint }), Code.ALREADY_EXISTS, 'PROVIDER_EXISTS');
    expect(dup.metadata.get('endpoint')).toBe(a.endpoint);
    expect(b.calls).toEqual([]);
    const dummy = await provider('dummy');
    await expectStatus(t.client.call('register', { type: 'dummy', endpoint: dummy.endpoint }), Code.ALREADY_EXISTS, 'PROVIDER_EXISTS');
    // Registering again at the same endpoint starts a new session: Init, and Open of the open instance.
    const { instanceId } = await t.client.open('vendor');
    await t.client.call('register', { type: 'vendor', endpoint: a.endpoint });
    expect(a.calls).toEqual(['init', `open ${instanceId}`, 'init', `open ${instanceId}`]);
  });

  it('an init failure refuses the registration with the provider\'s reason in the message; nothing is registered', async () => {
    await start();
    const p = await provider('vendor', {
      init: () => {
        throw new PlugError('FAILED_PRECONDITION', 'NO_HARDWARE', 'no NIC of mine on this host');
      },
    });
    const err = await expectStatus(t.client.call('register', { type: 'vendor', endpoint: p.endpoint }), Code.FAILED_PRECONDITION, 'PROVIDER_INIT_FAILED');
    expect(err.message).toContain('no NIC of mine on this host');
    expect((await t.client.listProviders()).providers.map((x) => x.type)).toEqual(['dummy']);
    expect(t.registry.stats().classes).toBe(1);
  });

  it('is the same instance until closed; Unregister while open is PROVIDER_IN_USE; Close releases its ctxs first', async () => {
    await start();
    const p = await provider('vendor');
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    const first = await t.client.open('vendor');
    expect((await t.client.open('vendor')).instanceId).toBe(first.instanceId);
    expect(first.maintainedIfaceOptions).toEqual(['vendor-option']);
    await t.client.preparePort(create(first.instanceId, 'kept'));
    await expectStatus(t.client.unregister('vendor'), Code.FAILED_PRECONDITION, 'PROVIDER_IN_USE');
    await t.client.closeInstance(first.instanceId);
    const again = await t.client.open('vendor');
    expect(again.instanceId).not.toBe(first.instanceId);
    await t.client.closeInstance(again.instanceId);
    await t.client.unregister('vendor');
    expect(p.calls).toEqual([
      'init',
      `open ${first.instanceId}`,
      'prepare create kept',
      'destroyCtx kept h-kept',
      `close ${first.instanceId}`,
      `open ${again.instanceId}`,
      `close ${again.instanceId}`,
      'destroy',
    ]);
    expect(t.registry.stats()).toMatchObject({ classes: 1, instances: 0, ctxs: 0, inflight: 0 });
  });

  it('runs the port cycle: the provider\'s handle comes back with FinishPort and DestroyPortCtx; a REMOVE ctx ends with FinishPort', async () => {
    await start();
    const p = await provider('vendor');
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    const { instanceId } = await t.client.open('vendor');
    const created = await t.client.preparePort(create(instanceId, 'lsp1'));
    expect(created).toMatchObject({ plug: true, name: 'lsp1', type: 'internal', ifaceOptions: new Map([['vendor-option', 'lsp1']]) });
    await t.client.finishPort(created.ctxId);
    await t.client.destroyCtx(created.ctxId);
    const removed = await t.client.preparePort({ instanceId, opType: OpType.OP_TYPE_REMOVE, lportName: 'lsp2', ifaceName: 'lsp2' });
    await t.client.finishPort(removed.ctxId);
    expect(p.calls.slice(2)).toEqual(['prepare create lsp1', 'finish lsp1 h-lsp1', 'destroyCtx lsp1 h-lsp1', 'prepare remove lsp2', 'finish lsp2 rm-lsp2']);
    expect(t.registry.stats().ctxs).toBe(0);
  });

  it('Run with no instance runs built-in and remote instances: a new session counts as a change once', async () => {
    await start();
    const p = await provider('vendor', { run: () => false });
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    const { instanceId } = await t.client.open('vendor');
    expect((await t.client.run(instanceId)).changed).toBe(true);
    expect((await t.client.run(instanceId)).changed).toBe(false);
    await t.client.open('dummy');
    expect((await t.client.run()).changed).toBe(true);
  });

  it('a provider that declines, or refuses with its own code and reason, is answered as such', async () => {
    await start();
    const p = await provider('vendor', {
      preparePort: (ctxIn) => {
        if (ctxIn.lportName === 'bad') throw new PlugError('INVALID_ARGUMENT', 'INVALID_OPTION', 'vif-plug:vendor:pf is not a number', { metadata: { option: 'vif-plug:vendor:pf' } });
        return { plug: false, reason: 'NOT_MINE', message: 'this port belongs to another NIC' };
      },
    });
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    const { instanceId } = await t.client.open('vendor');
    expect(await t.client.preparePort(create(instanceId, 'other'))).toMatchObject({ plug: false, ctxId: '', declineReason: 'NOT_MINE', declineMessage: 'this port belongs to another NIC' });
    const err = await expectStatus(t.client.preparePort(create(instanceId, 'bad')), Code.INVALID_ARGUMENT, 'INVALID_OPTION');
    expect(err.message).toBe('PreparePort: INVALID_ARGUMENT: provider "vendor": vif-plug:vendor:pf is not a number');
    expect(err.metadata.get('option')).toBe('vif-plug:vendor:pf');
    expect(err.metadata.get('type')).toBe('vendor');
  });
});

describe('PreparePorts through a remote provider', () => {
  it('sends the first port at once on the PortStream and the others in one call, and gives each port its own answer or error', async () => {
    await start();
    const budgets = new Set<unknown>();
    const p = await provider('vendor', {
      preparePort: (ctxIn, call) => {
        budgets.add(call);
        if (ctxIn.lportName === 'bad') throw new PlugError('NOT_FOUND', 'NO_SUCH_VF', 'no VF 9 on this NIC');
        if (ctxIn.lportName === 'other') return { plug: false, reason: 'NOT_MINE', message: 'another NIC' };
        return { plug: true, out: { name: ctxIn.lportName, type: '', ifaceOptions: new Map() }, handle: Buffer.from(`h-${ctxIn.lportName}`) };
      },
    });
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    const { instanceId } = await t.client.open('vendor');
    const { results } = await t.client.preparePorts(
      instanceId,
      ['a', 'bad', 'other', 'b'].map((lportName) => ({ opType: OpType.OP_TYPE_CREATE, lportName })),
    );
    // One budget for the port on the stream, one shared by the ports of the PreparePorts call.
    expect(budgets.size).toBe(2);
    const [a, bad, other, b] = results.map((r) => r.result);
    expect(a).toMatchObject({ $case: 'prepared', value: { plug: true, name: 'a' } });
    expect(bad).toMatchObject({ $case: 'error', value: { code: Code.NOT_FOUND, message: 'provider "vendor": no VF 9 on this NIC' } });
    expect(other).toMatchObject({ $case: 'prepared', value: { plug: false, declineReason: 'NOT_MINE' } });
    const ids = [a, b].map((r) => (r?.$case === 'prepared' ? r.value.ctxId : ''));
    await t.client.finishPorts(ids, true);
    expect(p.calls.filter((c) => c.startsWith('finish') || c.startsWith('destroyCtx')).sort()).toEqual(['destroyCtx a h-a', 'destroyCtx b h-b', 'finish a h-a', 'finish b h-b']);
  });

  it('a large batch listens for its caller\'s cancellation once, not once per port', async () => {
    await start();
    const p = await provider('vendor');
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    const { instanceId } = await t.client.open('vendor');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const ports = Array.from({ length: 200 }, (_, i) => ({ opType: OpType.OP_TYPE_CREATE, lportName: `p${i}` }));
      const { results } = await t.client.preparePorts(instanceId, ports);
      expect(results.filter((r) => r.result?.$case === 'prepared')).toHaveLength(200);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe('a remote provider\'s view', () => {
  it('changes reach controllers that Watch: the provider says so (its Watch stream), and so does a new session', async () => {
    await start();
    const p = await provider('vendor');
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    const { instanceId } = await t.client.open('vendor');
    const stream = t.client.watch(['vendor']);
    const events = stream[Symbol.asyncIterator]();
    const next = async () => (await events.next()).value as { kind: ChangeKind; instanceId: string };
    expect((await next()).kind).toBe(ChangeKind.CHANGE_KIND_RESYNC);
    p.served.changed();
    expect(await next()).toMatchObject({ kind: ChangeKind.CHANGE_KIND_VIEW_CHANGED, instanceId });
    await t.client.call('register', { type: 'vendor', endpoint: p.endpoint });
    expect(await next()).toMatchObject({ kind: ChangeKind.CHANGE_KIND_VIEW_CHANGED, instanceId });
    stream.cancel();
  });
});

describe('Register checks the provider', () => {
  it('of another type: FAILED_PRECONDITION PROVIDER_TYPE_MISMATCH, naming the type it serves', async () => {
    await start();
    const p = await provider('theirs', {}, 'mine');
    const err = await expectStatus(t.client.call('register', { type: 'mine', endpoint: p.endpoint }), Code.FAILED_PRECONDITION, 'PROVIDER_TYPE_MISMATCH');
    expect(err.metadata.get('served_type')).toBe('theirs');
    expect(p.calls).toEqual([]);
  });

  it('that speaks another API version: FAILED_PRECONDITION PROVIDER_API_UNSUPPORTED, listing both sides', async () => {
    await start();
    const server = new Server();
    servers.push(server);
    server.addService(
      { getInfo: ProviderService.getInfo },
      {
        getInfo: (_call: unknown, cb: (err: null, res: object) => void) =>
          cb(null, { type: 'future', apiVersions: ['v2', 'v3'], maintainedIfaceOptions: [], providerVersion: '' }),
      },
    );
    const socket = join(dir.path, 'future.sock');
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    const err = await expectStatus(t.client.call('register', { type: 'future', endpoint: `unix://${socket}` }), Code.FAILED_PRECONDITION, 'PROVIDER_API_UNSUPPORTED');
    expect([err.metadata.get('offered'), err.metadata.get('supported')]).toEqual(['v2,v3', 'v1']);
  });

  it('that serves something else (here, vifplugd itself): PROVIDER_API_UNSUPPORTED', async () => {
    await start();
    await expectStatus(t.client.call('register', { type: 'loop', endpoint: `unix://${t.socketPath}` }), Code.FAILED_PRECONDITION, 'PROVIDER_API_UNSUPPORTED');
  });

  it('that is not there: UNAVAILABLE PROVIDER_UNREACHABLE with a RetryInfo', async () => {
    await start();
    const err = await expectStatus(
      t.client.call('register', { type: 'later', endpoint: `unix://${join(dir.path, 'later.sock')}` }),
      Code.UNAVAILABLE,
      'PROVIDER_UNREACHABLE',
    );
    expect(err.status?.retryInfo?.retryDelay).toBeDefined();
    expect((await t.client.listProviders()).providers.map((x) => x.type)).toEqual(['dummy']);
  });
});
