import type { PrepareResult, ProviderClass, ProviderFactory, ProviderInstance } from '../../src/registry';
import { DUMMY_TYPE, dummyProvider } from '../../src/providers/dummy/dummy';

/**
 * Provider classes that exist only in the test process, to drive the
 * registry's failure paths through the real server: each misbehaves in one
 * callback.
 */
export function faultyProvider(type: string, fault: Partial<Record<'init' | 'destroy' | 'open' | 'run' | 'prepare' | 'finish' | 'destroyCtx', Error>>): ProviderClass {
  const instance: ProviderInstance = {
    run: () => {
      if (fault.run) throw fault.run;
      return false;
    },
    preparePort: (ctxIn): PrepareResult => {
      if (fault.prepare) throw fault.prepare;
      return ctxIn.opType === 'create'
        ? { plug: true, out: { name: ctxIn.lportName.slice(0, 15), type: '', ifaceOptions: new Map() } }
        : { plug: true };
    },
    finishPort: () => {
      if (fault.finish) throw fault.finish;
    },
    destroyPortCtx: () => {
      if (fault.destroyCtx) throw fault.destroyCtx;
    },
  };
  return {
    type,
    maintainedIfaceOptions: [],
    init: () => {
      if (fault.init) throw fault.init;
    },
    destroy: () => {
      if (fault.destroy) throw fault.destroy;
    },
    open: () => {
      if (fault.open) throw fault.open;
      return instance;
    },
  };
}

/** A provider whose answers the test scripts: declines, bad answers, or waits it controls. */
export function scriptedProvider(type: string, prepare: (lportName: string) => PrepareResult | Promise<PrepareResult>): ProviderClass {
  return {
    type,
    maintainedIfaceOptions: ['scripted-option'],
    open: () => ({ preparePort: (ctxIn) => prepare(ctxIn.lportName) }),
  };
}

/** The dummy built-in plus test-only classes. */
export function withTestProviders(extra: Record<string, ProviderFactory> = {}): Map<string, ProviderFactory> {
  return new Map<string, ProviderFactory>([[DUMMY_TYPE, dummyProvider], ...Object.entries(extra)]);
}
