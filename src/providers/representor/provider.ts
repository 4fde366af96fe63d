/**
 * The `representor` provider class: answers "for the PF with MAC M, VF N (or
 * SF N, or the PF itself), which representor netdev do I plug?" from an index
 * of the host's devlink ports and sysfs netdevs (see inventory.ts for the
 * shapes it understands, live-inventory.ts for how it stays current).
 *
 * Answers of preparePort for a create:
 * - found: plug, name = the representor netdev, type '' (a system netdev), no
 *   interface options (none are maintained);
 * - malformed options: INVALID_ARGUMENT / INVALID_OPTION naming the option;
 * - nothing matches (after one rate-limited re-read): NOT_FOUND /
 *   REPRESENTOR_NOT_FOUND saying what was searched and what exists;
 * - two candidates: FAILED_PRECONDITION / REPRESENTOR_AMBIGUOUS naming them;
 * - a port without a netdev yet: UNAVAILABLE / REPRESENTOR_NOT_READY;
 * - a netdev udev is about to rename: UNAVAILABLE / REPRESENTOR_RENAME_PENDING,
 *   with a retry delay.
 * A remove is always allowed: unplugging never depends on the hardware.
 */

import type { Logger } from 'pino';

import type { PlugError } from '../../registry/errors';
import { NO_OPTIONS, type PortCtxIn, type PrepareResult, type ProviderClass, type ProviderInstance, type Representor } from '../../registry/provider';
import { execDevlinkSource } from './devlink';
import { LiveInventory, type MonitorCommand } from './live-inventory';
import { parseRepresentorOptions } from './options';
import { nodeSysfs, SysfsReader, type SysfsFs } from './sysfs';

export const REPRESENTOR_TYPE = 'representor';

export interface RepresentorConfig {
  /** A directory laid out like /sys (default /sys in the daemon). */
  readonly sysfsRoot: string;
  /** iproute2 devlink executable, run as `<bin> -j port show` and `<bin> monitor port` (default 'devlink' on PATH). */
  readonly devlinkBin: string;
  /** iproute2 ip executable, for `ip -o monitor link` (default 'ip'). */
  readonly ipBin: string;
  /** Periodic full re-read; 0 disables. */
  readonly resyncIntervalMs: number;
  readonly logger: Logger;
  /** Told how long each full re-read of the hardware took and whether it worked. */
  readonly onRefreshed?: (seconds: number, ok: boolean) => void;
}

/** Tuning and seams that the daemon leaves at their defaults and tests replace. */
export interface RepresentorTuning {
  /** Filesystem access under sysfsRoot (tests model EOPNOTSUPP reads with it). */
  readonly fs?: SysfsFs;
  /** Milliseconds on a monotonic-enough clock; drives the rename guard and the miss rate limit. */
  readonly now?: () => number;
  readonly settleMs?: number;
  readonly missRefreshIntervalMs?: number;
  readonly debounceMs?: number;
  readonly devlinkTimeoutMs?: number;
  readonly devlinkMaxOutputBytes?: number;
  readonly monitorRestartMs?: number;
  /** false: start no monitor children. */
  readonly monitors?: boolean;
}

/**
 * udev renames a new netdev within milliseconds on an idle host; seconds under
 * load. Three seconds covers that without leaving a controller waiting long.
 */
export const DEFAULT_SETTLE_MS = 3_000;
/** "at most one re-read per second" for lookup misses. */
export const DEFAULT_MISS_REFRESH_INTERVAL_MS = 1_000;
/** Creating 256 VFs yields hundreds of events within a second; gather them into one refresh. */
export const DEFAULT_DEBOUNCE_MS = 200;

export function createRepresentorProvider(config: RepresentorConfig, tuning: RepresentorTuning = {}): ProviderClass {
  const logger = config.logger.child({ provider: REPRESENTOR_TYPE });
  const now = tuning.now ?? (() => performance.timeOrigin + performance.now());
  let live: LiveInventory | undefined;

  const monitors: MonitorCommand[] =
    tuning.monitors === false
      ? []
      : [
          {
            name: 'devlink monitor',
            bin: config.devlinkBin,
            args: ['monitor', 'port'],
            // Text form: "[port,new] pci/...: ..." headers, indented continuation lines.
            isEvent: (line) => line.includes('[port,'),
            isUnsupported: (stderr) => /Failed to connect to devlink Netlink/i.test(stderr),
          },
          {
            name: 'ip link monitor',
            bin: config.ipBin,
            args: ['-o', 'monitor', 'link'],
            isEvent: (line) => line.trim() !== '',
            isUnsupported: (stderr) => /Cannot open netlink socket/i.test(stderr),
          },
        ];

  return {
    type: REPRESENTOR_TYPE,
    maintainedIfaceOptions: [],

    async init() {
      live = new LiveInventory({
        devlink: execDevlinkSource({
          bin: config.devlinkBin,
          ...(tuning.devlinkTimeoutMs === undefined ? {} : { timeoutMs: tuning.devlinkTimeoutMs }),
          ...(tuning.devlinkMaxOutputBytes === undefined ? {} : { maxOutputBytes: tuning.devlinkMaxOutputBytes }),
        }),
        sysfs: new SysfsReader(config.sysfsRoot, tuning.fs ?? nodeSysfs()),
        logger,
        now,
        settleMs: tuning.settleMs ?? DEFAULT_SETTLE_MS,
        missRefreshIntervalMs: tuning.missRefreshIntervalMs ?? DEFAULT_MISS_REFRESH_INTERVAL_MS,
        debounceMs: tuning.debounceMs ?? DEFAULT_DEBOUNCE_MS,
        resyncIntervalMs: config.resyncIntervalMs,
        monitors,
        monitorRestartMs: tuning.monitorRestartMs ?? 1_000,
        onRefreshed: config.onRefreshed,
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

    open(): ProviderInstance {
      if (live === undefined) throw new Error('the representor provider was not initialised');
      return new RepresentorInstance(live, now, logger);
    },

    listRepresentors(): readonly Representor[] {
      return live?.index.records ?? [];
    },
  };
}

/** The open instance: a view of the class's shared inventory with its own "changed since my last run" state. */
class RepresentorInstance implements ProviderInstance {
  private lastGeneration: number;
  private lastRunAt: number;

  constructor(
    private readonly live: LiveInventory,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {
    this.lastGeneration = live.generation;
    this.lastRunAt = now();
  }

  /** Re-reads the hardware; true if the index changed, or a pending rename settled, since this instance's last run. */
  async run(): Promise<boolean> {
    await this.live.refreshAfterNow();
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
    if (outcome.found) return plugged(outcome.entry.netdev);
    if (!outcome.refreshMayHelp) return this.refuse(ctxIn, outcome.error);
    // The hardware may have changed since the last read: a VF just created, a netdev just registered.
    return this.live.refreshAfterMiss().then(() => {
      const again = this.live.index.lookup(request, this.now());
      return again.found ? plugged(again.entry.netdev) : this.refuse(ctxIn, again.error);
    });
  }

  private refuse(ctxIn: PortCtxIn, error: PlugError): never {
    this.logger.debug({ lport: ctxIn.lportName, reason: error.reason }, error.message);
    throw error;
  }
}

function plugged(netdev: string): PrepareResult {
  return { plug: true, out: { name: netdev, type: '', ifaceOptions: NO_OPTIONS } };
}
