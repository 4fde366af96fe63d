import type { ProviderFactory } from '../registry';
import { DUMMY_TYPE, dummyProvider } from './dummy/dummy';

/** The provider classes built into the daemon, by type. */
export function builtinProviders(): Map<string, ProviderFactory> {
  return new Map<string, ProviderFactory>([[DUMMY_TYPE, dummyProvider]]);
}
