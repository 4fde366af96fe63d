import { describe, expect, it } from 'vitest';

import { dummyProvider } from '../../src/providers/dummy/dummy';
import { PlugError, Registry, type PortCtxIn, type ProviderClass, type ProviderFactory, type ProviderInstance } from '../../src/registry';

/** A deferred step a test releases when it wants the provider to continue. */
function step() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { done, release };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A provider whose every callback awaits a step the test controls, and which records calls. */
function slowProvider(type = 'slow') {
  const calls: string[] = [];
  const steps = { init: step(), destroy: step(), open: step(), close: step(), prepare: step(), finish: step(), destroyCtx: step() };
  const instance: ProviderInstance = {
    close: async () => {
      calls.push('close');
      await steps.close.done;
    },
    preparePort: async (ctxIn) => {
      calls.push(`prepare ${ctxIn.lportName}`);
      await steps.prepare.done;
      return { plug: true, out: { name: ctxIn.lportName, type: '', ifaceOptions: new Map() } };
    },
    finishPort: async () => {
      calls.push('finish');
      await steps.finish.done;
    },
    destroyPortCtx: async (ctxIn) => {
      calls.push(`destroyCtx ${ctxIn.lportName}`);
      await steps.destroyCtx.done;
    },
  };
  const cls: ProviderClass = {
    type,
    maintainedIfaceOptions: [],
    init: async () => {
      calls.push('init');
      await steps.init.done;
    },
    destroy: async () => {
      calls.push('destroy');
      await steps.destroy.done;
    },
    open: async () => {
      calls.push('open');
      await steps.open.done;
      return instance;
    },
  };
  return { cls, calls, steps };
}

function registryWith(classes: Record<string, ProviderFactory>): Registry {
  return new Registry({ builtins: new Map(Object.entries(classes)) });
}

function port(lportName: string, opType: 'create' | 'remove' = 'create'): PortCtxIn {
  return { opType, useDpdk: false, lportName, lportOptions: new Map(), ifaceName: '', ifaceType: '', ifaceOptions: new Map() };
}

async function rejection(p: Promise<unknown>): Promise<PlugError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlugError);
  return err as PlugError;
}

