/**
 * The product under test, in its own process: VifplugServer over a Registry
 * with the dummy provider (and the representor provider when its module and a
 * fake host are there, and remote providers the cases register), on a unix
 * socket and TCP loopback, as vifplugd builds it. The parent drives it over IPC: start, release ctxs between measurement
 * windows (outside the timing), report CPU and memory, exit.
 */
import { createLogger } from '../../src/common/log';
import { dummyProvider } from '../../src/providers/dummy/dummy';
import { representorProvider, type RepresentorConfig } from '../../src/providers/representor';
import { DEFAULT_LIMITS, Registry, type ProviderFactory } from '../../src/registry';
import { remoteConnector } from '../../src/remote';
import { parseListen } from '../../src/api/endpoint';
import { VifplugServer } from '../../src/server/server';
import { serveParent } from '../lib/ipc';

export interface StartArg {
  readonly unixPath: string;
  /** Registers the representor provider on this host (no periodic resync: the host does not change). */
  readonly representor?: Omit<RepresentorConfig, 'resyncIntervalMs'>;
}

export interface Started {
  readonly unix: string;
  readonly tcp: string;
  /** Registration of the representor provider: its init reads the whole host. */
  readonly representor?: { readonly ok: true; readonly initMs: number } | { readonly ok: false; readonly why: string };
}

let server: VifplugServer | undefined;
let registry: Registry | undefined;

serveParent({
  async start(arg: StartArg): Promise<Started> {
    const logger = createLogger('info');
    const builtins = new Map<string, ProviderFactory>([['dummy', dummyProvider]]);
    const representor = arg.representor;
    if (representor !== undefined) builtins.set('representor', () => representorProvider({ ...representor, resyncIntervalMs: 0 }, { logger }));
    // Remote providers are registered by the cases (Register over the unix socket).
    registry = new Registry({
      builtins,
      remote: remoteConnector({ providerTimeoutMs: DEFAULT_LIMITS.providerTimeoutMs, probeIntervalMs: 5000, logger }),
      // A remote provider's ports count in flight until it answers: 64
      // callers of PreparePorts x128 have 8,192 under way, as an operator
      // expecting that load would allow with --max-provider-calls.
      limits: { maxCallsPerInstance: 16_384 },
    });
    await registry.register('dummy');
    let registered: Started['representor'];
    if (representor !== undefined) {
      const t0 = performance.now();
      try {
        await registry.register('representor');
        registered = { ok: true, initMs: performance.now() - t0 };
      } catch (err) {
        registered = { ok: false, why: `registering the representor provider failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    }
    server = new VifplugServer({
      registry,
      listen: [parseListen(`unix://${arg.unixPath}`), parseListen('127.0.0.1:0')],
      logger,
      shutdownGraceMs: 2000,
    });
    await server.start();
    const unix = server.endpoints.find((e) => e.address.kind === 'unix')!.target;
    const tcp = server.endpoints.find((e) => e.address.kind === 'tcp')!.target;
    return { unix, tcp, ...(registered === undefined ? {} : { representor: registered }) };
  },

  /** Releases ctxs the load created, between windows. */
  async destroyCtxs(ids: string[]) {
    // 256 at a time: within the provider calls the registry lets through,
    // and a remote provider's releases do not take longer than the window.
    for (let i = 0; i < ids.length; i += 256) await Promise.all(ids.slice(i, i + 256).map((id) => registry!.destroyCtx(id)));
    return registry!.stats();
  },

  stats: () => registry?.stats(),

  async beforeExit() {
    await server?.shutdown();
    await registry?.destroyAll();
  },
});
