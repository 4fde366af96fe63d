/**
 * vifplugd, assembled: the one place where its parts are put together, for
 * the program (cli/vifplugd.ts), the tests and the bench alike. A config in,
 * a running daemon out:
 *
 *   registry  <- built-in provider classes (dummy, representor), and remote
 *                providers (Register with an endpoint; --provider-dir)
 *   server    <- the VifPlug service over the registry, health, reflection,
 *                on every listener
 *   metrics   <- the registry and the server's calls, on --metrics-listen
 *
 * and a stop that undoes it in the reverse order. Flags, signals, exit codes
 * and the process's log lines are the program's, not this module's.
 */

import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';

import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { parseListen, type GrpcAddress, type TcpAddress } from './api/endpoint';
import { claimSocketPath, resolveGroup } from './common/socket-file';
import { CertificateFiles, type TlsFiles } from './grpc/tls';
import { BUILTIN_TYPES, builtinProviders, type ProviderHooks } from './providers/builtins';
import { DEFAULT_REPRESENTOR_CONFIG, type RepresentorConfig } from './providers/representor';
import { DEFAULT_LIMITS, Registry, describeError, isPlugError, type ProviderFactory, type RegistryLimits } from './registry';
import { remoteConnector } from './remote';
import { ProviderDirectory } from './remote/discovery';
import type { Metrics } from './server/metrics';
import { VifplugServer, type Endpoint } from './server/server';
import type { RegistrationPolicy } from './server/vifplug-service';

/** Everything vifplugd is configured with; the flags of cli/daemon-config.ts fill it. */
export interface DaemonConfig {
  readonly listen: readonly GrpcAddress[];
  /** Built-in provider types to register at start-up. */
  readonly providers: readonly string[];
  /** Permission bits of unix sockets. */
  readonly socketMode: number;
  /** A group name or number for unix sockets. */
  readonly socketGroup: string | undefined;
  /** TLS (mutual TLS with a client CA) for TCP listeners; re-read by reloadCertificates(). */
  readonly tls: TlsFiles | undefined;
  /** Serve plaintext TCP on non-loopback addresses. */
  readonly insecureTcp: boolean;
  /** Serve Prometheus metrics there; undefined: no metrics (prom-client is not even loaded). */
  readonly metricsListen: TcpAddress | undefined;
  /** How long calls in flight may finish at shutdown before they are cancelled. */
  readonly shutdownGraceMs: number;
  readonly limits: RegistryLimits;
  /** Who may call Register and Unregister. */
  readonly registration: RegistrationPolicy;
  /** Handed to the representor provider as it is. */
  readonly representor: RepresentorConfig;
  /** Out-of-process providers; undefined: this daemon takes none (Register with an endpoint is UNIMPLEMENTED). */
  readonly remoteProviders: RemoteProvidersConfig | undefined;
}

export interface RemoteProvidersConfig {
  /** A directory whose provider sockets are registered as they appear (kubelet's plugin watcher). */
  readonly dir: string | undefined;
  /** Health probes of remote providers, and the longest wait between attempts to reach one that is down. */
  readonly probeIntervalMs: number;
  /** TLS towards providers reached over TCP: a CA, and a client certificate for mutual TLS. */
  readonly tls: { readonly caFile: string; readonly certFile?: string; readonly keyFile?: string } | undefined;
}

export const DEFAULT_LISTEN = 'unix:///run/vifplug/vifplug.sock';

/** How vifplugd's operator names a socket path, for the remedy of a refused one. */
const LISTEN_SETTING = { flag: '--listen unix:///PATH' } as const;

/** What vifplugd does when told nothing. */
export const DEFAULT_DAEMON_CONFIG: DaemonConfig = {
  listen: [parseListen(DEFAULT_LISTEN)],
  providers: [...BUILTIN_TYPES].sort(),
  socketMode: 0o660,
  socketGroup: undefined,
  tls: undefined,
  insecureTcp: false,
  metricsListen: undefined,
  shutdownGraceMs: 10_000,
  limits: DEFAULT_LIMITS,
  registration: 'unix',
  representor: DEFAULT_REPRESENTOR_CONFIG,
  remoteProviders: { dir: undefined, probeIntervalMs: 5000, tls: undefined },
};

export interface DaemonDeps {
  readonly logger: Logger;
  /**
   * The built-in classes, by type, given the hooks every hardware provider
   * reports to. Default: the product's (providers/builtins.ts), built from
   * the config; a test replaces them with classes of its own.
   */
  readonly builtins?: (hooks: ProviderHooks) => ReadonlyMap<string, ProviderFactory>;
}

/** A running vifplugd. */
export interface Daemon {
  readonly registry: Registry;
  readonly server: VifplugServer;
  /** Where the server listens, with the ports TCP listeners were given. */
  readonly endpoints: readonly Endpoint[];
  /** http://HOST:PORT/metrics, when metrics are served. */
  readonly metricsUrl: string | undefined;
  /** Re-reads the TLS files of the listeners; throws, keeping the old ones, if they are unusable. */
  reloadCertificates(): void;
  /** Drains calls in flight (within the grace period), then lets go of every provider. Safe to call more than once. */
  stop(): Promise<void>;
  /** Cancels the calls still in flight (a second signal): stop() then finishes at once. */
  forceShutdown(): void;
}

