import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Code } from '../../src/client/client';
import { ErrorInfo } from '../../src/gen/google/rpc/error_details';
import type { Status } from '../../src/gen/google/rpc/status';
import { OpType, type PortResult } from '../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;
let instanceId: string;
beforeAll(async () => {
  t = await startTestServer({ providers: ['dummy'] });
  instanceId = (await t.client.open('dummy')).instanceId;
});
afterAll(async () => t.stop());

const reason = (s: Status) => ErrorInfo.decode(s.details[0]!.value).reason;
const prepared = (r: PortResult) => (r.result?.$case === 'prepared' ? r.result.value : undefined);
const error = (r: PortResult) => (r.result?.$case === 'error' ? r.result.value : undefined);

describe('PreparePorts', () => {
  it('answers every port in order, each with its own result or error', async () => {
    const { results } = await t.client.preparePorts(instanceId, [
      { opType: OpType.OP_TYPE_CREATE, lportName: 'lsp-a' },
      { opType: OpType.OP_TYPE_CREATE, lportName: '' },
      { opType: OpType.OP_TYPE_REMOVE, lportName: 'lsp-c' },
      { opType: OpType.OP_TYPE_UNSPECIFIED, lportName: 'lsp-d' },
      { opType: OpType.OP_TYPE_CREATE, lportName: 'a-long-lport-name-e', lportOptions: new Map([['k', 'v']]) },
    ]);
    expect(results.map((r) => r.result?.$case)).toEqual(['prepared', 'error', 'prepared', 'error', 'prepared']);
    expect(prepared(results[0]!)).toMatchObject({ plug: true, name: 'lsp-a', type: 'internal' });
    expect(prepared(results[4]!)?.name).toBe('a-long-lport-na');
    const missing = error(results[1]!)!;
    expect(missing.code).toBe(Code.INVALID_ARGUMENT);
    expect(reason(missing)).toBe('MISSING_FIELD');
    expect(missing.message).toMatch(/^ports\[1\]\.lport_name: /);
    expect(ErrorInfo.decode(missing.details[0]!.value).metadata.get('field')).toBe('ports[1].lport_name');
    expect(error(results[3]!)!.message).toMatch(/^ports\[3\]\.op_type/);

    const ctxIds = results.flatMap((r) => prepared(r)?.ctxId ?? []);
    expect(t.registry.stats().ctxs).toBe(3);
    const finished = await t.client.finishPorts(ctxIds, true);
    expect(finished.results.map((s) => s.code)).toEqual([0, 0, 0]);
    expect(t.registry.stats().ctxs).toBe(0);
  });

  it('fails as a whole only for the instance and the batch size', async () => {
    await expectStatus(t.client.preparePorts('', []), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    await expectStatus(t.client.preparePorts('nope', [{ opType: OpType.OP_TYPE_CREATE, lportName: 'x' }]), Code.NOT_FOUND, 'INSTANCE_NOT_FOUND');
    const tooMany = Array.from({ length: 1025 }, (_, i) => ({ opType: OpType.OP_TYPE_CREATE, lportName: `l${i}` }));
    await expectStatus(t.client.preparePorts(instanceId, tooMany), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    expect((await t.client.preparePorts(instanceId, [])).results).toEqual([]);
    expect(t.registry.stats().ctxs).toBe(0);
  });

  it('runs a 128-port reconcile loop in three calls and leaves nothing behind', async () => {
    const ports = Array.from({ length: 128 }, (_, i) => ({ opType: OpType.OP_TYPE_CREATE, lportName: `lsp-${i}` }));
    for (let loop = 0; loop < 3; loop++) {
      const { results } = await t.client.preparePorts(instanceId, ports);
      const ids = results.map((r) => prepared(r)!.ctxId);
      expect(new Set(ids).size).toBe(128);
      // Half the ports committed, half did not.
      const done = await t.client.finishPorts(ids.slice(0, 64), true);
      expect(done.results.every((s) => s.code === 0)).toBe(true);
      const dropped = await t.client.destroyCtxs(ids.slice(64));
      expect(dropped.results.every((s) => s.code === 0)).toBe(true);
    }
    expect(t.registry.stats()).toMatchObject({ ctxs: 0, inflight: 0 });
  });
});

describe('FinishPorts and DestroyCtxs', () => {
  it('answer each ctx id on its own', async () => {
    const { ctxId } = await t.client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'one' });
    const finished = await t.client.finishPorts([ctxId, 'unknown', ''], false);
    expect(finished.results.map((s) => s.code)).toEqual([0, Code.NOT_FOUND, Code.INVALID_ARGUMENT]);
    expect(finished.results.slice(1).map(reason)).toEqual(['CTX_NOT_FOUND', 'MISSING_FIELD']);
    expect(finished.results[2]!.message).toMatch(/^ctx_ids\[2\]\.ctx_id/);
    expect(t.registry.stats().ctxs).toBe(1);
    const destroyed = await t.client.destroyCtxs([ctxId, ctxId, 'unknown']);
    expect(destroyed.results.map((s) => s.code)).toEqual([0, 0, 0]);
    expect(t.registry.stats().ctxs).toBe(0);
    await expectStatus(t.client.destroyCtxs(Array(1025).fill('x')), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
  });
});
