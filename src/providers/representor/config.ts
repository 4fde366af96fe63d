/**
 * The representor provider's configuration, declared once. vifplugd's flags
 * fill RepresentorConfig (--sysfs-root, --devlink-bin, --ip-bin,
 * --resync-interval, --representor-dpdk-devargs) and hand it on unchanged; RepresentorDeps is the rest of
 * what the provider is built with: the daemon's logger and metrics hook, and
 * the seams and timings that tests replace.
 */

import type { Logger } from 'pino';

import type { RefreshListener } from '../../registry/provider';
import type { SysfsFs } from './sysfs';

export const REPRESENTOR_TYPE = 'representor';

/** What an operator chooses. */
export interface RepresentorConfig {
  /** A directory laid out like /sys (a host's /sys mounted in a container, a test's tree). */
  readonly sysfsRoot: string;
  /** iproute2 devlink, run as `<bin> -j port show` and `<bin> monitor port`. */
  readonly devlinkBin: string;
  /** iproute2 ip, run as `<bin> -o monitor link`. */
  readonly ipBin: string;
  /** Periodic full re-read besides events; 0 disables. */
  readonly resyncIntervalMs: number;
  /**
   * On a chassis with the userspace datapath (use_dpdk), also answer
   * options:dpdk-devargs built from the devlink port (dpdk.ts); refused where
   * the driver's DPDK numbering is not known. Off: type=dpdk alone, which
   * OVS-DOCA opens by the netdev name.
   */
  readonly dpdkDevargs?: boolean;
}

export const DEFAULT_REPRESENTOR_CONFIG: RepresentorConfig = {
  sysfsRoot: '/sys',
  devlinkBin: 'devlink',
  ipBin: 'ip',
  resyncIntervalMs: 60_000,
  dpdkDevargs: false,
};

/** How the refresh machinery paces itself. The defaults suit real hosts; tests shorten them. */
export interface RefreshTiming {
  /** How long a newly seen eth<N> netdev is left to udev before it is plugged under that name. */
  readonly settleMs: number;
  /** Lookup misses re-read the hardware at most this often. */
  readonly missRefreshIntervalMs: number;
  /** Monitor events are gathered this long before one refresh. */
  readonly debounceMs: number;
  /** First delay before a dead monitor child is restarted (doubling up to a minute). */
  readonly monitorRestartMs: number;
  /** A `devlink -j port show` that takes longer is killed. */
  readonly devlinkTimeoutMs: number;
  /** A `devlink -j port show` that prints more is killed and its reading refused (the last good view stays). */
  readonly devlinkMaxOutputBytes: number;
  /** First delay before a failing devlink is asked again (doubling up to a minute); refreshes meanwhile keep the last good view. */
  readonly devlinkRetryMs: number;
  /** How long "this host has no devlink" stands before devlink is asked again. */
  readonly devlinkAbsentRecheckMs: number;
}

export const DEFAULT_TIMING: RefreshTiming = {
  // udev renames a new netdev within milliseconds on an idle host, seconds
  // under load; three seconds covers that without leaving a controller waiting long.
  settleMs: 3_000,
  missRefreshIntervalMs: 1_000,
  // Creating 256 VFs yields hundreds of events within a second: one refresh for them all.
  debounceMs: 200,
  monitorRestartMs: 1_000,
  // A dump of 16k ports takes well under a second; a hung netlink socket must not stall refreshes.
  devlinkTimeoutMs: 5_000,
  // 16,384 representors print ~3.4 MB; 16 MiB (~75k such ports) leaves room
  // for four times that and bounds what one reading can hold (README: Memory).
  devlinkMaxOutputBytes: 16 * 1024 * 1024,
  devlinkRetryMs: 1_000,
  // Kernels do not gain devlink at run time; an answer that was wrong (an
  // intermittent failure at start) is corrected within five minutes.
  devlinkAbsentRecheckMs: 300_000,
};

/** Everything the provider is built with besides its configuration. */
export interface RepresentorDeps {
  readonly logger: Logger;
  /** Told about every full re-read of the hardware (metrics). */
  readonly onRefreshed?: RefreshListener;
  /** Filesystem access under sysfsRoot (tests model EOPNOTSUPP reads with it). */
  readonly fs?: SysfsFs;
  /** Milliseconds on a monotonic-enough clock; drives the rename guard and the miss rate limit. */
  readonly now?: () => number;
  readonly timing?: Partial<RefreshTiming>;
  /** false: start no monitor children (tests that drive refreshes themselves). */
  readonly monitors?: boolean;
}
