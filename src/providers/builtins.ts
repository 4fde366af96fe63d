/**
 * The provider classes built into vifplugd, by type: what --providers and
 * Register {type} (without an endpoint) can name. Each is built from its own
 * configuration and the hooks every provider reports to.
 */

import type { Logger } from 'pino';

import type { ProviderFactory, RefreshListener } from '../registry';
import { DUMMY_TYPE, dummyProvider } from './dummy/dummy';
import { REPRESENTOR_TYPE, representorProvider, type RepresentorConfig } from './representor';

/** What the daemon gives every provider it builds: its logger, and where hardware re-reads are reported. */
export interface ProviderHooks {
  readonly logger: Logger;
  readonly onRefreshed?: RefreshListener;
}

/** What the built-in providers are built from: each one's own configuration, plus the daemon's hooks. */
export interface BuiltinOptions extends ProviderHooks {
  readonly representor: RepresentorConfig;
}

/** The types of the built-in provider classes, for flags and help before any is built. */
export const BUILTIN_TYPES: readonly string[] = [DUMMY_TYPE, REPRESENTOR_TYPE];

/** The provider classes built into the daemon, by type (a fresh class object per registration). */
export function builtinProviders(options: BuiltinOptions): Map<string, ProviderFactory> {
  const { representor, ...hooks } = options;
  return new Map<string, ProviderFactory>([
    [DUMMY_TYPE, dummyProvider],
    [REPRESENTOR_TYPE, () => representorProvider(representor, hooks)],
  ]);
}
