/**
 * MAC addresses in the one spelling the index uses: six lower-case hex pairs
 * joined by colons. Everything that reaches the index (option values, sysfs
 * `address`, devlink `hw_addr`, the smart_nic compat file) goes through here,
 * so that a comparison is a string comparison.
 */

const MAC_RE = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

export const ZERO_MAC = '00:00:00:00:00:00';

/** The normalised MAC, or undefined when `text` is not exactly a colon-form MAC. */
export function parseMac(text: string): string | undefined {
  return MAC_RE.test(text) ? text.toLowerCase() : undefined;
}

/**
 * devlink prints 00:00:00:00:00:00 for a function whose MAC was never set
 * (older kernels always do for the host PF); it identifies nothing.
 */
export function isUsableMac(mac: string | undefined): mac is string {
  return mac !== undefined && mac !== ZERO_MAC;
}
