/**
 * Plug-ins for the representor cases.
 *
 * - provider: `representorProvider({ sysfsRoot, devlinkBin, ipBin,
 *   resyncIntervalMs, logger })` exported by src/providers/representor/index.ts.
 * - index: the pure pieces a refresh runs, from src/providers/representor/:
 *   parseDevlinkPortsJson (devlink-ports), buildInventory (inventory),
 *   LookupIndex.build (lookup-index), parseRepresentorOptions (options); and,
 *   for the refresh through sysfs, collectSnapshot (snapshot) and SysfsReader
 *   (sysfs).
 * - fake host: test/helpers/fake-host.ts (FakeHost, generateLargeHost) when
 *   usable, else the bench's own writer: see lib/hosts.ts.
 */
import { functions, loadSrc, skip, type Probe } from './load';

const DIR = 'providers/representor';

export interface ProviderModule {
  readonly representorProvider: (config: {
    sysfsRoot: string;
    devlinkBin: string;
    ipBin: string;
    resyncIntervalMs: number;
    logger: unknown;
  }) => unknown;
}

export function probeProvider(): Probe<ProviderModule> {
  const mod = functions(loadSrc(`${DIR}/index`), `src/${DIR}/index.ts`, ['representorProvider']);
  return mod.ok ? { ok: true, value: mod.value as unknown as ProviderModule } : mod;
}

/** What the index benchmark calls; shapes as in src/providers/representor at the time of writing. */
export interface IndexModules {
  parseDevlinkPortsJson(text: string): { ports: unknown[]; warnings: string[] };
  buildInventory(snapshot: unknown): unknown;
  buildIndex(inventory: unknown): { lookup(request: unknown, now: number): { found: boolean; entry?: { netdev: string }; error?: Error } };
  parseRepresentorOptions(options: ReadonlyMap<string, string>): unknown;
  /** For the refresh through sysfs; undefined when those modules are missing. */
  refresh?: {
    collectSnapshot(devlink: { readPorts(): Promise<unknown> }, sysfs: unknown): Promise<unknown>;
    SysfsReader: new (root: string) => unknown;
  };
}

export function probeIndex(): Probe<IndexModules> {
  const devlink = functions(loadSrc(`${DIR}/devlink-ports`), `src/${DIR}/devlink-ports.ts`, ['parseDevlinkPortsJson']);
  if (!devlink.ok) return devlink;
  const inventory = functions(loadSrc(`${DIR}/inventory`), `src/${DIR}/inventory.ts`, ['buildInventory']);
  if (!inventory.ok) return inventory;
  const index = functions(loadSrc(`${DIR}/lookup-index`), `src/${DIR}/lookup-index.ts`, ['LookupIndex']);
  if (!index.ok) return index;
  const LookupIndex = index.value['LookupIndex'] as unknown as { build?: unknown };
  if (typeof LookupIndex.build !== 'function') return skip(`src/${DIR}/lookup-index.ts: LookupIndex.build is not a function`);
  const options = functions(loadSrc(`${DIR}/options`), `src/${DIR}/options.ts`, ['parseRepresentorOptions']);
  if (!options.ok) return options;
  const snapshot = functions(loadSrc(`${DIR}/snapshot`), `src/${DIR}/snapshot.ts`, ['collectSnapshot']);
  const sysfs = functions(loadSrc(`${DIR}/sysfs`), `src/${DIR}/sysfs.ts`, ['SysfsReader']);
  const build = LookupIndex.build as (inventory: unknown) => ReturnType<IndexModules['buildIndex']>;
  return {
    ok: true,
    value: {
      parseDevlinkPortsJson: devlink.value.parseDevlinkPortsJson as IndexModules['parseDevlinkPortsJson'],
      buildInventory: inventory.value.buildInventory as IndexModules['buildInventory'],
      buildIndex: (inv) => build.call(LookupIndex, inv),
      parseRepresentorOptions: options.value.parseRepresentorOptions as IndexModules['parseRepresentorOptions'],
      ...(snapshot.ok && sysfs.ok
        ? {
            refresh: {
              collectSnapshot: snapshot.value.collectSnapshot as NonNullable<IndexModules['refresh']>['collectSnapshot'],
              SysfsReader: sysfs.value.SysfsReader as unknown as NonNullable<IndexModules['refresh']>['SysfsReader'],
            },
          }
        : {}),
    },
    ...(snapshot.ok && sysfs.ok ? {} : { note: `refresh through sysfs skipped: ${!snapshot.ok ? snapshot.why : !sysfs.ok ? sysfs.why : ''}` }),
  };
}
