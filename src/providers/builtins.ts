import type { Logger } from 'pino';

import type { ProviderFactory } from '../registry';
import { DUMMY_TYPE, dummyProvider } from './dummy/dummy';

/** What built-in providers need from the daemon's configuration. */
export interface BuiltinConfig {
  readonly sysfsRoot: string;
  readonly devlinkBin: string;
  readonly ipBin: string;
  readonly resyncIntervalMs: number;
  readonly logger: Logger;
}

/** The types of the built-in provider classes, for flags and help before any is built. */
export const BUILTIN_TYPES: readonly string[] = [DUMMY_TYPE];

/** The provider classes built into the daemon, by type. */
export function builtinProviders(_config: BuiltinConfig): Map<string, ProviderFactory> {
  return new Map<string, ProviderFactory>([[DUMMY_TYPE, dummyProvider]]);
}
