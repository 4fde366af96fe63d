import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { VifPlugService } from '../gen/vifplug/v1/vifplug';
import type { Registry } from '../registry';
import { Health, HealthService, ServingStatus } from './health';
import { ProviderHealthEntries } from './provider-health';
import { LIMITS } from './limits';
import { RateLimiter } from '../log';
import { bindTarget, claimSocketPath, isLoopback, protectSocket, releaseSocket, type ListenAddress } from './listen';
import { NO_METRICS, type CallMetrics } from './call-metrics';
import { DescriptorIndex, ReflectionV1AlphaService, ReflectionV1Service, reflectionImplementation } from './reflection';
import type { CertificateFiles } from './tls';
import { implement, tolerant, type EdgeContext } from './unary';
import { vifPlugHandlers, type RegistrationPolicy } from './vifplug-service';
import { WatchHub } from './watch';

export const VIFPLUG_SERVICE = 'vifplug.v1.VifPlug';

export interface ServerConfig {
  readonly registry: Registry;
  readonly listen: readonly ListenAddress[];
  readonly logger: Logger;
  /** Permission bits of unix sockets. */
  readonly socketMode?: number;
  /** Group that owns unix sockets (with socketMode 0660, the group's members may call). */
  readonly socketGroup?: number;
  /** TLS (mutual TLS with a client CA) for TCP listeners. */
  readonly tls?: CertificateFiles;
  /** Serve plaintext TCP on non-loopback addresses; off by default. */
  readonly insecureTcp?: boolean;
  readonly metrics?: CallMetrics;
  /** How long in-flight calls may take to finish at shutdown before they are cancelled. */
  readonly shutdownGraceMs?: number;
  /** Who may call Register and Unregister (default: callers on unix sockets). */
  readonly registration?: RegistrationPolicy;
}

/** A bound address and the target a client dials to reach it. */
export interface Endpoint {
  readonly address: ListenAddress;
  readonly target: string;
}

const DEFAULT_SOCKET_MODE = 0o660;
const DEFAULT_GRACE_MS = 10_000;

/**
 * The gRPC server: VifPlug over the registry, health and reflection, on unix
 * sockets and TCP. `start` binds every address or none; `shutdown` stops
 * accepting, lets calls in flight finish within the grace period, and removes
 * the sockets it created.
 */
export class VifplugServer {
  readonly health = new Health([VIFPLUG_SERVICE]);
  /** The Watch streams. */
  readonly watches: WatchHub;
  private readonly grpc: Server;
  private readonly providerHealth: ProviderHealthEntries;
  private readonly sockets: { path: string; inode: number }[] = [];
  private readonly bound: Endpoint[] = [];
  private draining = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly config: ServerConfig) {
    // Channelz stays on: grpc-js 1.14 tracks sessions for forceShutdown only
    // when channelz is enabled, so disabling it leaves cancelled calls hanging.
    this.grpc = new Server({ 'grpc.max_receive_message_length': LIMITS.maxMessageBytes });
    const metrics = config.metrics ?? NO_METRICS;
    const edge: EdgeContext = { logger: config.logger, metrics, failures: new RateLimiter(), isDraining: () => this.draining };
    // Built on first use: start-up does not pay for descriptors nobody asked for.
    let index: DescriptorIndex | undefined;
    const descriptors = () => (index ??= DescriptorIndex.served());
    const served = [VIFPLUG_SERVICE, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
    this.watches = new WatchHub(config.registry.changes);
    this.providerHealth = new ProviderHealthEntries(this.health, config.registry);
    this.grpc.addService(tolerant(VifPlugService), {
      ...implement(VifPlugService, vifPlugHandlers(config.registry, config.registration), edge),
      watch: this.watches.handler(edge),
    });
    this.grpc.addService(tolerant(HealthService), this.health.implementation(edge));
    for (const service of [ReflectionV1Service, ReflectionV1AlphaService]) {
      this.grpc.addService(service, reflectionImplementation(service.serverReflectionInfo.path, descriptors, served, metrics));
    }
  }

  get endpoints(): readonly Endpoint[] {
    return this.bound;
  }

  async start(): Promise<void> {
    try {
      for (const address of this.config.listen) await this.bind(address);
    } catch (err) {
      this.grpc.forceShutdown();
      await this.releaseSockets();
      throw err;
    }
    this.health.setAll(ServingStatus.SERVING);
    this.providerHealth.start();
  }

  /** A hardware provider re-read the hardware (RefreshListener): its health entry may change. */
  hardwareRefreshed(): void {
    this.providerHealth.sync();
  }

  /** Re-reads the TLS files (SIGHUP); new connections use them, a failure keeps the old ones. */
  reloadCertificates(): void {
    this.config.tls?.reload();
  }

  /** Graceful stop; safe to call more than once. */
  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  /** Cancels whatever is still in flight (a second signal, or a test's cleanup). */
  forceShutdown(): void {
    this.draining = true;
    this.grpc.forceShutdown();
  }

  private async stop(): Promise<void> {
    this.draining = true;
    this.providerHealth.stop();
    this.health.setAll(ServingStatus.NOT_SERVING);
    this.health.endWatches();
    this.watches.endAll();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.config.logger.warn({ graceMs: this.grace }, 'calls still in flight after the grace period; cancelling them');
        this.grpc.forceShutdown();
        resolve();
      }, this.grace);
      this.grpc.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.releaseSockets();
  }

  private get grace(): number {
    return this.config.shutdownGraceMs ?? DEFAULT_GRACE_MS;
  }

  private async bind(address: ListenAddress): Promise<void> {
    if (address.kind === 'tcp' && this.config.tls === undefined && !isLoopback(address) && !this.config.insecureTcp) {
      throw new Error(
        `refusing plaintext TCP on ${address.spec}: anyone who reaches it could plug interfaces; give --tls-cert and --tls-key (and --tls-client-ca), listen on loopback, or pass --insecure-tcp`,
      );
    }
    if (address.kind === 'unix') {
      await claimSocketPath(address.path);
      // The socket must never be reachable with looser bits than asked for,
      // not even between bind and chmod.
      const umask = process.umask(0o177);
      try {
        await this.bindAsync(address);
      } finally {
        process.umask(umask);
      }
      const inode = await protectSocket(address.path, this.config.socketMode ?? DEFAULT_SOCKET_MODE, this.config.socketGroup);
      this.sockets.push({ path: address.path, inode });
      this.bound.push({ address, target: bindTarget(address) });
      return;
    }
    const port = await this.bindAsync(address);
    const actual = { ...address, port };
    this.bound.push({ address: actual, target: bindTarget(actual) });
  }

  private bindAsync(address: ListenAddress): Promise<number> {
    const credentials = address.kind === 'tcp' && this.config.tls !== undefined ? this.config.tls.credentials() : ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.grpc.bindAsync(bindTarget(address), credentials, (err, port) => {
        if (err) reject(new Error(`cannot listen on ${address.spec}: ${err.message}`));
        else resolve(port);
      });
    });
  }

  private async releaseSockets(): Promise<void> {
    for (const { path, inode } of this.sockets.splice(0)) {
      await releaseSocket(path, inode).catch((err: unknown) => this.config.logger.warn({ err, path }, 'could not remove the socket'));
    }
  }
}
