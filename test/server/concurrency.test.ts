import { afterAll, beforeAll, expect, it } from 'vitest';

import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ providers: ['dummy'] });
});
afterAll(async () => t.stop());

it('1,000 concurrent prepare/finish/destroy cycles leave no ctx and the registry as it was', async () => {
  const { instanceId } = await t.client.open('dummy');
  const before = { providers: await t.client.listProviders(), stats: t.registry.stats() };
  const clients = Array.from({ length: 8 }, () => t.newClient());

  const cycle = async (i: number) => {
    const c = clients[i % clients.length]!;
    const op = i % 4 === 0 ? OpType.OP_TYPE_REMOVE : OpType.OP_TYPE_CREATE;
    const prepared = await c.preparePort({ instanceId, opType: op, lportName: `lsp-${i}`, lportOptions: new Map([['i', String(i)]]) });
    expect(prepared.plug).toBe(true);
    if (op === OpType.OP_TYPE_CREATE) expect(prepared.name).toBe(`lsp-${i}`.slice(0, 15));
    // Some callers commit, some fail their transaction and only destroy; a remove ctx is released by finish.
    if (op === OpType.OP_TYPE_REMOVE || i % 3 !== 0) await c.finishPort(prepared.ctxId);
    if (op === OpType.OP_TYPE_CREATE) await c.destroyCtx(prepared.ctxId);
    return prepared.ctxId;
  };
  const ids = await Promise.all(Array.from({ length: 1000 }, (_, i) => cycle(i)));

  expect(new Set(ids).size).toBe(1000);
  expect(t.registry.stats()).toEqual({ ...before.stats, ctxs: 0, inflight: 0 });
  expect(await t.client.listProviders()).toEqual(before.providers);
  for (const c of clients) c.close();
});
