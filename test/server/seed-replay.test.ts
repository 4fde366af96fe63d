import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Code } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, type TestServer } from '../helpers/server';

// lib/test-plug.c of the seed, step by step, over gRPC. The seed's errnos map
// to status codes: EINVAL -> NOT_FOUND, EEXIST -> ALREADY_EXISTS,
// EBUSY -> FAILED_PRECONDITION.
describe('the seed unit test (lib/test-plug.c) over gRPC', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer({ providers: [] });
  });
  afterEach(async () => t.stop());

  it('holds step by step', async () => {
    const c = t.client;
    // ovs_assert(plug_unregister_provider("dummy") == EINVAL);
    await expectStatus(c.unregister('dummy'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
    // ovs_assert(plug_open("dummy", &plug) == EINVAL);
    await expectStatus(c.open('dummy'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');

    // ovs_assert(!plug_register_provider(&plug_dummy_class));
    const registered = await c.register('dummy');
    expect(registered.provider).toMatchObject({ type: 'dummy', open: false, maintainedIfaceOptions: ['plug-dummy-option'] });
    // ovs_assert(plug_register_provider(&plug_dummy_class) == EEXIST);
    await expectStatus(c.register('dummy'), Code.ALREADY_EXISTS, 'PROVIDER_EXISTS');
    // ovs_assert(!plug_run_instances());
    expect(await c.run()).toEqual({ changed: false });

    // ovs_assert(!plug_open("dummy", &plug));
    const opened = await c.open('dummy');
    expect(opened.instanceId).not.toBe('');
    // ovs_assert(plug_unregister_provider("dummy") == EBUSY);
    await expectStatus(c.unregister('dummy'), Code.FAILED_PRECONDITION, 'PROVIDER_IN_USE');

    // ovs_assert(sset_contains(plug_class_get_maintained_iface_options(plug), "plug-dummy-option"));
    expect(opened.maintainedIfaceOptions).toContain('plug-dummy-option');
    // ovs_assert(plug_run_instances());
    expect(await c.run()).toEqual({ changed: true });

    // plug_port_prepare(plug, {CREATE, use_dpdk false, "lsp1", {}}, &ctx_out)
    const prepared = await c.preparePort({
      instanceId: opened.instanceId,
      opType: OpType.OP_TYPE_CREATE,
      useDpdk: false,
      lportName: 'lsp1',
      lportOptions: new Map(),
    });
    // ctx_out.name == "lsp1", ctx_out.type == "internal", plug-dummy-option == "value"
    expect(prepared.plug).toBe(true);
    expect(prepared.name).toBe('lsp1');
    expect(prepared.type).toBe('internal');
    expect(prepared.ifaceOptions.get('plug-dummy-option')).toBe('value');
    expect(prepared.ctxId).not.toBe('');

    // plug_port_finish(plug, &ctx_in, &ctx_out); plug_port_ctx_destroy(plug, &ctx_in, &ctx_out);
    await c.finishPort(prepared.ctxId);
    await c.destroyCtx(prepared.ctxId);
    expect(t.registry.stats().ctxs).toBe(0);

    // plug_close(plug);
    await c.closeInstance(opened.instanceId);
    expect((await c.listProviders()).providers).toEqual([
      expect.objectContaining({ type: 'dummy', open: false, instanceId: '' }),
    ]);
    // plug_destroy_all(): with the instance closed, the class unregisters.
    await c.unregister('dummy');
    expect((await c.listProviders()).providers).toEqual([]);
  });
});
