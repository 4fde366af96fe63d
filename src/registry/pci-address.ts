/**
 * What a PCI address looks like, said once for every side that checks one:
 * the API's validation, the representor provider before it builds a sysfs
 * path, and vifplugctl before it asks.
 */

/**
 * A PCI address (domain:bus:device.function) as sysfs spells it, lower-case
 * hex. The domain is usually 4 hex digits but can be longer (Intel VMD uses
 * 10000:..); the device is 5 bits (00-1f), the function 3 (0-7).
 */
const PCI_ADDRESS_RE = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/;

export function isPciAddress(name: string): boolean {
  return PCI_ADDRESS_RE.test(name);
}
