/**
 * npm run bench -- --profile: where a PreparePort's server time goes.
 *
 * Runs the baseline and PreparePort (dummy; representor when available) over
 * the unix socket with the server processes under `node --cpu-prof`
 * (100 µs sampling), alternating as the main run does. Each profile is cut to
 * the measurement windows of one case (the server reports its monotonic clock
 * at both ends of every window; --cpu-prof timestamps use the same clock), and
 * self time is summed per module and per function, divided by the calls served
 * in those windows: µs of server time per call, side by side with the bare
 * grpc-js baseline. Raw profiles stay in bench/results/profiles/ for
 * DevTools or speedscope.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { REPO, RESULTS } from './lib/paths';
import { formatTable, writeJson } from './lib/report';
import type { BenchHost } from './lib/hosts';
import { runGrpc } from './suites/grpc';

interface CpuProfile {
  readonly nodes: readonly { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

interface WindowMark {
  readonly ops: number;
  readonly serverFromUs: number;
  readonly serverToUs: number;
}

/** Modules the bare baseline does not run at all: what vifplug adds by construction. */
const OURS = /^vifplug:|^protobuf runtime|^pino/;

const SERVER_OF: Record<string, string> = { baseline: 'bare', 'prepare.dummy': 'vifplug', 'baseline.repr': 'bare-repr', 'prepare.repr': 'vifplug', 'prepare.remote': 'vifplug' };

