/**
 * A gRPC server assembled the way every server of ours is, whatever it
 * serves (vifplugd's VifPlug in server/, a provider's Provider in sdk/):
 *
 * - listeners: unix sockets (claimed, bound under a tight umask, given their
 *   mode and group, removed at exit) and TCP (TLS, or plaintext on loopback
 *   only unless explicitly allowed); every address binds, or none;
 * - grpc.health.v1 for the server ("") and the services it names, SERVING
 *   once every address is bound, NOT_SERVING from the start of shutdown;
 * - server reflection (v1 and v1alpha) over the compiled descriptor set, when
 *   asked for, listing what is served;
 * - every unary method through the one adapter (unary.ts), with decoding that
 *   cannot throw (tolerant), counted by the CallMetrics given;
 * - a graceful shutdown: new calls are answered UNAVAILABLE / DRAINING,
 *   streams are ended, calls in flight get the grace period, then are
 *   cancelled.
 *
 * It knows nothing of what it serves: no registry, no provider.
 */

import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { bindTarget, isLoopback, type GrpcAddress } from '../api/endpoint';
import { RateLimiter } from '../common/log';
import { claimSocketPath, protectSocket, releaseSocket, type SocketSetting } from '../common/socket-file';
import { NO_METRICS, type CallMetrics } from './call-metrics';
import { Health, HealthService, ServingStatus } from './health';
import { DescriptorIndex, ReflectionV1AlphaService, ReflectionV1Service, reflectionImplementation } from './reflection';
import { tolerant, type EdgeContext } from './unary';

/** Where TCP listeners get their TLS credentials: CertificateFiles (tls.ts), or fixed credentials. */
export interface TlsSource {
  credentials(): ServerCredentials;
  /** Re-reads the material (SIGHUP); throws, keeping the old material, if it is unusable. */
  reload?(): void;
}

export interface GrpcServerOptions {
  readonly listen: readonly GrpcAddress[];
  readonly logger: Logger;
  /** Permission bits of unix sockets (default 0660). */
  readonly socketMode?: number;
  /** Group that owns unix sockets (with mode 0660, the group's members may call). */
  readonly socketGroup?: number;
  /** How the operator chooses a socket path (e.g. "--listen unix:///PATH"), named when a path is refused. */
  readonly socketSetting?: SocketSetting;
  /** TLS (mutual TLS with a client CA) for TCP listeners. */
  readonly tls?: TlsSource;
  /** Serve plaintext TCP on non-loopback addresses; off by default. */
  readonly insecureTcp?: boolean;
  readonly metrics?: CallMetrics;
  /** How long calls in flight may take to finish at shutdown before they are cancelled (default 10 s). */
  readonly shutdownGraceMs?: number;
  /** Largest request message accepted, in bytes (default: grpc-js's). */
  readonly maxReceiveMessageBytes?: number;
  /** The health entries besides "" (the whole server), e.g. the served service's name. */
  readonly healthServices: readonly string[];
  /** Serve server reflection, listing every service served. */
  readonly reflection?: boolean;
}

/** A bound address and the target a client dials to reach it. */
export interface Endpoint {
  readonly address: GrpcAddress;
  readonly target: string;
}

const DEFAULT_SOCKET_MODE = 0o660;
const DEFAULT_GRACE_MS = 10_000;

export class GrpcServer {
  readonly health: Health;
  /** What every call shares: give it to the handlers of the services added. */
  readonly edge: EdgeContext;
  private readonly grpc: Server;
  private readonly served: string[] = [];
  private readonly stopping: (() => void)[] = [];
  private readonly sockets: { path: string; inode: number }[] = [];
  private readonly bound: Endpoint[] = [];
  private draining = false;
  private stopped: Promise<void> | undefined;
  private builtinsAdded = false;

  constructor(private readonly options: GrpcServerOptions) {
    // Channelz stays on: grpc-js 1.14 tracks sessions for forceShutdown only
    // when channelz is enabled, so disabling it leaves cancelled calls hanging.
    this.grpc = new Server(options.maxReceiveMessageBytes === undefined ? {} : { 'grpc.max_receive_message_length': options.maxReceiveMessageBytes });
    this.edge = { logger: options.logger, metrics: options.metrics ?? NO_METRICS, failures: new RateLimiter(), isDraining: () => this.draining };
    this.health = new Health(options.healthServices);
  }