describe('Registry interleavings', () => {
  it('two Registers of one type race: one registers, the other is ALREADY_EXISTS, init runs once', async () => {
    const p = slowProvider();
    const r = registryWith({ slow: () => p.cls });
    const a = r.register('slow');
    const b = r.register('slow');
    await settle();
    p.steps.init.release();
    await a;
    expect((await rejection(b)).reason).toBe('PROVIDER_EXISTS');
    expect(p.calls).toEqual(['init']);
  });

  it('concurrent Opens of one type share a single instance and open it once', async () => {
    const p = slowProvider();
    const r = registryWith({ slow: () => p.cls });
    p.steps.init.release();
    await r.register('slow');
    const opens = [r.open('slow'), r.open('slow'), r.open('slow')];
    await settle();
    p.steps.open.release();
    const ids = new Set((await Promise.all(opens)).map((o) => o.instanceId));
    expect(ids.size).toBe(1);
    expect(p.calls.filter((c) => c === 'open')).toHaveLength(1);
  });

  it('Unregister racing an Open that is still opening waits for it, then refuses with PROVIDER_IN_USE', async () => {
    const p = slowProvider();
    const r = registryWith({ slow: () => p.cls });
    p.steps.init.release();
    await r.register('slow');
    const open = r.open('slow');
    const unregister = r.unregister('slow');
    await settle();
    p.steps.open.release();
    await open;
    expect((await rejection(unregister)).reason).toBe('PROVIDER_IN_USE');
    expect(r.list()).toMatchObject([{ type: 'slow', open: true }]);
    expect(p.calls).not.toContain('destroy');
  });

  it('an Open queued behind an Unregister that succeeds is NOT_FOUND, never an instance of a dead class', async () => {
    const p = slowProvider();
    const r = registryWith({ slow: () => p.cls });
    p.steps.init.release();
    await r.register('slow');
    const unregister = r.unregister('slow');
    const open = r.open('slow');
    await settle();
    p.steps.destroy.release();
    await unregister;
    expect((await rejection(open)).reason).toBe('PROVIDER_NOT_FOUND');
    expect(r.stats()).toMatchObject({ classes: 0, instances: 0 });
  });

  it('Close waits for prepares in flight, then destroys their ctxs before closing the instance', async () => {
    const p = slowProvider();
    const r = registryWith({ slow: () => p.cls });
    p.steps.init.release();
    p.steps.open.release();
    await r.register('slow');
    const { instanceId } = await r.open('slow');
    const prepare = r.preparePort(instanceId, port('lsp1'));
    await settle();
    const close = r.close(instanceId);
    await settle();
    // New work on a closing instance is refused; the one in flight goes on.
    expect((await rejection(r.preparePort(instanceId, port('lsp2')))).reason).toBe('INSTANCE_NOT_FOUND');
    expect(p.calls).toEqual(['init', 'open', 'prepare lsp1']);
    p.steps.prepare.release();
    const answer = await prepare;
    expect(answer.plug).toBe(true);
    p.steps.destroyCtx.release();
    p.steps.close.release();
    await close;
    expect(p.calls).toEqual(['init', 'open', 'prepare lsp1', 'destroyCtx lsp1', 'close']);
    expect(r.stats()).toEqual({ classes: 1, instances: 0, ctxs: 0, inflight: 0, reapedCtxs: 0 });
    if (answer.plug) expect((await rejection(r.finishPort(answer.ctxId))).reason).toBe('CTX_NOT_FOUND');
  });

  it('FinishPort twice at once notifies the provider once; DestroyCtx during a finish waits for it', async () => {
    const p = slowProvider();
    const r = registryWith({ slow: () => p.cls });
    for (const s of ['init', 'open', 'prepare', 'destroyCtx'] as const) p.steps[s].release();
    await r.register('slow');
    const { instanceId } = await r.open('slow');
    const answer = await r.preparePort(instanceId, port('lsp1'));
    if (!answer.plug) throw new Error('expected plug');
    const finishes = [r.finishPort(answer.ctxId), r.finishPort(answer.ctxId)];
    const destroy = r.destroyCtx(answer.ctxId);
    await settle();
    expect(p.calls.filter((c) => c === 'finish')).toHaveLength(1);
    expect(p.calls).not.toContain('destroyCtx lsp1');
    p.steps.finish.release();
    await Promise.all([...finishes, destroy]);
    expect(p.calls.slice(-2)).toEqual(['finish', 'destroyCtx lsp1']);
    expect(r.stats().ctxs).toBe(0);
  });

  it('a REMOVE ctx is released by FinishPort and never reaches destroyPortCtx', async () => {
    const p = slowProvider();
    const r = registryWith({ slow: () => p.cls });
    for (const s of Object.values(p.steps)) s.release();
    await r.register('slow');
    const { instanceId } = await r.open('slow');
    const answer = await r.preparePort(instanceId, port('gone', 'remove'));
    if (!answer.plug) throw new Error('expected plug');
    expect(answer.out).toBeUndefined();
    await r.finishPort(answer.ctxId);
    await r.destroyCtx(answer.ctxId);
    expect(p.calls.filter((c) => c.startsWith('destroyCtx'))).toEqual([]);
    expect(r.stats().ctxs).toBe(0);
  });

  it('destroyAll closes instances, releases ctxs and unregisters every class', async () => {
    const faults: string[] = [];
    const r = new Registry({
      builtins: new Map<string, ProviderFactory>([
        ['dummy', dummyProvider],
        ['stubborn', () => ({ ...dummyProvider(), type: 'stubborn', destroy: () => Promise.reject(new Error('no')) })],
      ]),
      onFault: (f) => faults.push(`${f.type} ${f.operation}`),
    });
    await r.register('dummy');
    await r.register('stubborn');
    const { instanceId } = await r.open('dummy');
    await r.preparePort(instanceId, port('lsp1'));
    await r.destroyAll();
    expect(r.stats()).toEqual({ classes: 1, instances: 0, ctxs: 0, inflight: 0, reapedCtxs: 0 });
    expect(faults).toEqual(['stubborn unregister']);
  });
});

