/**
 * The product under test, in its own process: VifplugServer over a Registry
 * with the dummy provider (and the representor provider when its module and a
 * fake host are there), on a unix socket and TCP loopback, as vifplugd builds
 * it. The parent drives it over IPC: start, release ctxs between measurement
 * windows (outside the timing), report CPU and memory, exit.
 */
import { createLogger } from '../../src/log';
import { dummyProvider } from '../../src/providers/dummy/dummy';
import { Registry, type ProviderClass, type ProviderFactory } from '../../src/registry';
import { parseListen } from '../../src/server/listen';
import { VifplugServer } from '../../src/server/server';
import { serveParent } from '../lib/ipc';
import { probeProvider } from '../plugins/representor';

export interface RepresentorHostConfig {
  readonly sysfsRoot: string;
  readonly devlinkBin: string;
  readonly ipBin: string;
}

export interface StartArg {
  readonly unixPath: string;
  readonly representor?: RepresentorHostConfig;
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
    let why: string | undefined;
    if (arg.representor !== undefined) {
      const mod = probeProvider();
      if (mod.ok) {
        const config = { ...arg.representor, resyncIntervalMs: 0, logger };
        builtins.set('representor', () => mod.value.representorProvider(config) as ProviderClass);
      } else {
        why = mod.why;
      }
    }
    registry = new Registry({ builtins });
    await registry.register('dummy');
    let representor: Started['representor'];
    if (builtins.has('representor')) {
      const t0 = performance.now();
      try {
        await registry.register('representor');
        representor = { ok: true, initMs: performance.now() - t0 };
      } catch (err) {
        representor = { ok: false, why: `registering the representor provider failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    } else if (why !== undefined) {
      representor = { ok: false, why };
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
    return { unix, tcp, ...(representor === undefined ? {} : { representor }) };
  },

  /** Releases ctxs the load created, between windows. */
  async destroyCtxs(ids: string[]) {
    // One at a time: the registry bounds the provider calls in flight.
    for (const id of ids) await registry!.destroyCtx(id);
    return registry!.stats();
  },

  stats: () => registry?.stats(),

  async beforeExit() {
    await server?.shutdown();
    await registry?.destroyAll();
  },
});
