import { afterEach, describe, expect, it } from 'vitest';

import { Code } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, type TestServer } from '../helpers/server';
import { faultyProvider, scriptedProvider, withTestProviders } from '../helpers/test-providers';

const boom = new Error('boom');

let t: TestServer;
afterEach(async () => t?.stop());

async function serve(): Promise<TestServer> {
  t = await startTestServer({
    providers: ['dummy'],
    builtins: withTestProviders({
      'bad-init': () => faultyProvider('bad-init', { init: boom }),
      'bad-destroy': () => faultyProvider('bad-destroy', { destroy: boom }),
      'bad-open': () => faultyProvider('bad-open', { open: boom }),
      'bad-run': () => faultyProvider('bad-run', { run: boom }),
      'bad-prepare': () => faultyProvider('bad-prepare', { prepare: boom }),
      'bad-finish': () => faultyProvider('bad-finish', { finish: boom }),
      'bad-destroy-ctx': () => faultyProvider('bad-destroy-ctx', { destroyCtx: boom }),
      'no-name': () => scriptedProvider('no-name', () => ({ plug: true, out: { name: '', type: '', ifaceOptions: new Map() } })),
      'bare-decline': () => scriptedProvider('bare-decline', () => ({ plug: false, reason: '', message: '' })),
      declines: () => scriptedProvider('declines', (lport) => ({ plug: false, reason: 'NOT_MINE', message: `${lport} is not mine` })),
    }),
  });
  return t;
}

async function openDummy(t: TestServer): Promise<string> {
  return (await t.client.open('dummy')).instanceId;
}