describe('a release that cannot reach its provider', () => {
  /** A provider whose destroyPortCtx fails with `status` while `down` is set, and records what it released. */
  function flaky(status: 'UNAVAILABLE' | 'DEADLINE_EXCEEDED' | 'INTERNAL') {
    const state = { down: true, released: [] as string[], faults: [] as string[] };
    const cls: ProviderClass = {
      type: 'flaky',
      maintainedIfaceOptions: [],
      open: () => ({
        preparePort: (ctxIn) => ({ plug: true, out: { name: ctxIn.lportName, type: '', ifaceOptions: new Map() } }),
        destroyPortCtx: (ctxIn) => {
          if (state.down) throw new PlugError(status, status === 'INTERNAL' ? 'BROKEN' : 'PROVIDER_UNAVAILABLE', 'cannot now');
          state.released.push(ctxIn.lportName);
        },
      }),
    };
    return { cls, state };
  }

  it('fails DestroyCtx retryably and keeps the ctx (UNAVAILABLE, DEADLINE_EXCEEDED), so that a retry reaches the provider', async () => {
    for (const status of ['UNAVAILABLE', 'DEADLINE_EXCEEDED'] as const) {
      const { cls, state } = flaky(status);
      const r = registryWith({ flaky: () => cls });
      await r.register('flaky');
      const { instanceId } = await r.open('flaky');
      const answer = await r.preparePort(instanceId, port('lsp1'));
      if (!answer.plug) throw new Error('expected plug');
      await expect(r.destroyCtx(answer.ctxId)).rejects.toMatchObject({ status });
      expect(r.stats().ctxs).toBe(1);
      state.down = false;
      await r.destroyCtx(answer.ctxId);
      await r.destroyCtx(answer.ctxId);
      expect(state.released).toEqual(['lsp1']);
      expect(r.stats().ctxs).toBe(0);
    }
  });

  it('any other failure ends the ctx, as before: the caller is told, and a retry is OK', async () => {
    const { cls, state } = flaky('INTERNAL');
    const r = registryWith({ flaky: () => cls });
    await r.register('flaky');
    const { instanceId } = await r.open('flaky');
    const answer = await r.preparePort(instanceId, port('lsp1'));
    if (!answer.plug) throw new Error('expected plug');
    await expect(r.destroyCtx(answer.ctxId)).rejects.toMatchObject({ status: 'INTERNAL' });
    expect(r.stats().ctxs).toBe(0);
    await r.destroyCtx(answer.ctxId);
    expect(state.released).toEqual([]);
  });

  it('a ctx the reaper cannot release stays, quietly, and is released at a reaping once the provider is back', async () => {
    const { cls, state } = flaky('UNAVAILABLE');
    const faults: string[] = [];
    // The reaper looks every 50 ms at a TTL this short.
    const r = new Registry({ builtins: new Map([['flaky', () => cls]]), limits: { ctxTtlMs: 20 }, onFault: (f) => faults.push(f.operation) });
    await r.register('flaky');
    const { instanceId } = await r.open('flaky');
    await r.preparePort(instanceId, port('lsp1'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.stats()).toMatchObject({ ctxs: 1, reapedCtxs: 0 });
    expect(faults).toEqual([]);
    state.down = false;
    for (let i = 0; i < 50 && r.stats().ctxs > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.stats()).toMatchObject({ ctxs: 0, reapedCtxs: 1 });
    expect(state.released).toEqual(['lsp1']);
    await r.destroyAll();
  });
});
