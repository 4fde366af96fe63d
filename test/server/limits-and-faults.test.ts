import { afterEach, describe, expect, it, vi } from 'vitest';

import { Code, ServingStatus } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import type { PrepareResult } from '../../src/registry';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, type TestServer } from '../helpers/server';
import { scriptedProvider, withTestProviders } from '../helpers/test-providers';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const create = (instanceId: string, lportName: string) => ({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const plugged = (name: string): PrepareResult => ({ plug: true, out: { name, type: '', ifaceOptions: new Map() } });

/** A provider whose prepares for lports named "hang*" wait for the test, and throw for "throw*". */
function troublesome() {
  const waiting: (() => void)[] = [];
  const factory = () =>
    scriptedProvider('trouble', async (lport) => {
      if (lport.startsWith('throw')) throw new TypeError(`cannot read properties of undefined (reading '${lport}')`);
      if (lport.startsWith('hang')) await new Promise<void>((resolve) => waiting.push(resolve));
      return plugged(lport);
    });
  return { factory, releaseAll: () => waiting.splice(0).forEach((r) => r()), waiting: () => waiting.length };
}

describe('limits', () => {
  it('refuses ctxs beyond --max-ctx with RESOURCE_EXHAUSTED, and recovers when ctxs are released', async () => {
    t = await startTestServer({ providers: ['dummy'], limits: { maxCtxs: 5 } });
    const { instanceId } = await t.client.open('dummy');
    const ctxs = [];
    for (let i = 0; i < 5; i++) ctxs.push((await t.client.preparePort(create(instanceId, `lsp${i}`))).ctxId);
    const refused = await expectStatus(t.client.preparePort(create(instanceId, 'lsp5')), Code.RESOURCE_EXHAUSTED, 'CTX_LIMIT');
    expect(refused.message).toContain('finish and destroy');
    expect(refused.status?.retryInfo?.retryDelay?.seconds).toBe(1);
    await t.client.destroyCtx(ctxs[0]!);
    expect((await t.client.preparePort(create(instanceId, 'lsp5'))).plug).toBe(true);
  });

  it('reaps ctxs older than --ctx-ttl; FinishPort on them is NOT_FOUND; new ports still work', async () => {
    t = await startTestServer({ providers: ['dummy'], limits: { ctxTtlMs: 200 } });
    const { instanceId } = await t.client.open('dummy');
    const old = await t.client.preparePort(create(instanceId, 'forgotten'));
    for (let i = 0; i < 100 && t.registry.stats().ctxs > 0; i++) await sleep(20);
    expect(t.registry.stats()).toMatchObject({ ctxs: 0, reapedCtxs: 1 });
    await expectStatus(t.client.finishPort(old.ctxId), Code.NOT_FOUND, 'CTX_NOT_FOUND');
    const fresh = await t.client.preparePort(create(instanceId, 'fresh'));
    await t.client.finishPort(fresh.ctxId);
    await t.client.destroyCtx(fresh.ctxId);
  });

  it('refuses calls beyond the per-provider concurrency with RESOURCE_EXHAUSTED, and recovers', async () => {
    const trouble = troublesome();
    t = await startTestServer({ builtins: withTestProviders({ trouble: trouble.factory }), providers: ['trouble'], limits: { maxCallsPerInstance: 2 } });
    const { instanceId } = await t.client.open('trouble');
    const hung = [t.client.preparePort(create(instanceId, 'hang1')), t.client.preparePort(create(instanceId, 'hang2'))];
    for (let i = 0; i < 100 && trouble.waiting() < 2; i++) await sleep(10);
    await expectStatus(t.client.preparePort(create(instanceId, 'third')), Code.RESOURCE_EXHAUSTED, 'PROVIDER_BUSY');
    trouble.releaseAll();
    await Promise.all(hung);
    expect((await t.client.preparePort(create(instanceId, 'third'))).plug).toBe(true);
  });
});

describe('fault isolation', () => {
  it('a provider that throws fails only that call, with INTERNAL, logged once with its stack', async () => {
    t = await startTestServer({ builtins: withTestProviders({ trouble: troublesome().factory }), providers: ['trouble', 'dummy'] });
    const trouble = (await t.client.open('trouble')).instanceId;
    const dummy = (await t.client.open('dummy')).instanceId;
    const [bad, good] = await Promise.allSettled([t.client.preparePort(create(trouble, 'throw1')), t.client.preparePort(create(dummy, 'ok1'))]);
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: Code.INTERNAL, reason: 'PROVIDER_ERROR' } });
    expect(good).toMatchObject({ status: 'fulfilled', value: { plug: true } });
    const lines = t.logs.filter((l) => l.reason === 'PROVIDER_ERROR');
    expect(lines).toHaveLength(1);
    expect((lines[0]!.err as { stack: string }).stack).toContain('TypeError');
    expect(await t.client.health()).toBe(ServingStatus.SERVING);
    expect(t.registry.stats()).toMatchObject({ inflight: 0, ctxs: 1 });
  });

  it('a provider that hangs fails that call at the provider timeout, while other calls go on', async () => {
    const trouble = troublesome();
    t = await startTestServer({ builtins: withTestProviders({ trouble: trouble.factory }), providers: ['trouble', 'dummy'], limits: { providerTimeoutMs: 300 } });
    const troubled = (await t.client.open('trouble')).instanceId;
    const dummy = (await t.client.open('dummy')).instanceId;
    const hung = t.client.preparePort(create(troubled, 'hang-forever')).catch((e: unknown) => e);
    for (let i = 0; i < 20; i++) expect((await t.client.preparePort(create(dummy, `ok${i}`))).plug).toBe(true);
    expect(await hung).toMatchObject({ code: Code.DEADLINE_EXCEEDED, reason: 'PROVIDER_TIMEOUT' });
    expect(t.registry.stats().inflight).toBe(0);

    // The provider answers long after: what it prepared is released, not kept as a ctx nobody knows.
    const before = t.registry.stats().ctxs;
    trouble.releaseAll();
    await sleep(50);
    expect(t.registry.stats().ctxs).toBe(before);
    // And the instance closes without waiting for the abandoned call.
    await t.client.closeInstance(troubled);
  });

  it("honours the caller's deadline and cancellation: a ctx prepared for a caller that left is released", async () => {
    const trouble = troublesome();
    t = await startTestServer({ builtins: withTestProviders({ trouble: trouble.factory }), providers: ['trouble'] });
    const { instanceId } = await t.client.open('trouble');
    const late = await t.client.preparePort(create(instanceId, 'hang-then-answer'), { deadlineMs: 200 }).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    trouble.releaseAll();
    // The late answer is handed back and released: wait until nothing is in flight, then no ctx may remain.
    await vi.waitFor(() => expect(t!.registry.stats().inflight).toBe(0));
    expect(t.registry.stats()).toMatchObject({ ctxs: 0, inflight: 0 });
    expect(await t.client.health()).toBe(ServingStatus.SERVING);
  });
});
