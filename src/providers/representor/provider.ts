/**
 * The `representor` provider class: answers "for the PF with MAC M, VF N (or
 * SF N, or the PF itself), which representor netdev do I plug?" from an index
 * of the host's devlink ports and sysfs netdevs (see inventory.ts for the
 * shapes it understands, live-inventory.ts for how it stays current).
 *
 * Answers of preparePort for a create:
 * - found: plug, name = the representor netdev, type '' (a system netdev), no
 *   interface options; on a chassis with the userspace datapath (use_dpdk),
 *   type "dpdk", with options:dpdk-devargs when configured (dpdk.ts);
 *   dpdk-devargs and dpdk-vf-mac are its maintained options, so that a replug
 *   (or a chassis leaving DPDK) clears them;
 * - dpdk-devargs configured but not known for the port: FAILED_PRECONDITION /
 *   DPDK_DEVARGS_UNKNOWN saying why;
 * - malformed options: INVALID_ARGUMENT / INVALID_OPTION naming the option;
 * - nothing matches (after one rate-limited re-read): NOT_FOUND /
 *   REPRESENTOR_NOT_FOUND saying what was searched and what exists;
 * - two candidates: FAILED_PRECONDITION / REPRESENTOR_AMBIGUOUS naming them;
 * - a port without a netdev yet: UNAVAILABLE / REPRESENTOR_NOT_READY;
 * - a netdev udev is about to rename: UNAVAILABLE / REPRESENTOR_RENAME_PENDING,
 *   with a retry delay.
 * A remove is always allowed: unplugging never depends on the hardware.
 *
 * It also identifies the host's hardware for a CMS (identity.ts): a VF's PF
 * MAC, VF number and card serial (Identify), and the cards and the serial
 * that identifies the chassis (ListCards).
 *
 * Its health is always serving; when the picture of the hardware is stale
 * or partial it says so (hardware-health.ts), since answers may be out of date.
 */

import type { Logger } from 'pino';

import { PlugError } from '../../registry/errors';
import {
  NO_OPTIONS,
  SERVING,
  type PortCtxIn,
  type PrepareResult,
  type ProviderClass,
  type ProviderContext,
  type ProviderHealth,
  type ProviderInstance,
  type Representor,
  type CardListing,
  type FunctionIdentity,
} from '../../registry/provider';
import { hardwareHealth } from '../hardware-health';
import { DEFAULT_TIMING, REPRESENTOR_TYPE, type RepresentorConfig, type RepresentorDeps } from './config';
import { execDevlinkSource } from './devlink';
import { DPDK_DEVARGS_OPTION, DPDK_TYPE, MAINTAINED_IFACE_OPTIONS } from './dpdk';
import type { LookupIndex } from './lookup-index';
import type { PortEntry } from './port-entry';
import { identifyVf, listCards } from './identity';
import { LiveInventory } from './live-inventory';
import { iproute2Monitors } from './monitor';
import { parseRepresentorOptions } from './options';
import { nodeSysfs, SysfsReader } from './sysfs';

export function createRepresentorProvider(config: RepresentorConfig, deps: RepresentorDeps): ProviderClass {
  const logger = deps.logger.child({ provider: REPRESENTOR_TYPE });
  const now = deps.now ?? (() => performance.timeOrigin + performance.now());
  const timing = { ...DEFAULT_TIMING, ...deps.timing };
  let live: LiveInventory | undefined;
  let sysfs: SysfsReader | undefined;

  return {
    type: REPRESENTOR_TYPE,
    maintainedIfaceOptions: MAINTAINED_IFACE_OPTIONS,

    async init() {
      sysfs = new SysfsReader(config.sysfsRoot, deps.fs ?? nodeSysfs());
      live = new LiveInventory({
        devlink: execDevlinkSource({ bin: config.devlinkBin, timeoutMs: timing.devlinkTimeoutMs, maxOutputBytes: timing.devlinkMaxOutputBytes }),
        sysfs,
        logger,
        now,
        timing,
        resyncIntervalMs: config.resyncIntervalMs,
        monitors: deps.monitors === false ? [] : iproute2Monitors(config),
        ...(deps.onRefreshed === undefined ? {} : { onRefreshed: deps.onRefreshed }),
      });
      try {
        await live.start();
      } catch (err) {
        live = undefined;
        throw err;
      }
    },

    async destroy() {
      const stopping = live;
      live = undefined;
      await stopping?.stop();
    },

    open(context?: ProviderContext): ProviderInstance {
      if (live === undefined) throw new Error('the representor provider was not initialised');
      return new RepresentorInstance(live, now, logger, config.dpdkDevargs === true, context);
    },

    listRepresentors(): readonly Representor[] {
      return live?.index.records ?? [];
    },

    identify(vfPciAddress: string): Promise<FunctionIdentity> {
      if (sysfs === undefined) throw new Error('the representor provider was not initialised');
      return identifyVf(sysfs, vfPciAddress);
    },

    listCards(): Promise<CardListing> {
      if (sysfs === undefined || live === undefined) throw new Error('the representor provider was not initialised');
      // A card whose eswitch has an external controller's ports is a DPU's own card, seen from the DPU.
      const managers = new Set(live.index.records.flatMap((r) => (r.external === true && r.device.startsWith('pci/') ? [r.device.slice('pci/'.length)] : [])));
      return listCards(sysfs, managers);
    },

    health(): ProviderHealth {
      return live === undefined ? SERVING : hardwareHealth(live.hardwareView);
    },
  };
}

