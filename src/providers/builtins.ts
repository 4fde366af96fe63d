import type { Logger } from 'pino';

import type { ProviderFactory, RefreshListener } from '../registry';
import { DUMMY_TYPE, dummyProvider } from './dummy/dummy';
import { REPRESENTOR_TYPE, representorProvider, type RepresentorConfig } from './representor';

/** What the built-in providers are built from: each one's own configuration, plus the daemon's logger and metrics hook. */
export interface BuiltinOptions {
  readonly representor: RepresentorConfig;
  readonly logger: Logger;
  readonly onRefreshed?: RefreshListener;
}

/** The types of the built-in provider classes, for flags and help before any is built. */
export const BUILTIN_TYPES: readonly string[] = [DUMMY_TYPE, REPRESENTOR_TYPE];

/** The provider classes built into the daemon, by type (a fresh class object per registration). */
export function builtinProviders(options: BuiltinOptions): Map<string, ProviderFactory> {
  const { representor, ...deps } = options;
  return new Map<string, ProviderFactory>([
    [DUMMY_TYPE, dummyProvider],
    [REPRESENTOR_TYPE, () => representorProvider(representor, deps)],
  ]);
}
