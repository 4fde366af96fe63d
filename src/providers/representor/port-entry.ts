/**
 * A port the representor provider knows, as every step after the snapshot
 * sees it (inventory, ownership, lookup index, messages): a devlink port, or
 * a switchdev netdev that only sysfs shows. Its own file so that the steps
 * share it without importing one another.
 */

import type { PortNumbers } from '../../registry/provider';

export interface PortEntry extends PortNumbers {
  /** Identity across refreshes: the devlink handle, or "sysfs:<netdev>". */
  readonly key: string;
  readonly source: 'devlink' | 'sysfs';
  /** devlink flavour; for sysfs entries the one their phys_port_name implies. */
  readonly flavour: string;
  /** "pci/0000:07:00.0", the devlink device, or '' when sysfs shows no PCI device. */
  readonly device: string;
  readonly portIndex?: number;
  /** devlink port type (eth, notset, ...). */
  readonly type?: string;
  /** '' while the port has no netdev (being created, or in another netns). */
  readonly netdev: string;
  /** 0 when not read: devlink does not print it, and reading it for every representor would cost a file read each. */
  readonly ifindex: number;
  readonly physPortName: string;
}
