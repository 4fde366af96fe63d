/**
 * The `representor` provider: finds SR-IOV / SmartNIC representor netdevs
 * through devlink and sysfs. See provider.ts for the answers it gives.
 */

import { createRepresentorProvider, REPRESENTOR_TYPE, type RepresentorConfig } from './provider';
import type { ProviderClass } from '../../registry/provider';

export { REPRESENTOR_TYPE };
export type { RepresentorConfig };

/** A fresh class object for the registry (a class may be registered again after unregistering). */
export function representorProvider(config: RepresentorConfig): ProviderClass {
  return createRepresentorProvider(config);
}