/**
 * Starts vifplugd: registers the start-up providers, serves on every
 * listener, then watches --provider-dir and serves metrics. Throws, after
 * undoing whatever had started, when any of it fails.
 */
export async function startDaemon(config: DaemonConfig, deps: DaemonDeps): Promise<Daemon> {
  const { logger } = deps;
  const remote = config.remoteProviders;
  const providerTls = remote === undefined ? undefined : providerCredentials(remote.tls);
  let metrics: Metrics | undefined;
  let server: VifplugServer | undefined;
  const hooks: ProviderHooks = {
    logger,
    onRefreshed: (report) => {
      metrics?.refreshed(report);
      server?.hardwareRefreshed();
    },
  };
  const registry = new Registry({
    builtins: deps.builtins?.(hooks) ?? builtinProviders({ representor: config.representor, ...hooks }),
    remote: remote && remoteConnector({ providerTimeoutMs: config.limits.providerTimeoutMs, probeIntervalMs: remote.probeIntervalMs, tls: providerTls, logger }),
    onFault: ({ type, operation, error }) => logger.warn({ provider: type, operation, err: error }, `provider "${type}" failed in ${operation}`),
    limits: config.limits,
  });

  let directory: ProviderDirectory | undefined;
  let metricsServer: HttpServer | undefined;
  let metricsUrl: string | undefined;
  let serving = false;
  try {
    // A socket path that cannot be served is found before the providers read the hardware, so
    // that such a start fails at once, with one line (the server claims the paths again to bind).
    for (const address of config.listen) if (address.kind === 'unix') await claimSocketPath(address.path, LISTEN_SETTING);
    for (const type of config.providers) {
      await registry.register(type).catch((err: unknown) => {
        // The class table wraps an init failure ("provider X failed to initialize and was not
        // registered: ..."); say the provider once, then the cause, which carries the remedy.
        const why = isPlugError(err) && err.reason === 'PROVIDER_INIT_FAILED' && err.cause !== undefined ? describeError(err.cause) : describeError(err);
        throw new Error(`cannot start provider "${type}": ${why} (--providers chooses the built-in providers to start)`, { cause: err });
      });
    }
    // prom-client is loaded only when metrics are asked for: it costs start-up time.
    if (config.metricsListen !== undefined) metrics = new (await import('./server/metrics.js')).Metrics(registry);
    server = new VifplugServer({
      registry,
      listen: config.listen,
      logger,
      socketMode: config.socketMode,
      socketGroup: config.socketGroup === undefined ? undefined : await resolveGroup(config.socketGroup),
      socketSetting: LISTEN_SETTING,
      tls: config.tls === undefined ? undefined : new CertificateFiles(config.tls),
      insecureTcp: config.insecureTcp,
      metrics: metrics?.calls,
      shutdownGraceMs: config.shutdownGraceMs,
      registration: config.registration,
    });
    await server.start();
    serving = true;
    if (remote?.dir !== undefined) {
      directory = new ProviderDirectory({ dir: remote.dir, registry, logger, rescanMs: remote.probeIntervalMs, timeoutMs: config.limits.providerTimeoutMs, tls: providerTls });
      await directory.start();
    }
    if (metrics !== undefined && config.metricsListen !== undefined) {
      const { serveMetrics } = await import('./grpc/metrics-endpoint.js');
      const served = await serveMetrics(config.metricsListen, metrics, logger);
      metricsServer = served.server;
      metricsUrl = `http://${config.metricsListen.host}:${served.port}/metrics`;
    }
  } catch (err) {
    directory?.stop();
    metricsServer?.close();
    if (serving) {
      // Nothing waits for an answer from a daemon that failed to start.
      server!.forceShutdown();
      await server!.shutdown();
    }
    await registry.destroyAll();
    throw err;
  }

  const running = server;
  let stopping: Promise<void> | undefined;
  return {
    registry,
    server: running,
    endpoints: running.endpoints,
    metricsUrl,
    reloadCertificates: () => running.reloadCertificates(),
    forceShutdown: () => running.forceShutdown(),
    stop: () =>
      (stopping ??= (async () => {
        metricsServer?.close();
        directory?.stop();
        await running.shutdown();
        await registry.destroyAll();
      })()),
  };
}

/** Channel credentials for providers reached over TCP; read once at start. */
function providerCredentials(tls: RemoteProvidersConfig['tls']): ChannelCredentials | undefined {
  if (tls === undefined) return undefined;
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read ${file}: ${describeError(err)}`);
    }
  };
  try {
    return credentials.createSsl(read(tls.caFile), tls.keyFile === undefined ? null : read(tls.keyFile), tls.certFile === undefined ? null : read(tls.certFile));
  } catch (err) {
    throw new Error(`--provider-tls-*: ${describeError(err)}`, { cause: err });
  }
}
