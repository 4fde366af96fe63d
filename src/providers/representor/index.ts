/**
 * The `representor` provider: finds SR-IOV / SmartNIC representor netdevs
 * through devlink and sysfs. See provider.ts for the answers it gives and
 * config.ts for what it is built from.
 */

export { REPRESENTOR_TYPE, DEFAULT_REPRESENTOR_CONFIG, type RepresentorConfig, type RepresentorDeps } from './config';
export { createRepresentorProvider as representorProvider } from './provider';
