import type { Logger } from 'pino';

import type { ProviderFactory } from '../registry';
import { DUMMY_TYPE, dummyProvider } from './dummy/dummy';
import { REPRESENTOR_TYPE, representorProvider } from './representor';

/** What built-in providers need from the daemon's configuration. */
export interface BuiltinConfig {
  readonly sysfsRoot: string;
  readonly devlinkBin: string;
  readonly ipBin: string;
  readonly resyncIntervalMs: number;
  readonly logger: Logger;
  /** Told how long each hardware re-read took (metrics). */
  readonly onRefreshed?: (provider: string, seconds: number, ok: boolean) => void;
}

/** The types of the built-in provider classes, for flags and help before any is built. */
export const BUILTIN_TYPES: readonly string[] = [DUMMY_TYPE, REPRESENTOR_TYPE];

/** The provider classes built into the daemon, by type. */
export function builtinProviders(config: BuiltinConfig): Map<string, ProviderFactory> {
  return new Map<string, ProviderFactory>([
    [DUMMY_TYPE, dummyProvider],
    [
      REPRESENTOR_TYPE,
      () =>
        representorProvider({
          sysfsRoot: config.sysfsRoot,
          devlinkBin: config.devlinkBin,
          ipBin: config.ipBin,
          resyncIntervalMs: config.resyncIntervalMs,
          logger: config.logger,
          onRefreshed: (seconds, ok) => config.onRefreshed?.(REPRESENTOR_TYPE, seconds, ok),
        }),
    ],
  ]);
}