  /** Serves `service`: its unary methods should come from implement() or adaptUnary() with `edge`. */
  addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    this.grpc.addService(tolerant(service), implementation);
    this.served.push(serviceName(service));
  }

  /** Called at the start of shutdown, before health turns NOT_SERVING: end the streams a graceful shutdown would wait for. */
  onShutdown(hook: () => void): void {
    this.stopping.push(hook);
  }

  get endpoints(): readonly Endpoint[] {
    return this.bound;
  }

  /** Binds every address, or none (and throws); then health says SERVING. */
  async start(): Promise<void> {
    this.addBuiltinServices();
    try {
      for (const address of this.options.listen) await this.bind(address);
    } catch (err) {
      this.grpc.forceShutdown();
      await this.releaseSockets();
      throw err;
    }
    this.health.setAll(ServingStatus.SERVING);
  }

  /** Re-reads the TLS files (SIGHUP); new connections use them, a failure keeps the old ones. */
  reloadCertificates(): void {
    this.options.tls?.reload?.();
  }

  /** Graceful stop; safe to call more than once. */
  shutdown(): Promise<void> {
    this.stopped ??= this.stop();
    return this.stopped;
  }

  /** Cancels whatever is still in flight (a second signal, or a test's cleanup). */
  forceShutdown(): void {
    this.draining = true;
    this.grpc.forceShutdown();
  }

  private addBuiltinServices(): void {
    if (this.builtinsAdded) return;
    this.builtinsAdded = true;
    this.addService(HealthService, this.health.implementation(this.edge));
    if (!this.options.reflection) return;
    // Built on first use: start-up does not pay for descriptors nobody asked for.
    let index: DescriptorIndex | undefined;
    const descriptors = () => (index ??= DescriptorIndex.served());
    const listed = [...this.served, serviceName(ReflectionV1Service), serviceName(ReflectionV1AlphaService)];
    for (const service of [ReflectionV1Service, ReflectionV1AlphaService]) {
      this.grpc.addService(service, reflectionImplementation(service.serverReflectionInfo.path, descriptors, listed, this.edge.metrics));
    }
  }

  private async stop(): Promise<void> {
    this.draining = true;
    for (const hook of this.stopping) hook();
    this.health.setAll(ServingStatus.NOT_SERVING);
    this.health.endWatches();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.logger.warn({ graceMs: this.grace }, 'calls still in flight after the grace period; cancelling them');
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
    return this.options.shutdownGraceMs ?? DEFAULT_GRACE_MS;
  }

  private async bind(address: GrpcAddress): Promise<void> {
    if (address.kind === 'tcp' && this.options.tls === undefined && !isLoopback(address) && !this.options.insecureTcp) {
      throw new Error(
        `refusing plaintext TCP on ${address.spec}: anyone who reaches it could plug interfaces; give --tls-cert and --tls-key (and --tls-client-ca), listen on loopback, or pass --insecure-tcp`,
      );
    }
    if (address.kind === 'unix') {
      await claimSocketPath(address.path, this.options.socketSetting);
      // The socket must never be reachable with looser bits than asked for,
      // not even between bind and chmod.
      const umask = process.umask(0o177);
      try {
        await this.bindAsync(address);
      } finally {
        process.umask(umask);
      }
      const inode = await protectSocket(address.path, this.options.socketMode ?? DEFAULT_SOCKET_MODE, this.options.socketGroup);
      this.sockets.push({ path: address.path, inode });
      this.bound.push({ address, target: bindTarget(address) });
      return;
    }
    const port = await this.bindAsync(address);
    const actual = { ...address, port };
    this.bound.push({ address: actual, target: bindTarget(actual) });
  }

  private bindAsync(address: GrpcAddress): Promise<number> {
    const credentials = address.kind === 'tcp' && this.options.tls !== undefined ? this.options.tls.credentials() : ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.grpc.bindAsync(bindTarget(address), credentials, (err, port) => {
        if (err) reject(new Error(`cannot listen on ${address.spec}: ${bindFailure(err.message, address.kind)}`, { cause: err }));
        else resolve(port);
      });
    });
  }

  private async releaseSockets(): Promise<void> {
    for (const { path, inode } of this.sockets.splice(0)) {
      await releaseSocket(path, inode).catch((err: unknown) => this.options.logger.warn({ err, path }, 'could not remove the socket'));
    }
  }
}

/**
 * grpc-js's bind failure ("No address added out of total 1 resolved errors:
 * [listen EADDRINUSE: address already in use 127.0.0.1:50051]") as what
 * happened and what to do.
 */
function bindFailure(message: string, kind: GrpcAddress['kind']): string {
  const inner = /errors: \[(.*)\]$/s.exec(message)?.[1] ?? message;
  if (/EADDRINUSE/.test(inner)) return 'the address is in use (EADDRINUSE); stop what listens there, or choose another address';
  if (/EADDRNOTAVAIL/.test(inner)) return 'no interface of this host has that address (EADDRNOTAVAIL); give one of its addresses, 127.0.0.1 or 0.0.0.0';
  if (/EACCES/.test(inner) && kind === 'tcp') return `permission denied (${inner}); ports below 1024 need root or CAP_NET_BIND_SERVICE`;
  return inner;
}

/** "vifplug.v1.VifPlug", from a method path of the service ("/vifplug.v1.VifPlug/Register"). */
function serviceName(service: ServiceDefinition): string {
  const path = Object.values(service)[0]!.path;
  return path.slice(1, path.lastIndexOf('/'));
}
