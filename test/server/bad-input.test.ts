import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Code, ServingStatus, VifplugError } from '../../src/client/client';
import { OpType, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, type TestServer } from '../helpers/server';

const HUGE = 'x'.repeat(100 * 1024);

let t: TestServer;
let instanceId: string;
beforeAll(async () => {
  t = await startTestServer({ providers: ['dummy'] });
  instanceId = (await t.client.open('dummy')).instanceId;
});
afterAll(async () => {
  // Whatever was thrown at it, the daemon is healthy and holds nothing.
  expect(await t.client.health()).toBe(ServingStatus.SERVING);
  expect(t.registry.stats()).toMatchObject({ ctxs: 0, inflight: 0 });
  await t.stop();
});

const port = (extra: Record<string, unknown> = {}) => ({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1', ...extra });

describe('empty and 100 KB strings', () => {
  it.each([
    ['register', { type: '' }, 'MISSING_FIELD'],
    ['register', { type: HUGE }, 'INVALID_FIELD'],
    ['register', { type: 'dummy', endpoint: HUGE }, 'INVALID_FIELD'],
    ['unregister', { type: '' }, 'MISSING_FIELD'],
    ['unregister', { type: HUGE }, 'INVALID_FIELD'],
    ['open', { type: HUGE }, 'INVALID_FIELD'],
    ['close', { instanceId: '' }, 'MISSING_FIELD'],
    ['close', { instanceId: HUGE }, 'INVALID_FIELD'],
    ['run', { instanceId: HUGE }, 'INVALID_FIELD'],
    ['finishPort', { ctxId: '' }, 'MISSING_FIELD'],
    ['finishPort', { ctxId: HUGE }, 'INVALID_FIELD'],
    ['destroyCtx', { ctxId: HUGE }, 'INVALID_FIELD'],
    ['listRepresentors', { type: HUGE }, 'INVALID_FIELD'],
  ] as const)('%s %#', async (method, body, reason) => {
    const e = await expectStatus(t.client.call(method, body as never), Code.INVALID_ARGUMENT, reason);
    expect(e.message.length).toBeLessThan(1100);
  });

  it.each(['instanceId', 'lportName', 'ifaceName', 'ifaceType'])('PreparePort %s', async (field) => {
    await expectStatus(t.client.preparePort(port({ [field]: HUGE })), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
  });

  it('PreparePort with a 100 KB option key or value', async () => {
    await expectStatus(t.client.preparePort(port({ lportOptions: new Map([[HUGE, 'v']]) })), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    await expectStatus(t.client.preparePort(port({ ifaceOptions: new Map([['k', HUGE]]) })), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
  });
});

describe('hostile values', () => {
  it('50,000 options are refused, naming the field and the limit', async () => {
    const many = new Map(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'v']));
    const e = await expectStatus(t.client.preparePort(port({ lportOptions: many })), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    expect(e.status?.message).toBe('lport_options: at most 512 entries, got 50000');
  });

  it('an oversized message is refused by gRPC before any code of ours runs', async () => {
    const err = await t.client.preparePort(port({ lportName: 'x'.repeat(2 * 1024 * 1024) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VifplugError);
    expect((err as VifplugError).code).toBe(Code.RESOURCE_EXHAUSTED);
  });

  it('path-like and shell-like option values are opaque data to the dummy provider; as lport names, they plug only as netdev names', async () => {
    const hostile = ['../../../../etc/passwd', '$(reboot)', '`id`', '; rm -rf / #', '\u0000\n\r', '%s%n%x'];
    for (const value of hostile) {
      const answer = await t.client.preparePort(port({ lportName: 'lsp1', lportOptions: new Map([['vif-plug-type', value]]) }));
      expect(answer.plug).toBe(true);
      await t.client.destroyCtx(answer.ctxId);
    }
    // The dummy names the interface after the lport: a name the kernel refuses is refused at the boundary.
    const plugged: string[] = [];
    for (const value of hostile) {
      const answer = await t.client.preparePort(port({ lportName: value })).catch((err: unknown) => err as VifplugError);
      if (answer instanceof VifplugError) {
        expect([answer.code, answer.reason, answer.metadata.get('field')]).toEqual([Code.INTERNAL, 'PROVIDER_ANSWER_INVALID', 'ctx_out.name']);
        continue;
      }
      plugged.push(answer.name);
      await t.client.destroyCtx(answer.ctxId);
    }
    expect(plugged).toEqual(['$(reboot)', '`id`', '%s%n%x']);
  });

  it('unknown ids are NOT_FOUND (DestroyCtx: OK)', async () => {
    await expectStatus(t.client.preparePort(port({ instanceId: 'AAAAAAAAAAAAAAAAAAAAAA' })), Code.NOT_FOUND, 'INSTANCE_NOT_FOUND');
    await expectStatus(t.client.run('AAAAAAAAAAAAAAAAAAAAAA'), Code.NOT_FOUND, 'INSTANCE_NOT_FOUND');
    await expectStatus(t.client.finishPort('AAAAAAAAAAAAAAAAAAAAAA'), Code.NOT_FOUND, 'CTX_NOT_FOUND');
    await t.client.destroyCtx('AAAAAAAAAAAAAAAAAAAAAA');
  });
});

describe('bytes that are not the message', () => {
  const raw = (bytes: Buffer) =>
    new Promise<unknown>((resolve) => {
      t.client.grpc.makeUnaryRequest(
        VifPlugService.preparePort.path,
        (b: Buffer) => b,
        VifPlugService.preparePort.responseDeserialize,
        bytes,
        new Metadata(),
        { deadline: Date.now() + 5000 },
        (err, res) => resolve(err ?? res),
      );
    });

  it('a truncated or garbled request is INVALID_ARGUMENT, not INTERNAL', async () => {
    for (const bytes of [Buffer.from([0x0a, 0xff, 0xff, 0xff]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from('\x22\x05ab')]) {
      const err = (await raw(bytes)) as { code: number; metadata: Metadata };
      expect(err.code).toBe(Code.INVALID_ARGUMENT);
      expect(new VifplugError(err as never, 'PreparePort').reason).toBe('MALFORMED_REQUEST');
    }
  });

  it('invalid UTF-8 in a string field does not upset the daemon', async () => {
    // field 4 (lport_name), length 3, bytes that are not UTF-8; field 2 (op_type) = 1; field 1 = instance id.
    const id = Buffer.from(instanceId);
    const bytes = Buffer.concat([Buffer.from([0x0a, id.length]), id, Buffer.from([0x10, 0x01, 0x22, 0x03, 0xc3, 0x28, 0xff])]);
    const answer = (await raw(bytes)) as { plug?: boolean; ctxId?: string; code?: number };
    if (answer.plug) await t.client.destroyCtx(answer.ctxId!);
    else expect(answer.code).toBe(Code.INVALID_ARGUMENT);
  });
});
