/**
 * Checks on names that come from the host (sysfs directory entries, devlink
 * output) before they are used in a filesystem path. A kernel never produces
 * a name that fails them; a broken or hostile devlink, or a tree that is not
 * sysfs, might.
 */

import { netdevNameProblem } from '../../registry';

export { isPciAddress } from '../../registry';

/** The kernel's dev_valid_name() (1..15 bytes, not "." or "..", no "/", ":" or whitespace), as the answer rules say it. */
export function isIfName(name: string): boolean {
  return netdevNameProblem(name) === undefined;
}

/** The PCI function number (the digit after the dot) of a PCI address. */
export function pciFunction(address: string): number {
  return Number(address.slice(address.lastIndexOf('.') + 1));
}
