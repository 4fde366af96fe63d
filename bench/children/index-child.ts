/**
 * The representor index, in-process, in a process of its own (--expose-gc):
 * build time and retained memory per host size, lookup latency (the
 * provider's hot path: parse the lport options, look up), the same lookup
 * done the naive way, and a refresh that reads the host through sysfs.
 */
import { readFileSync } from 'node:fs';

import { parseDevlinkPortsJson } from '../../src/providers/representor/devlink-ports';
import { buildInventory } from '../../src/providers/representor/inventory';
import { LookupIndex, type LookupOutcome } from '../../src/providers/representor/lookup-index';
import { parseRepresentorOptions } from '../../src/providers/representor/options';
import { collectSnapshot, readDevlink, type Snapshot } from '../../src/providers/representor/snapshot';
import { SysfsReader } from '../../src/providers/representor/sysfs';
import { serveParent } from '../lib/ipc';
import { naiveLookup } from '../lib/naive-lookup';
import { mean, median, quantileSorted } from '../lib/stats';
import { pickPorts, representorOptions, type BenchHost } from '../lib/hosts';

export interface IndexRunArg {
  readonly hosts: readonly BenchHost[];
  readonly builds: number;
  /** Timed batches of BATCH lookups per variant. */
  readonly lookupBatches: number;
  /** Naive lookups per host size. */
  readonly naiveLookups: Readonly<Record<number, number>>;
  readonly refreshes: number;
}

export const BATCH = 16;

export interface Distribution {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly samples: number;
}

export interface SizeResult {
  readonly representors: number;
  readonly pfs: number;
  readonly retainedBytes: number;
  readonly buildMs: { readonly cold: number; readonly parse: number; readonly inventory: number; readonly index: number; readonly total: number; readonly fromParsed: number; readonly all: readonly number[] };
  /** Per lookup, ns (batches of BATCH timed with hrtime.bigint). */
  readonly lookupNs: Distribution;
  readonly lookupOnlyNs: Distribution;
  readonly naiveMs: Distribution;
  readonly refreshMs?: Distribution;
}

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  g();
  g();
};

function dist(values: number[]): Distribution {
  const s = values.sort((a, b) => a - b);
  return { p50: quantileSorted(s, 0.5), p99: quantileSorted(s, 0.99), mean: mean(s), samples: s.length };
}

let held: unknown;

/** Correctness before timing: the lookup must answer the representor the options name. */
function checkAnswer(out: LookupOutcome, netdev: string, what: string): void {
  if (!out.found || out.entry.netdev !== netdev) throw new Error(`${what} of ${netdev} answered ${out.found ? out.entry.netdev : out.error.message}`);
}

function build(host: BenchHost, text: string) {
  const t0 = process.hrtime.bigint();
  const parsed = parseDevlinkPortsJson(text);
  const t1 = process.hrtime.bigint();
  const snapshot: Snapshot = { devlink: { ok: true, ports: parsed.ports, warnings: parsed.warnings }, netdevs: new Map(host.uplinks.map((u) => [u.name, u])), warnings: [], pciDrivers: new Map() };
  const inventory = buildInventory(snapshot);
  const t2 = process.hrtime.bigint();
  const index = LookupIndex.build(inventory);
  const t3 = process.hrtime.bigint();
  const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
  return { index, parse: ms(t0, t1), inventory: ms(t1, t2), index_: ms(t2, t3), total: ms(t0, t3) };
}

