/**
 * The health entries of the hardware providers: "provider/<type>" (e.g.
 * "provider/representor") is SERVING while the provider's picture of the
 * hardware is whole and current, NOT_SERVING while it is degraded (stale:
 * re-reads fail and answers come from the last good one; or partial: sysfs
 * alone while devlink fails). The daemon's own entries ("" and
 * vifplug.v1.VifPlug) are not affected: it still answers, and a probe on ""
 * (as the DaemonSet's) must not restart a daemon whose hardware is what
 * misbehaves. Since when and why: ListProviders (PROVIDER_HEALTH_DEGRADED
 * with health_message) and the vifplug_inventory_* metrics.
 *
 * Classes that read no hardware (dummy, remote providers) have no entry.
 * Entries follow the registry: one appears with the class, goes with it, and
 * is looked at again after each of the provider's re-reads.
 */

import type { Registry } from '../registry';
import { ServingStatus, type Health } from '../grpc/health';

export function providerHealthService(type: string): string {
  return `provider/${type}`;
}

export class ProviderHealthEntries {
  private entries = new Set<string>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly health: Health,
    private readonly registry: Registry,
  ) {}

  /** Sets the entries now and keeps them in step with the registry until stop(). */
  start(): void {
    this.unsubscribe ??= this.registry.changes.subscribe(() => this.sync());
    this.sync();
  }

  /** Leaves the entries as they are (shutdown sets every entry NOT_SERVING). */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Re-reads each class's health; a no-op before start() and after stop(). */
  sync(): void {
    if (this.unsubscribe === undefined) return;
    const seen = new Set<string>();
    for (const info of this.registry.list()) {
      const view = info.health.hardware;
      if (view === undefined) continue;
      const service = providerHealthService(info.type);
      seen.add(service);
      const status = info.health.serving && !view.degraded ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
      if (this.health.status(service) !== status) this.health.set(service, status);
    }
    for (const service of this.entries) if (!seen.has(service)) this.health.remove(service);
    this.entries = seen;
  }
}
