import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { Code, ServingStatus, VifplugError, type VifPlugMethod } from '../../src/client/client';
import { ErrorInfo } from '../../src/gen/google/rpc/error_details';
import { startTestServer, type TestServer } from '../helpers/server';
import { scriptedProvider, withTestProviders } from '../helpers/test-providers';

// Property-based fuzzing of every RPC's fields through a real client: 200 runs
// of 50 concurrent generated requests (10,000 in all) against a daemon with a
// synchronous, a declining and an asynchronous provider, so that lifecycle
// calls race port calls. Only the codes each RPC documents may come back,
// each with an ErrorInfo; afterwards the registry must be consistent.

const ALLOWED: Record<VifPlugMethod, number[]> = {
  register: [Code.OK, Code.INVALID_ARGUMENT, Code.ALREADY_EXISTS, Code.NOT_FOUND, Code.UNIMPLEMENTED],
  unregister: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.FAILED_PRECONDITION],
  listProviders: [Code.OK],
  open: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND],
  close: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND],
  run: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND],
  // INTERNAL only as PROVIDER_ANSWER_INVALID (checked below): the dummy and slow providers name interfaces
  // after lports, and the boundary refuses a name the kernel would.
  preparePort: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.RESOURCE_EXHAUSTED, Code.INTERNAL],
  finishPort: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND],
  destroyCtx: [Code.OK, Code.INVALID_ARGUMENT],
  listRepresentors: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.UNIMPLEMENTED],
  preparePorts: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND],
  finishPorts: [Code.OK, Code.INVALID_ARGUMENT],
  destroyCtxs: [Code.OK, Code.INVALID_ARGUMENT],
  identify: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.UNIMPLEMENTED],
  listCards: [Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.UNIMPLEMENTED],
};
/** Codes a single item of a batch may fail with (INTERNAL as for PreparePort). */
const ITEM_CODES = [Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.RESOURCE_EXHAUSTED, Code.INTERNAL];
/** The one reason INTERNAL may carry here: no provider of the test fails otherwise. */
const INTERNAL_REASON = 'PROVIDER_ANSWER_INVALID';
const TYPES = ['dummy', 'declines', 'slow'];

let t: TestServer;
const instanceIds: string[] = [];
const ctxIds: string[] = [];

beforeAll(async () => {
  t = await startTestServer({
    providers: TYPES,
    limits: { maxCtxs: 2000 },
    builtins: withTestProviders({
      declines: () => scriptedProvider('declines', () => ({ plug: false, reason: 'NOT_MINE', message: 'not mine' })),
      slow: () =>
        scriptedProvider('slow', async (lport) => {
          await new Promise((r) => setTimeout(r, lport.length % 3));
          return { plug: true, out: { name: lport.slice(0, 15) || 'x', type: '', ifaceOptions: new Map([['k', lport.slice(0, 10)]]) } };
        }),
    }),
  });
});
afterAll(async () => t.stop());

const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.constantFrom('', 'dummy', 'declines', 'slow', 'representor', 'nope', '../../etc/passwd', '$(reboot)', '; rm -rf / #', 'a'.repeat(65)) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 1020, maxLength: 1100 }) },
);
/** An id the daemon gave out, or something else. */
const idFrom = (known: string[]) => fc.oneof(text, fc.nat().map((i) => (known.length === 0 ? '' : known[i % known.length]!)));
const options = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(text, text, { maxKeys: 6 }).map((o) => new Map(Object.entries(o))) },
  { weight: 1, arbitrary: fc.integer({ min: 500, max: 530 }).map((n) => new Map(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))) },
);
const opType = fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: -3, max: 50 }));

const port = fc.record({ opType, useDpdk: fc.boolean(), lportName: text, lportOptions: options, ifaceName: text, ifaceType: text, ifaceOptions: options });