function create(instanceId: string, extra: Record<string, unknown> = {}) {
  return { instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1', ...extra };
}

describe('Register', () => {
  it('refuses an empty, malformed or overlong type', async () => {
    const { client } = await serve();
    const empty = await expectStatus(client.register(''), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    expect(empty.metadata.get('field')).toBe('type');
    expect(empty.status?.badRequest?.fieldViolations[0]?.field).toBe('type');
    await expectStatus(client.register('../dummy'), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    await expectStatus(client.register('du mmy'), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    await expectStatus(client.register('x'.repeat(65)), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
  });

  it('refuses a duplicate, an unknown built-in, and a remote endpoint', async () => {
    const { client } = await serve();
    await expectStatus(client.register('dummy'), Code.ALREADY_EXISTS, 'PROVIDER_EXISTS');
    const unknown = await expectStatus(client.register('sriov'), Code.NOT_FOUND, 'BUILTIN_NOT_FOUND');
    expect(unknown.message).toContain('dummy');
    expect(unknown.metadata.get('builtins')).toContain('dummy');
    await expectStatus(client.call('register', { type: 'dummy2', endpoint: 'unix:///tmp/x.sock' }), Code.UNIMPLEMENTED, 'REMOTE_PROVIDER_UNSUPPORTED');
  });

  it('does not register a class whose init fails', async () => {
    const { client } = await serve();
    const failure = await expectStatus(client.register('bad-init'), Code.FAILED_PRECONDITION, 'PROVIDER_INIT_FAILED');
    expect(failure.message).toContain('boom');
    expect((await client.listProviders()).providers.map((p) => p.type)).toEqual(['dummy']);
  });
});

describe('Unregister', () => {
  it('refuses an empty or unknown type and a type with an open instance', async () => {
    const { client } = await serve();
    await expectStatus(client.unregister(''), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    await expectStatus(client.unregister('nope'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
    const instanceId = await openDummy(t);
    const busy = await expectStatus(client.unregister('dummy'), Code.FAILED_PRECONDITION, 'PROVIDER_IN_USE');
    expect(busy.metadata.get('instance_id')).toBe(instanceId);
  });

  it('keeps a class whose destroy fails', async () => {
    const { client } = await serve();
    await client.register('bad-destroy');
    await expectStatus(client.unregister('bad-destroy'), Code.FAILED_PRECONDITION, 'PROVIDER_DESTROY_FAILED');
    expect((await client.listProviders()).providers.map((p) => p.type)).toContain('bad-destroy');
  });
});

describe('Open', () => {
  it('refuses an empty or unknown type and a class that fails to open', async () => {
    const { client } = await serve();
    await expectStatus(client.open(''), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    await expectStatus(client.open('nope'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
    await client.register('bad-open');
    await expectStatus(client.open('bad-open'), Code.FAILED_PRECONDITION, 'PROVIDER_OPEN_FAILED');
    // The failed open left nothing behind: the class can be unregistered.
    await client.unregister('bad-open');
  });

  it('returns the same instance until it is closed', async () => {
    const { client } = await serve();
    const first = await openDummy(t);
    expect(await openDummy(t)).toBe(first);
    await client.closeInstance(first);
    expect(await openDummy(t)).not.toBe(first);
  });
});

describe('Close', () => {
  it('refuses an empty, unknown, overlong or already closed instance', async () => {
    const { client } = await serve();
    await expectStatus(client.closeInstance(''), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    await expectStatus(client.closeInstance('nope'), Code.NOT_FOUND, 'INSTANCE_NOT_FOUND');
    await expectStatus(client.closeInstance('x'.repeat(65)), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    const instanceId = await openDummy(t);
    await client.closeInstance(instanceId);
    await expectStatus(client.closeInstance(instanceId), Code.NOT_FOUND, 'INSTANCE_NOT_FOUND');
  });

  it('destroys the ctxs the instance still holds', async () => {
    const { client } = await serve();
    const instanceId = await openDummy(t);
    const { ctxId } = await client.preparePort(create(instanceId));
    await client.closeInstance(instanceId);
    expect(t.registry.stats().ctxs).toBe(0);
    await expectStatus(client.finishPort(ctxId), Code.NOT_FOUND, 'CTX_NOT_FOUND');
  });
});

describe('Run', () => {
  it('refuses an unknown instance and reports a provider that throws', async () => {
    const { client } = await serve();
    await expectStatus(client.run('nope'), Code.NOT_FOUND, 'INSTANCE_NOT_FOUND');
    await client.register('bad-run');
    const { instanceId } = await client.open('bad-run');
    const failure = await expectStatus(client.run(instanceId), Code.INTERNAL, 'PROVIDER_ERROR');
    expect(failure.message).toContain('bad-run');
    await expectStatus(client.run(), Code.INTERNAL, 'PROVIDER_ERROR');
    expect(t.logs.some((l) => l.level === 'error' && l.reason === 'PROVIDER_ERROR')).toBe(true);
  });
});

describe('PreparePort', () => {
  it('validates every field', async () => {
    const { client } = await serve();
    const id = await openDummy(t);
    const missing = async (req: object, field: string) => {
      const e = await expectStatus(client.preparePort(req), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
      expect(e.metadata.get('field')).toBe(field);
    };
    const invalid = async (req: object, field: string) => {
      const e = await expectStatus(client.preparePort(req), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
      expect(e.metadata.get('field')).toBe(field);
    };
    await missing(create(''), 'instance_id');
    await missing(create(id, { lportName: '' }), 'lport_name');
    await missing(create(id, { opType: OpType.OP_TYPE_UNSPECIFIED }), 'op_type');
    await invalid(create(id, { opType: 7 }), 'op_type');
    await invalid(create(id, { lportName: 'l'.repeat(1025) }), 'lport_name');
    await invalid(create(id, { ifaceName: 'i'.repeat(1025) }), 'iface_name');
    const many = new Map(Array.from({ length: 513 }, (_, i) => [`k${i}`, 'v']));
    await invalid(create(id, { lportOptions: many }), 'lport_options');
    await invalid(create(id, { ifaceOptions: new Map([['k'.repeat(257), 'v']]) }), 'iface_options');
    await invalid(create(id, { lportOptions: new Map([['k', 'v'.repeat(4097)]]) }), 'lport_options');
    await expectStatus(client.preparePort(create('nope')), Code.NOT_FOUND, 'INSTANCE_NOT_FOUND');
    expect(t.registry.stats().ctxs).toBe(0);
  });

  it('answers INTERNAL when the provider throws (PROVIDER_ERROR) or answers nonsense (PROVIDER_ANSWER_INVALID), and keeps going', async () => {
    const { client } = await serve();
    for (const [type, reason, field] of [
      ['bad-prepare', 'PROVIDER_ERROR', undefined],
      ['no-name', 'PROVIDER_ANSWER_INVALID', 'ctx_out.name'],
      ['bare-decline', 'PROVIDER_ANSWER_INVALID', 'decline_reason'],
    ] as const) {
      await client.register(type);
      const { instanceId } = await client.open(type);
      const e = await expectStatus(client.preparePort(create(instanceId)), Code.INTERNAL, reason);
      expect(e.message).toContain(type);
      expect(e.metadata.get('field')).toBe(field);
    }
    expect(t.registry.stats().ctxs).toBe(0);
    const ok = await client.preparePort(create(await openDummy(t)));
    expect(ok.plug).toBe(true);
  });

  it('passes a decline on with its reason and creates no ctx', async () => {
    const { client } = await serve();
    await client.register('declines');
    const { instanceId } = await client.open('declines');
    const answer = await client.preparePort(create(instanceId, { lportName: 'lsp9' }));
    expect(answer).toMatchObject({ plug: false, ctxId: '', declineReason: 'NOT_MINE', declineMessage: 'lsp9 is not mine' });
    expect(t.registry.stats().ctxs).toBe(0);
  });
});

describe('FinishPort', () => {
  it('refuses an empty or unknown ctx, and a released one', async () => {
    const { client } = await serve();
    await expectStatus(client.finishPort(''), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    await expectStatus(client.finishPort('nope'), Code.NOT_FOUND, 'CTX_NOT_FOUND');
    const id = await openDummy(t);
    const created = await client.preparePort(create(id));
    await client.finishPort(created.ctxId);
    await client.finishPort(created.ctxId); // idempotent on a create ctx
    await client.destroyCtx(created.ctxId);
    await expectStatus(client.finishPort(created.ctxId), Code.NOT_FOUND, 'CTX_NOT_FOUND');

    const removed = await client.preparePort(create(id, { opType: OpType.OP_TYPE_REMOVE }));
    expect(removed).toMatchObject({ plug: true, name: '', type: '' });
    await client.finishPort(removed.ctxId); // releases a remove ctx
    await expectStatus(client.finishPort(removed.ctxId), Code.NOT_FOUND, 'CTX_NOT_FOUND');
    expect(t.registry.stats().ctxs).toBe(0);
  });

  it('reports a provider whose finish throws, and lets the caller retry or destroy', async () => {
    const { client } = await serve();
    await client.register('bad-finish');
    const { instanceId } = await client.open('bad-finish');
    const { ctxId } = await client.preparePort(create(instanceId));
    await expectStatus(client.finishPort(ctxId), Code.INTERNAL, 'PROVIDER_ERROR');
    await client.destroyCtx(ctxId);
    expect(t.registry.stats().ctxs).toBe(0);
  });
});

describe('DestroyCtx', () => {
  it('refuses an empty id and is idempotent otherwise', async () => {
    const { client } = await serve();
    await expectStatus(client.destroyCtx(''), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    await expectStatus(client.destroyCtx('x'.repeat(65)), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    await client.destroyCtx('never-existed');
    const { ctxId } = await client.preparePort(create(await openDummy(t)));
    await client.destroyCtx(ctxId);
    await client.destroyCtx(ctxId);
  });

  it('releases the ctx even when the provider destroy throws', async () => {
    const { client } = await serve();
    await client.register('bad-destroy-ctx');
    const { instanceId } = await client.open('bad-destroy-ctx');
    const { ctxId } = await client.preparePort(create(instanceId));
    await expectStatus(client.destroyCtx(ctxId), Code.INTERNAL, 'PROVIDER_ERROR');
    expect(t.registry.stats().ctxs).toBe(0);
    await client.destroyCtx(ctxId);
  });
});

describe('ListRepresentors', () => {
  it('refuses an unknown or malformed type and a provider without hardware ports', async () => {
    const { client } = await serve();
    await expectStatus(client.listRepresentors('nope'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
    await expectStatus(client.listRepresentors('a/b'), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    await expectStatus(client.listRepresentors('dummy'), Code.UNIMPLEMENTED, 'LISTING_UNSUPPORTED');
  });
});

describe('failed calls', () => {
  it('are logged once each, at warn, with method, code, reason and request id', async () => {
    const { client } = await serve();
    const before = t.logs.length;
    await expectStatus(client.open('nope'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
    const lines = t.logs.slice(before).filter((l) => l.method === '/vifplug.v1.VifPlug/Open');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', code: 'NOT_FOUND', reason: 'PROVIDER_NOT_FOUND' });
    expect(typeof lines[0]!.requestId).toBe('string');
  });
});
