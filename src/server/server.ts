/**
 * vifplugd's gRPC server: the VifPlug service over the registry (unary
 * handlers in vifplug-service.ts, the Watch stream in watch.ts), with the
 * daemon's health entries (provider-health.ts), on the kit's server
 * (grpc/server.ts: listeners, TLS, health, reflection, graceful shutdown).
 */

import { LIMITS } from '../api/limits';
import { VifPlugService } from '../gen/vifplug/v1/vifplug';
import type { Health } from '../grpc/health';
import { GrpcServer, type Endpoint, type GrpcServerOptions } from '../grpc/server';
import { implement } from '../grpc/unary';
import type { Registry } from '../registry';
import { ProviderHealthEntries } from './provider-health';
import { vifPlugHandlers, type RegistrationPolicy } from './vifplug-service';
import { WatchHub } from './watch';

export const VIFPLUG_SERVICE = 'vifplug.v1.VifPlug';

/** The kit's listener settings (grpc/server.ts), and what the service serves. */
export interface ServerConfig extends Omit<GrpcServerOptions, 'healthServices' | 'reflection' | 'maxReceiveMessageBytes'> {
  readonly registry: Registry;
  /** Who may call Register and Unregister (default: callers on unix sockets). */
  readonly registration?: RegistrationPolicy;
}

export type { Endpoint };

/**
 * `start` binds every address or none; `shutdown` stops accepting, ends the
 * Watch streams, lets calls in flight finish within the grace period, and
 * removes the sockets it created.
 */
export class VifplugServer {
  /** The Watch streams. */
  readonly watches: WatchHub;
  private readonly grpc: GrpcServer;
  private readonly providerHealth: ProviderHealthEntries;

  constructor(config: ServerConfig) {
    const { registry, registration, ...listeners } = config;
    this.grpc = new GrpcServer({ ...listeners, maxReceiveMessageBytes: LIMITS.maxMessageBytes, healthServices: [VIFPLUG_SERVICE], reflection: true });
    const edge = this.grpc.edge;
    this.watches = new WatchHub(registry.changes);
    this.providerHealth = new ProviderHealthEntries(this.grpc.health, registry);
    this.grpc.addService(VifPlugService, {
      ...implement(VifPlugService, vifPlugHandlers(registry, registration), edge),
      watch: this.watches.handler(edge),
    });
    this.grpc.onShutdown(() => {
      this.providerHealth.stop();
      this.watches.endAll();
    });
  }

  /** grpc.health.v1: "", vifplug.v1.VifPlug and the hardware providers' entries. */
  get health(): Health {
    return this.grpc.health;
  }

  get endpoints(): readonly Endpoint[] {
    return this.grpc.endpoints;
  }

  async start(): Promise<void> {
    await this.grpc.start();
    this.providerHealth.start();
  }

  /** A hardware provider re-read the hardware (RefreshListener): its health entry may change. */
  hardwareRefreshed(): void {
    this.providerHealth.sync();
  }

  /** Re-reads the TLS files (SIGHUP); new connections use them, a failure keeps the old ones. */
  reloadCertificates(): void {
    this.grpc.reloadCertificates();
  }

  /** Graceful stop; safe to call more than once. */
  shutdown(): Promise<void> {
    return this.grpc.shutdown();
  }

  /** Cancels whatever is still in flight (a second signal, or a test's cleanup). */
  forceShutdown(): void {
    this.grpc.forceShutdown();
  }
}