async function runSize(host: BenchHost, arg: IndexRunArg): Promise<SizeResult> {
  const text = readFileSync(host.devlinkJsonPath, 'utf8');
  const cold = build(host, text).total;

  // Retained memory: what a built index keeps alive (median of three builds held in turn).
  const retained: number[] = [];
  for (let i = 0; i < 3; i++) {
    held = undefined;
    gc();
    const h0 = process.memoryUsage().heapUsed;
    held = build(host, text).index;
    gc();
    retained.push(process.memoryUsage().heapUsed - h0);
  }
  held = undefined;
  const retainedBytes = median(retained);

  const builds = Array.from({ length: arg.builds }, () => build(host, text));
  const index = builds[builds.length - 1]!.index;
  held = undefined;

  // Lookups: the options a controller would send for random ports, checked first.
  const picks = pickPorts(host, 4096, 11);
  const options = picks.map(representorOptions);
  const now = () => performance.timeOrigin + performance.now();
  for (let i = 0; i < picks.length; i++) {
    checkAnswer(index.lookup(parseRepresentorOptions(options[i]!), now()), picks[i]!.netdev, 'lookup');
  }
  const requests = options.map((o) => parseRepresentorOptions(o));
  let sink = 0;
  const timed = (variant: 'full' | 'index', batches: number): number[] => {
    const out = new Array<number>(batches);
    let k = 0;
    for (let b = 0; b < batches; b++) {
      const t0 = process.hrtime.bigint();
      if (variant === 'full') {
        for (let j = 0; j < BATCH; j++) if (index.lookup(parseRepresentorOptions(options[k++ & 4095]!), now()).found) sink++;
      } else {
        for (let j = 0; j < BATCH; j++) if (index.lookup(requests[k++ & 4095]!, now()).found) sink++;
      }
      out[b] = Number(process.hrtime.bigint() - t0) / BATCH;
    }
    return out;
  };
  timed('full', Math.max(2000, arg.lookupBatches >> 2));
  timed('index', Math.max(2000, arg.lookupBatches >> 2));
  const lookupNs = dist(timed('full', arg.lookupBatches));
  const lookupOnlyNs = dist(timed('index', arg.lookupBatches));
  if (sink === 0) throw new Error('no lookup found anything');

  const naive: number[] = [];
  const count = arg.naiveLookups[host.representors] ?? 5;
  for (let i = 0; i < count; i++) {
    const pick = picks[(i * 97) & 4095]!;
    const t0 = process.hrtime.bigint();
    const found = naiveLookup(host.sysfsRoot, pick.pfMac, pick.vf);
    naive.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (found !== pick.netdev) throw new Error(`naive lookup of ${pick.netdev} answered ${found}`);
  }

  let refreshMs: Distribution | undefined;
  if (arg.refreshes > 0) {
    const times: number[] = [];
    for (let i = 0; i < arg.refreshes; i++) {
      const t0 = process.hrtime.bigint();
      const reading = await readDevlink({ readPorts: async () => parseDevlinkPortsJson(readFileSync(host.devlinkJsonPath, 'utf8')) });
      const snapshot = await collectSnapshot(reading, new SysfsReader(host.sysfsRoot));
      const idx = LookupIndex.build(buildInventory(snapshot));
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const pick = picks[i]!;
      checkAnswer(idx.lookup(parseRepresentorOptions(options[i]!), now()), pick.netdev, 'index refreshed through sysfs');
    }
    refreshMs = dist(times);
  }
  return {
    representors: host.representors,
    pfs: host.pfs,
    retainedBytes,
    buildMs: {
      cold,
      parse: median(builds.map((b) => b.parse)),
      inventory: median(builds.map((b) => b.inventory)),
      index: median(builds.map((b) => b.index_)),
      total: median(builds.map((b) => b.total)),
      fromParsed: median(builds.map((b) => b.inventory + b.index_)),
      all: builds.map((b) => b.total),
    },
    lookupNs,
    lookupOnlyNs,
    naiveMs: dist(naive),
    ...(refreshMs === undefined ? {} : { refreshMs }),
  };
}

serveParent({
  async run(arg: IndexRunArg): Promise<{ sizes: SizeResult[] }> {
    const sizes: SizeResult[] = [];
    for (const host of arg.hosts) sizes.push(await runSize(host, arg));
    return { sizes };
  },
});