export function category(functionName: string, url: string): string {
  if (url === '') {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return 'V8/native, unattributed (program)';
    if (functionName === '(root)') return '(root)';
    return 'native (C++ bindings, V8 builtins)';
  }
  const path = url.replace(/^file:\/\//, '');
  if (path.includes('/node_modules/@grpc/grpc-js/')) return 'grpc-js';
  if (path.includes('/node_modules/@bufbuild/protobuf/')) return 'protobuf runtime (@bufbuild/protobuf)';
  if (path.includes('/node_modules/pino') || path.includes('/node_modules/sonic-boom')) return 'pino (logging)';
  if (path.includes('/node_modules/')) return `other package (${path.split('/node_modules/').pop()!.split('/')[0]})`;
  if (path.includes('/bench/dist/src/gen/')) return 'vifplug: generated codecs (src/gen)';
  if (path.includes('/bench/dist/src/grpc/')) return 'vifplug: gRPC edge (src/grpc)';
  if (path.includes('/bench/dist/src/api/')) return 'vifplug: API rules and conversions (src/api)';
  if (path.includes('/bench/dist/src/server/')) return 'vifplug: the VifPlug service (src/server)';
  if (path.includes('/bench/dist/src/registry/')) return 'vifplug: registry (src/registry)';
  if (path.includes('/bench/dist/src/providers/')) return 'vifplug: providers (src/providers)';
  if (path.includes('/bench/dist/src/')) return 'vifplug: other (src)';
  if (path.includes('/bench/dist/bench/')) return 'bench harness (IPC)';
  if (/^node:(internal\/)?http2/.test(url)) return 'node: http2';
  if (/^node:(internal\/)?(net|stream|streams|internal\/streams|internal\/stream_base_commons)/.test(url) || url.startsWith('node:internal/streams')) return 'node: net/streams';
  if (/^node:internal\/(process\/task_queues|timers|async_hooks)|^node:timers/.test(url)) return 'node: event loop (microtasks, timers)';
  if (url.startsWith('node:')) return 'node: other';
  return 'other';
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  if (path.includes('/node_modules/')) return path.slice(path.lastIndexOf('/node_modules/') + '/node_modules/'.length);
  if (path.startsWith('/')) return relative(REPO, path).replace(/^bench\/dist\//, '');
  return url;
}

/** Self time (us) per node id over samples whose timestamp falls in a window. */
function selfTimes(profile: CpuProfile, windows: readonly WindowMark[]): Map<number, number> {
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (!windows.some((w) => t >= w.serverFromUs && t < w.serverToUs)) continue;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  return self;
}

interface CaseProfile {
  readonly calls: number;
  readonly sampledUs: number;
  readonly byCategory: Record<string, number>;
  readonly byFunction: Record<string, { category: string; us: number }>;
}

function summarise(profile: CpuProfile, windows: readonly WindowMark[]): CaseProfile {
  const calls = windows.reduce((n, w) => n + w.ops, 0);
  const self = selfTimes(profile, windows);
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byCategory: Record<string, number> = {};
  const byFunction: Record<string, { category: string; us: number }> = {};
  let sampledUs = 0;
  for (const [id, us] of self) {
    const frame = nodes.get(id)!.callFrame;
    const cat = category(frame.functionName, frame.url);
    sampledUs += us;
    byCategory[cat] = (byCategory[cat] ?? 0) + us / calls;
    const key = `${frame.functionName || '(anonymous)'}  ${frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim();
    const entry = (byFunction[key] ??= { category: cat, us: 0 });
    entry.us += us / calls;
  }
  return { calls, sampledUs, byCategory, byFunction };
}

function loadProfile(dir: string, pid: number): CpuProfile {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`));
  if (file === undefined) throw new Error(`no CPU profile of pid ${pid} in ${dir}`);
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
}

export async function runProfile(options: {
  seconds: number;
  concurrency: number;
  representorHost: BenchHost | undefined;
  log: (s: string) => void;
}): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(RESULTS, 'profiles', stamp);
  const rounds = 4;
  const result = await runGrpc({
    rounds,
    windowMs: (options.seconds * 1000) / rounds,
    warmupMs: 1000,
    warmupCalls: 5000,
    warmupMaxMs: 15_000,
    transports: ['unix'],
    concurrencies: [options.concurrency],
    batchSizes: [],
    representorHost: options.representorHost,
    serverExecArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100'],
    only: Object.keys(SERVER_OF),
    log: options.log,
  });
  const details = result.details as { groups: Record<string, Record<string, WindowMark[]>>; servers: { name: string; pid: number }[] };
  const windows = details.groups[`unix/c${options.concurrency}`]!;
  const pids = new Map(details.servers.map((s) => [s.name, s.pid]));
  const cases = Object.keys(windows);
  const profiles: Record<string, CaseProfile> = {};
  for (const id of cases) profiles[id] = summarise(loadProfile(dir, pids.get(SERVER_OF[id]!)!), windows[id]!);

  const us = (v: number | undefined): string => (v === undefined ? '' : v.toFixed(2));
  const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  const pairs = cases.filter((c) => c.startsWith('prepare.')).map((c) => [c, c === 'prepare.repr' ? 'baseline.repr' : 'baseline'] as const);
  const out: string[] = [];
  out.push(`\nserver CPU profile, unix socket, concurrency ${options.concurrency}, ${options.seconds} s per case in ${rounds} windows; µs of server self time per call (100 µs sampling)`);
  out.push(`profiles: ${relative(REPO, dir)}/\n`);
  out.push(formatTable(result.rows));
  for (const [id, base] of pairs) {
    const p = profiles[id]!;
    const b = profiles[base]!;
    const cats = [...new Set([...Object.keys(p.byCategory), ...Object.keys(b.byCategory)])].filter((c) => c !== '(root)');
    const busy = (x: CaseProfile) => Object.entries(x.byCategory).filter(([c]) => c !== '(idle)' && c !== '(root)').reduce((n, [, v]) => n + v, 0);
    cats.sort((x, y) => (p.byCategory[y] ?? 0) - (b.byCategory[y] ?? 0) - ((p.byCategory[x] ?? 0) - (b.byCategory[x] ?? 0)));
    const width = Math.max(...cats.map((c) => c.length), 24);
    out.push(`\n${id} vs ${base}: ${p.calls.toLocaleString('en-US')} / ${b.calls.toLocaleString('en-US')} calls profiled`);
    out.push(`${'module'.padEnd(width)}  ${base.padStart(13)}  ${id.padStart(13)}  ${'delta'.padStart(8)}`);
    for (const c of cats) {
      const d = (p.byCategory[c] ?? 0) - (b.byCategory[c] ?? 0);
      out.push(`${c.padEnd(width)}  ${us(b.byCategory[c] ?? 0).padStart(13)}  ${us(p.byCategory[c] ?? 0).padStart(13)}  ${signed(d).padStart(8)}`);
    }
    const ours = (x: CaseProfile) => Object.entries(x.byCategory).filter(([c]) => OURS.test(c)).reduce((n, [, v]) => n + v, 0);
    out.push(`${'busy total (all but idle)'.padEnd(width)}  ${us(busy(b)).padStart(13)}  ${us(busy(p)).padStart(13)}  ${signed(busy(p) - busy(b)).padStart(8)}`);
    out.push(`${'  of which vifplug code + its libraries'.padEnd(width)}  ${us(ours(b)).padStart(13)}  ${us(ours(p)).padStart(13)}  ${signed(ours(p) - ours(b)).padStart(8)}`);
    const fns = Object.entries(p.byFunction)
      .map(([k, v]) => ({ key: k, cat: v.category, us: v.us, base: b.byFunction[k]?.us ?? 0 }))
      .filter((f) => f.cat !== '(idle)')
      .sort((x, y) => y.us - y.base - (x.us - x.base))
      .slice(0, 30);
    out.push(`\ntop functions of ${id} by self time above ${base} (µs per call: ${base} → ${id})`);
    for (const f of fns) out.push(`  ${(f.us - f.base).toFixed(3).padStart(7)}  ${us(f.base).padStart(6)} → ${us(f.us).padStart(6)}  ${f.key}  [${f.cat}]`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  const path = writeJson(RESULTS, 'profile-summary.json', { timestamp: stamp, concurrency: options.concurrency, seconds: options.seconds, profilesDir: relative(REPO, dir), rows: result.rows, profiles });
  process.stdout.write(`\nsummary: ${path}\n`);
}
