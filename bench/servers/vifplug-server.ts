/**
 * The product under test, in its own process: vifplugd as daemon.ts
 * assembles it (the built-in dummy, the representor provider when a fake
 * host is given, remote providers the cases register), on a unix socket and
 * TCP loopback. The parent drives it over IPC: start, release ctxs between
 * measurement windows (outside the timing), report CPU and memory, exit.
 */
import { parseListen } from '../../src/api/endpoint';
import { createLogger } from '../../src/common/log';
import { DEFAULT_DAEMON_CONFIG, startDaemon, type Daemon } from '../../src/daemon';
import type { RepresentorConfig } from '../../src/providers/representor';
import { DEFAULT_LIMITS } from '../../src/registry';
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

let daemon: Daemon | undefined;

serveParent({
  async start(arg: StartArg): Promise<Started> {
    const representor = arg.representor;
    daemon = await startDaemon(
      {
        ...DEFAULT_DAEMON_CONFIG,
        listen: [parseListen(`unix://${arg.unixPath}`), parseListen('127.0.0.1:0')],
        // Remote providers are registered by the cases (Register over the unix socket).
        providers: ['dummy'],
        shutdownGraceMs: 2000,
        // A remote provider's ports count in flight until it answers: 64
        // callers of PreparePorts x128 have 8,192 under way, as an operator
        // expecting that load would allow with --max-provider-calls.
        limits: { ...DEFAULT_LIMITS, maxCallsPerInstance: 16_384 },
        ...(representor === undefined ? {} : { representor: { ...representor, resyncIntervalMs: 0 } }),
        remoteProviders: { dir: undefined, probeIntervalMs: 5000, tls: undefined },
      },
      { logger: createLogger('info') },
    );
    let registered: Started['representor'];
    if (representor !== undefined) {
      const t0 = performance.now();
      try {
        await daemon.registry.register('representor');
        registered = { ok: true, initMs: performance.now() - t0 };
      } catch (err) {
        registered = { ok: false, why: `registering the representor provider failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    }
    const unix = daemon.endpoints.find((e) => e.address.kind === 'unix')!.target;
    const tcp = daemon.endpoints.find((e) => e.address.kind === 'tcp')!.target;
    return { unix, tcp, ...(registered === undefined ? {} : { representor: registered }) };
  },

  /** Releases ctxs the load created, between windows. */
  async destroyCtxs(ids: string[]) {
    // 256 at a time: within the provider calls the registry lets through,
    // and a remote provider's releases do not take longer than the window.
    for (let i = 0; i < ids.length; i += 256) await Promise.all(ids.slice(i, i + 256).map((id) => daemon!.registry.destroyCtx(id)));
    return daemon!.registry.stats();
  },

  stats: () => daemon?.registry.stats(),

  async beforeExit() {
    await daemon?.stop();
  },
});
