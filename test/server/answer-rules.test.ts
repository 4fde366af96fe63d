import { afterEach, describe, expect, it } from 'vitest';

import { Code } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import type { PortCtxOut, ProviderClass } from '../../src/registry';
import { expectStatus } from '../helpers/expect-status';
import { GARBAGE, goodAnswer, reasonOf } from '../helpers/garbage-answers';
import { startTestServer, type TestServer } from '../helpers/server';
import { withTestProviders } from '../helpers/test-providers';

// The answer rules at the boundary, for a provider built into the daemon: an
// answer no OVS or kernel could use is refused before any caller sees it as
// a plug (INTERNAL, PROVIDER_ANSWER_INVALID, naming the provider, the field
// and the problem), and a positive one is released at once with exactly one
// destroyPortCtx. Remote providers: test/remote/answer-rules.test.ts.

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A built-in provider answering GARBAGE[lport] (or a good answer), recording every destroyPortCtx. */
function garbageProvider(destroyed: { lport: string; out: PortCtxOut }[]): ProviderClass {
  return {
    type: 'garbage',
    maintainedIfaceOptions: [],
    open: () => ({
      preparePort: async (ctxIn) => GARBAGE[ctxIn.lportName]?.answer ?? goodAnswer(ctxIn.lportName),
      destroyPortCtx: (ctxIn, out) => void destroyed.push({ lport: ctxIn.lportName, out }),
    }),
  };
}

const create = (instanceId: string, lportName: string) => ({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });

describe('a built-in provider answering what no OVS or kernel could use', () => {
  it('is refused per answer, naming the provider, the field and the problem; a positive answer is released once; other calls go on', async () => {
    const destroyed: { lport: string; out: PortCtxOut }[] = [];
    t = await startTestServer({ builtins: withTestProviders({ garbage: () => garbageProvider(destroyed) }), providers: ['dummy', 'garbage'] });
    const garbage = (await t.client.open('garbage')).instanceId;
    const dummy = (await t.client.open('dummy')).instanceId;
    for (const [lport, want] of Object.entries(GARBAGE)) {
      // A call of another provider, and a good one of the same, in flight alongside.
      const [bad, other, good] = await Promise.allSettled([
        t.client.preparePort(create(garbage, lport)),
        t.client.preparePort(create(dummy, `d-${lport}`)),
        t.client.preparePort(create(garbage, `g-${lport}`.slice(0, 15))),
      ]);
      const err = await expectStatus(bad.status === 'rejected' ? Promise.reject(bad.reason) : Promise.resolve(bad.value), Code.INTERNAL, 'PROVIDER_ANSWER_INVALID');
      expect(err.message, lport).toContain('provider "garbage" answered PreparePort with what no OVS or kernel could use');
      expect(Object.fromEntries(err.metadata), lport).toMatchObject({ type: 'garbage', operation: 'PreparePort', field: want.field, problem: want.problem });
      expect(other).toMatchObject({ status: 'fulfilled', value: { plug: true } });
      expect(good).toMatchObject({ status: 'fulfilled', value: { plug: true } });
      await new Promise((r) => setImmediate(r));
      expect(destroyed.filter((d) => d.lport === lport), lport).toHaveLength(want.released ? 1 : 0);
    }
    // The released answer is the provider's own (its ctx_out as answered; an empty one when it gave none).
    expect(destroyed.find((d) => d.lport === 'slash-name')?.out.name).toBe('vm1/eth0');
    expect(destroyed.find((d) => d.lport === 'no-name')?.out).toMatchObject({ name: '', type: '' });
    // Only the good answers became ctxs; the refusals were logged, naming the provider.
    expect(t.registry.stats().ctxs).toBe(2 * Object.keys(GARBAGE).length);
    expect(t.logs.filter((l) => l.reason === 'PROVIDER_ANSWER_INVALID').length).toBeGreaterThan(0);
  });

  it('in a PreparePorts: the broken ports fail alone, the others are plugged', async () => {
    const destroyed: { lport: string; out: PortCtxOut }[] = [];
    t = await startTestServer({ builtins: withTestProviders({ garbage: () => garbageProvider(destroyed) }), providers: ['garbage'] });
    const { instanceId } = await t.client.open('garbage');
    const lports = ['good1', 'slash-name', 'good2', 'tunnel-type', 'silent-decline'];
    const { results } = await t.client.preparePorts(instanceId, lports.map((lportName) => ({ opType: OpType.OP_TYPE_CREATE, lportName })));
    expect(results.map((r) => (r.result?.$case === 'prepared' ? 'plug' : r.result && reasonOf(r.result.value)))).toEqual([
      'plug',
      'PROVIDER_ANSWER_INVALID',
      'plug',
      'PROVIDER_ANSWER_INVALID',
      'PROVIDER_ANSWER_INVALID',
    ]);
    await new Promise((r) => setImmediate(r));
    expect(destroyed.map((d) => d.lport).sort()).toEqual(['slash-name', 'tunnel-type']);
  });
});