const request: fc.Arbitrary<{ method: VifPlugMethod; body: Record<string, unknown> }> = fc.oneof(
  fc.record({ method: fc.constant('register' as const), body: fc.record({ type: text, endpoint: fc.oneof(fc.constant(''), text) }) }),
  fc.record({ method: fc.constant('unregister' as const), body: fc.record({ type: text }) }),
  fc.record({ method: fc.constant('listProviders' as const), body: fc.constant({}) }),
  fc.record({ method: fc.constant('open' as const), body: fc.record({ type: text }) }),
  fc.record({ method: fc.constant('close' as const), body: fc.record({ instanceId: idFrom(instanceIds) }) }),
  fc.record({ method: fc.constant('run' as const), body: fc.record({ instanceId: fc.oneof(fc.constant(''), idFrom(instanceIds)) }) }),
  {
    arbitrary: fc.record({
      method: fc.constant('preparePort' as const),
      body: fc.record({
        instanceId: idFrom(instanceIds),
        opType,
        useDpdk: fc.boolean(),
        lportName: text,
        lportOptions: options,
        ifaceName: text,
        ifaceType: text,
        ifaceOptions: options,
      }),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ method: fc.constant('finishPort' as const), body: fc.record({ ctxId: idFrom(ctxIds) }) }), weight: 3 },
  { arbitrary: fc.record({ method: fc.constant('destroyCtx' as const), body: fc.record({ ctxId: idFrom(ctxIds) }) }), weight: 3 },
  fc.record({ method: fc.constant('listRepresentors' as const), body: fc.record({ type: text }) }),
  fc.record({ method: fc.constant('preparePorts' as const), body: fc.record({ instanceId: idFrom(instanceIds), ports: fc.array(port, { maxLength: 6 }) }) }),
  fc.record({ method: fc.constant('finishPorts' as const), body: fc.record({ ctxIds: fc.array(idFrom(ctxIds), { maxLength: 6 }), destroy: fc.boolean() }) }),
  fc.record({ method: fc.constant('destroyCtxs' as const), body: fc.record({ ctxIds: fc.array(idFrom(ctxIds), { maxLength: 6 }) }) }),
  fc.record({ method: fc.constant('identify' as const), body: fc.record({ type: fc.oneof(fc.constant(''), text), vfPciAddress: fc.oneof(fc.constant('0000:05:00.3'), text) }) }),
  fc.record({ method: fc.constant('listCards' as const), body: fc.record({ type: fc.oneof(fc.constant(''), text) }) }),
);

type ItemStatus = { code: number; details: { typeUrl: string; value: Uint8Array }[] };
/** Every failed item of a batch is explained like a failed call. */
function checkItems(method: string, statuses: ItemStatus[]): void {
  for (const s of statuses) {
    if (s.code === Code.OK) continue;
    expect(ITEM_CODES, `${method} item failed with ${s.code}`).toContain(s.code);
    expect(s.details[0]?.typeUrl).toBe('type.googleapis.com/google.rpc.ErrorInfo');
    if (s.code === Code.INTERNAL) expect(ErrorInfo.decode(s.details[0]!.value).reason).toBe(INTERNAL_REASON);
  }
}

const RUNS = 200;
const BATCH = 50;
/**
 * The test's budget scales with its requests: about 1 ms each (generating,
 * calling, checking) on an idle 2-core machine, 3 ms with the rest of the
 * suite beside it; fifteen leaves room for a machine loaded several times over.
 */
const BUDGET_MS = RUNS * BATCH * 15;

it('10,000 generated requests get only documented codes, each error explained, and leave the registry consistent', { timeout: BUDGET_MS }, async () => {
  const clients = [t.client, t.newClient(), t.newClient(), t.newClient()];
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      await Promise.all(
        batch.map(async ({ method, body }, i) => {
          sent++;
          try {
            const res = (await clients[i % clients.length]!.call(method, body as never)) as unknown as Record<string, unknown>;
            if (method === 'open') instanceIds.push(res.instanceId as string);
            if (method === 'preparePort' && res.plug) ctxIds.push(res.ctxId as string);
            if (method === 'preparePorts') {
              const results = res.results as { result?: { $case: string; value: { plug?: boolean; ctxId?: string } & ItemStatus } }[];
              for (const r of results) if (r.result?.$case === 'prepared' && r.result.value.plug) ctxIds.push(r.result.value.ctxId!);
              checkItems(method, results.filter((r) => r.result?.$case === 'error').map((r) => r.result!.value));
            }
            if (method === 'finishPorts' || method === 'destroyCtxs') checkItems(method, res.results as ItemStatus[]);
          } catch (err) {
            if (!(err instanceof VifplugError)) throw err;
            expect(ALLOWED[method], `${method} answered ${err.codeName}: ${err.message}`).toContain(err.code);
            expect(err.reason, `${method} ${err.codeName} without a reason`).toMatch(/^[A-Z][A-Z0-9_]*$/);
            expect(err.status?.errorInfo?.domain).toBe('vifplug');
            if (err.code === Code.INTERNAL) expect(err.reason, err.message).toBe(INTERNAL_REASON);
          }
        }),
      );
    }),
    { numRuns: RUNS },
  );
  expect(sent).toBe(RUNS * BATCH);

  // Invariants: nothing in flight, every ctx reachable by an id the daemon gave out, nothing leaked.
  expect(t.registry.stats().inflight).toBe(0);
  for (const id of ctxIds) await t.client.destroyCtx(id);
  expect(t.registry.stats().ctxs).toBe(0);
  const { providers } = await t.client.listProviders();
  for (const p of providers) if (p.open) await t.client.closeInstance(p.instanceId);
  for (const p of providers) await t.client.unregister(p.type);
  expect(t.registry.stats()).toMatchObject({ classes: 0, instances: 0, ctxs: 0, inflight: 0 });
  expect(await t.client.health()).toBe(ServingStatus.SERVING);
  for (const type of TYPES) await t.client.register(type);
});
