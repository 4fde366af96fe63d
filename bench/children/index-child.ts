/**
 * The representor index, in-process, in a process of its own (--expose-gc):
 * build time and retained memory per host size, lookup latency (the
 * provider's hot path: parse the lport options, look up), the same lookup
 * done the naive way, and a refresh that reads the host through sysfs.
 */
import { readFileSync } from 'node:fs';

import { serveParent } from '../lib/ipc';
import { naiveLookup } from '../lib/naive-lookup';
import { mean, median, quantileSorted } from '../lib/stats';
import { pickPorts, representorOptions, type BenchHost } from '../lib/hosts';
import { probeIndex, type IndexModules } from '../plugins/representor';

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

function build(m: IndexModules, host: BenchHost, text: string) {
  const t0 = process.hrtime.bigint();
  const parsed = m.parseDevlinkPortsJson(text);
  const t1 = process.hrtime.bigint();
  const snapshot = { devlink: { ok: true, ports: parsed.ports, warnings: parsed.warnings }, netdevs: new Map(host.uplinks.map((u) => [u.name, u])), warnings: [] };
  const inventory = m.buildInventory(snapshot);
  const t2 = process.hrtime.bigint();
  const index = m.buildIndex(inventory);
  const t3 = process.hrtime.bigint();
  const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
  return { index, parse: ms(t0, t1), inventory: ms(t1, t2), index_: ms(t2, t3), total: ms(t0, t3) };
}

async function runSize(m: IndexModules, host: BenchHost, arg: IndexRunArg): Promise<SizeResult> {
  const text = readFileSync(host.devlinkJsonPath, 'utf8');
  const cold = build(m, host, text).total;

  // Retained memory: what a built index keeps alive (median of three builds held in turn).
  const retained: number[] = [];
  for (let i = 0; i < 3; i++) {
    held = undefined;
    gc();
    const h0 = process.memoryUsage().heapUsed;
    held = build(m, host, text).index;
    gc();
    retained.push(process.memoryUsage().heapUsed - h0);
  }
  held = undefined;
  const retainedBytes = median(retained);

  const builds = Array.from({ length: arg.builds }, () => build(m, host, text));
  const index = builds[builds.length - 1]!.index;
  held = undefined;

  // Lookups: the options a controller would send for random ports, checked first.
  const picks = pickPorts(host, 4096, 11);
  const options = picks.map(representorOptions);
  const now = () => performance.timeOrigin + performance.now();
  for (let i = 0; i < picks.length; i++) {
    const out = index.lookup(m.parseRepresentorOptions(options[i]!), now());
    if (!out.found || out.entry?.netdev !== picks[i]!.netdev) throw new Error(`lookup of ${picks[i]!.netdev} answered ${out.entry?.netdev ?? out.error?.message}`);
  }
  const requests = options.map((o) => m.parseRepresentorOptions(o));
  let sink = 0;
  const timed = (variant: 'full' | 'index', batches: number): number[] => {
    const out = new Array<number>(batches);
    let k = 0;
    for (let b = 0; b < batches; b++) {
      const t0 = process.hrtime.bigint();
      if (variant === 'full') {
        for (let j = 0; j < BATCH; j++) if (index.lookup(m.parseRepresentorOptions(options[k++ & 4095]!), now()).found) sink++;
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
  if (m.refresh !== undefined && arg.refreshes > 0) {
    const r = m.refresh;
    const times: number[] = [];
    for (let i = 0; i < arg.refreshes; i++) {
      const t0 = process.hrtime.bigint();
      const snapshot = await r.collectSnapshot({ readPorts: async () => m.parseDevlinkPortsJson(readFileSync(host.devlinkJsonPath, 'utf8')) }, new r.SysfsReader(host.sysfsRoot));
      const idx = m.buildIndex(m.buildInventory(snapshot));
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const pick = picks[i]!;
      const out = idx.lookup(m.parseRepresentorOptions(options[i]!), now());
      if (out.entry?.netdev !== pick.netdev) throw new Error(`index refreshed through sysfs answered ${out.entry?.netdev ?? out.error?.message} for ${pick.netdev}`);
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
  async run(arg: IndexRunArg) {
    const m = probeIndex();
    if (!m.ok) return { skipped: m.why };
    const sizes: SizeResult[] = [];
    for (const host of arg.hosts) sizes.push(await runSize(m.value, host, arg));
    return { sizes, ...(m.note === undefined ? {} : { note: m.note }) };
  },
});