/** The open instance: a view of the class's shared inventory with its own "changed since my last run" state. */
class RepresentorInstance implements ProviderInstance {
  private lastGeneration: number;
  private lastRunAt: number;
  /** Hardware changes the inventory sees by itself (monitors, resync) reach watchers without a Run. */
  private readonly unsubscribe: () => void;

  constructor(
    private readonly live: LiveInventory,
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly withDevargs: boolean,
    context: ProviderContext | undefined,
  ) {
    this.lastGeneration = live.generation;
    this.lastRunAt = now();
    this.unsubscribe = live.onChange(() => context?.viewChanged());
  }

  close(): void {
    this.unsubscribe();
  }

  /** Re-reads the hardware; true if the index changed, or a pending rename settled, since this instance's last run. */
  async run(): Promise<boolean> {
    await this.live.refresh('run');
    const now = this.now();
    const changed = this.live.generation !== this.lastGeneration || this.live.index.settledBetween(this.lastRunAt, now);
    this.lastGeneration = this.live.generation;
    this.lastRunAt = now;
    return changed;
  }

  /**
   * Answers from the index without waiting when it can (the hot path: no I/O,
   * no promise); only a miss that a re-read might fix waits for one.
   */
  preparePort(ctxIn: PortCtxIn): PrepareResult | Promise<PrepareResult> {
    if (ctxIn.opType === 'remove') return { plug: true };
    const request = parseRepresentorOptions(ctxIn.lportOptions);
    const outcome = this.live.index.lookup(request, this.now());
    if (outcome.found) return this.plugged(ctxIn, this.live.index, outcome.entry);
    if (!outcome.refreshMayHelp) return this.refuse(ctxIn, outcome.error);
    // The hardware may have changed since the last read: a VF just created, a netdev just registered.
    return this.live.refresh('miss').then(() => {
      const index = this.live.index;
      const again = index.lookup(request, this.now());
      return again.found ? this.plugged(ctxIn, index, again.entry) : this.refuse(ctxIn, again.error);
    });
  }

  /** The interface for a port found: a system netdev, or on the userspace datapath a DPDK port. */
  private plugged(ctxIn: PortCtxIn, index: LookupIndex, entry: PortEntry): PrepareResult {
    if (!ctxIn.useDpdk) return { plug: true, out: { name: entry.netdev, type: '', ifaceOptions: NO_OPTIONS } };
    if (!this.withDevargs) return { plug: true, out: { name: entry.netdev, type: DPDK_TYPE, ifaceOptions: NO_OPTIONS } };
    const devargs = index.dpdkDevargs(entry);
    if (!devargs.ok) {
      return this.refuse(ctxIn, new PlugError('FAILED_PRECONDITION', 'DPDK_DEVARGS_UNKNOWN', devargs.message, { metadata: { ...devargs.metadata } }));
    }
    return { plug: true, out: { name: entry.netdev, type: DPDK_TYPE, ifaceOptions: new Map([[DPDK_DEVARGS_OPTION, devargs.devargs]]) } };
  }

  private refuse(ctxIn: PortCtxIn, error: PlugError): never {
    this.logger.debug({ lport: ctxIn.lportName, reason: error.reason }, error.message);
    throw error;
  }
}

