import { afterAll, beforeAll, expect, it } from 'vitest';

import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ providers: ['dummy'] });
});
afterAll(async () => t.stop());

const CYCLES = 1000;
// Every cycle starts at once, so the last calls queue behind nearly all the
// others: on a loaded 2-core machine that is more than the client's default
// 5 s deadline (meant for one call on its own). Each call may take as long as
// the test: about 4 ms a cycle alone, room for ten times that under load.
const BUDGET_MS = CYCLES * 40;

it('1,000 concurrent prepare/finish/destroy cycles leave no ctx and the registry as it was', { timeout: BUDGET_MS + 5_000 }, async () => {
  const { instanceId } = await t.client.open('dummy');
  const before = { providers: await t.client.listProviders(), stats: t.registry.stats() };
  const clients = Array.from({ length: 8 }, () => t.newClient({ deadlineMs: BUDGET_MS }));

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
  const ids = await Promise.all(Array.from({ length: CYCLES }, (_, i) => cycle(i)));

  expect(new Set(ids).size).toBe(CYCLES);
  expect(t.registry.stats()).toEqual({ ...before.stats, ctxs: 0, inflight: 0 });
  expect(await t.client.listProviders()).toEqual(before.providers);
  for (const c of clients) c.close();
});
