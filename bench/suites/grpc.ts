/**
 * The gRPC suite: each server in its own process, the load generated here.
 * The cases come from the families in grpc-cases/ (see grpc-cases/case.ts to
 * add one). For every (transport, concurrency) group, every case is warmed
 * up, then measured in rounds that alternate the cases, so that machine drift
 * hits all of them alike; each round starts one case later (A B C, B C A,
 * C A B, ...), so that no case always follows the same one. Before every
 * window the bench's processes settle (lib/settle.ts; no forced GC). Figures
 * are medians over rounds; ratios are medians of the per-round ratios to the
 * baseline of the same round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { OpenRequest, OpenResponse, PreparePortResponse, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { LIMITS } from '../../src/api/limits';
import { FAMILIES } from '../grpc-cases';
import { PREPARE, FINISH, DESTROY, type CaseContext, type CaseDef, type GrpcOptions, type Server, type Transport } from '../grpc-cases/case';
import { forkChild, type Child, type ProcessReport } from '../lib/ipc';
import { connect, identity, runWindow, unary } from '../lib/load';
import { BENCH_JS } from '../lib/paths';
import { judged, skippedRow, type Row } from '../lib/report';
import { settle } from '../lib/settle';
import { median, quantileSorted, round } from '../lib/stats';
import { OutsideCheck, agree, band, noiseBand, type OutsideFigure } from '../outside/check';
import type { StartArg as BareStartArg } from '../servers/bare-server';
import type { Started, StartArg } from '../servers/vifplug-server';

export type { GrpcOptions, Transport };

interface WindowStats {
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly opsPerSec: number;
  readonly serverCpuUsPerOp: number;
  readonly clientCpuUsPerOp: number;
  readonly serverUtil: number;
  readonly clientUtil: number;
  /** The window on the server's monotonic clock (us), to cut CPU profiles. */
  readonly serverFromUs: number;
  readonly serverToUs: number;
  /** How long the processes took to settle before the window, and whether they did. */
  readonly settleMs: number;
  readonly settled: boolean;
}

export interface GrpcResult {
  readonly rows: Row[];
  readonly details: unknown;
}

/**
 * Node flags of every server process (vifplug, the floors, remote providers):
 * the same for all. --no-memory-reducer: V8's memory reducer runs full GCs in
 * a process whose allocation rate has dropped, which here is any server idle
 * while the other cases of a round run, and such a GC deoptimizes the idle
 * server's hot path (see lib/settle.ts): traced, a floor read 430 µs of CPU
 * per call after a "Mark-Compact (reduce)" and took four rounds to get back to
 * 150. A server under load never meets it: its allocation rate stays up.
 * --expose-gc only lets the memory suite measure live heap.
 */
export const SERVER_NODE_FLAGS = ['--no-memory-reducer', '--expose-gc'] as const;

/** Forks bench/servers/<script> and starts it with `arg`. */
export function startServer<T>(name: string, script: string, arg: unknown, execArgv: readonly string[]): Promise<{ child: Child; started: T }> {
  const child = forkChild(name, join(BENCH_JS, 'servers', script), { execArgv: [...SERVER_NODE_FLAGS, ...execArgv] });
  return child.call<T>('start', arg).then(
    (started) => ({ child, started }),
    async (err: unknown) => {
      await child.stop(1000);
      throw err;
    },
  );
}

/**
 * The grpc-js server options vifplugd builds its server with (src/server/server.ts),
 * given to the bare floors. (Measured: this one does not change a call's cost,
 * 0.99x at concurrency 1, 1.01-1.03x at 64; the floor carries it anyway, so that
 * it is vifplugd's server minus the work, not an argument.)
 */
const VIFPLUGD_SERVER_OPTIONS = { 'grpc.max_receive_message_length': LIMITS.maxMessageBytes };

/** The case the outside client checks: what it measures (PreparePort, dummy provider, against a zero-work floor). */
const CHECKED = 'prepare.dummy';

/** The main figure's per-round ratios, as its row computes them (latency at concurrency 1, throughput above). */
function mainRatios(c: CaseDef, measured: Map<string, WindowStats[]>, concurrency: number): number[] {
  const base = measured.get(c.baseline)!;
  return measured.get(c.id)!.map((w, r) => (concurrency === 1 ? w.p50Us / base[r]!.p50Us : w.opsPerSec / base[r]!.opsPerSec));
}

/**
 * The outside client's row for one group: its figure, and whether the bench's
 * main figure agrees with it (their interquartile ranges over rounds overlap,
 * or their medians lie within the run-to-run noise band).
 */
async function crossCheck(
  outside: OutsideCheck,
  c: CaseDef,
  measured: Map<string, WindowStats[]>,
  transport: Transport,
  concurrency: number,
  details: Record<string, unknown>,
): Promise<Row> {
  const label = `${c.label}, outside client (proto-loader; vifplugd vs canned bytes)`;
  const common = { suite: 'grpc', case: label, transport, concurrency };
  const target = { text: 'agrees', on: 'ratio' } as const;
  if (outside.unavailable !== undefined) return skippedRow('grpc', label, outside.unavailable, target);
  let o: OutsideFigure;
  try {
    o = await outside.run(transport, concurrency);
  } catch (err) {
    return { ...common, metric: '', unit: 'us', median: NaN, error: err instanceof Error ? err.message : String(err), target };
  }
  const ratios = mainRatios(c, measured, concurrency);
  const main = { ratio: median(ratios), band: band(ratios) };
  const agrees = agree(main, o, noiseBand(concurrency));
  details[`${transport}/c${concurrency}`] = { main: { ...main, ratios }, outside: o };
  const span = (b: readonly [number, number]): string => `${b[0].toFixed(2)}-${b[1].toFixed(2)}`;
  const verdict = `bench ${main.ratio.toFixed(2)}x (${span(main.band)}), outside ${o.ratio.toFixed(2)}x (${span(o.band)}): ${agrees ? 'agree' : 'DISAGREE'}`;
  const floor = concurrency === 1 ? `floor p50 ${o.floor.toFixed(1)} µs` : `floor ${Math.round(o.floor).toLocaleString('en-US')} calls/s`;
  return {
    ...common,
    metric: concurrency === 1 ? 'latency p50 per call' : 'throughput (calls/s); p99 = call latency under load',
    unit: concurrency === 1 ? 'us' : 'calls/s',
    median: o.daemon,
    p99: o.daemonP99Us,
    p99Unit: 'us',
    ratio: o.ratio,
    target,
    pass: agrees,
    note: `${verdict}; ${floor}; client ${pct(o.clientUtil)} CPU`,
  };
}

async function serverOf(name: string, child: Child, targets: { unix: string; tcp: string }): Promise<Server> {
  return { name, child, clients: { unix: await connect(targets.unix), tcp: await connect(targets.tcp) } };
}

export async function runGrpc(options: GrpcOptions): Promise<GrpcResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vifplug-bench-'));
  const servers: Server[] = [];
  /** Processes the cases depend on that are not called directly (remote providers). */
  const helpers: Child[] = [];
  const details: Record<string, unknown> = {};
  const outsideDetails: Record<string, unknown> = {};
  const outside =
    options.outside === undefined
      ? undefined
      : new OutsideCheck(dir, { ...options.outside, warmupMs: options.warmupMs, warmupCalls: options.warmupCalls, warmupMaxMs: options.warmupMaxMs });
  try {
    const ctx = await caseContext(options, dir, servers, helpers);
    await outside?.start();
    const cases: CaseDef[] = [];
    const skipped: Row[] = [];
    for (const family of FAMILIES) {
      const familyDetails: Record<string, unknown> = {};
      const built = await family.build({ ...ctx, details: familyDetails });
      cases.push(...built.cases);
      skipped.push(...built.skipped);
      if (Object.keys(familyDetails).length > 0) details[family.name] = familyDetails;
    }
    const active = options.only === undefined ? cases : cases.filter((c) => options.only!.includes(c.id));
    const rows: Row[] = [];
    const groups: Record<string, unknown> = {};
    const warmed = new Set<string>();
    for (const transport of options.transports) {
      for (const concurrency of options.concurrencies) {
        const inGroup = active.filter((c) => transport === 'unix' || !c.unixOnly);
        options.log(`grpc: ${transport}, concurrency ${concurrency}: ${inGroup.map((c) => c.id).join(', ')}`);
        const measured = await runGroup(inGroup, [...servers.map((s) => s.child), ...helpers], transport, concurrency, options, warmed);
        groups[`${transport}/c${concurrency}`] = Object.fromEntries([...measured].map(([id, w]) => [id, w.map(roundStats)]));
        const summary = summarise(inGroup, measured, transport, concurrency);
        const checked = inGroup.find((c) => c.id === CHECKED);
        if (outside !== undefined && checked !== undefined) {
          options.log(`grpc: ${transport}, concurrency ${concurrency}: the outside client's cross-check`);
          const row = await crossCheck(outside, checked, measured, transport, concurrency, outsideDetails);
          summary.splice(summary.findIndex((r) => r.case === checked.label) + 1, 0, row);
        }
        rows.push(...summary);
      }
    }
    rows.push(...skipped);
    details['groups'] = groups;
    if (outside !== undefined) details['outside'] = outsideDetails;
    details['servers'] = await Promise.all(servers.map(async (s) => ({ name: s.name, pid: s.child.proc.pid, final: await s.child.call<ProcessReport>('report') })));
    details['vifplugStats'] = await ctx.vifplug.child.call('stats');
    return { rows, details };
  } finally {
    await outside?.stop();
    for (const s of servers) for (const c of Object.values(s.clients)) c.close();
    await Promise.all([...servers.map((s) => s.child), ...helpers].map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts the vifplug server (with the representor provider when there is a host) and what families build on. */
async function caseContext(options: GrpcOptions, dir: string, servers: Server[], helpers: Child[]): Promise<Omit<CaseContext, 'details'>> {
  const execArgv = options.serverExecArgv ?? [];
  const host = options.representorHost;
  const startArg: StartArg = {
    unixPath: join(dir, 'vifplug.sock'),
    ...(host === undefined ? {} : { representor: { sysfsRoot: host.sysfsRoot, devlinkBin: host.devlinkBin, ipBin: host.ipBin } }),
  };
  const vp = await startServer<Started>('vifplug server', 'vifplug-server.js', startArg, execArgv);
  const vifplug = await serverOf('vifplug', vp.child, vp.started);
  servers.push(vifplug);
  return {
    options,
    vifplug,
    representor: vp.started.representor,
    open: async (type) =>
      (await unary(vifplug.clients.unix, VifPlugService.open.path, VifPlugService.open.requestSerialize(OpenRequest.fromPartial({ type })), OpenResponse.decode)).instanceId,
    realReply: async (request) => {
      const bytes = await unary(vifplug.clients.unix, PREPARE, request, identity);
      await vifplug.child.call('destroyCtxs', [PreparePortResponse.decode(bytes).ctxId]);
      return bytes;
    },
    startHelper: async (name, script, arg) => {
      const started = await startServer<unknown>(`${name} process`, script, { ...arg, dir }, execArgv);
      helpers.push(started.child);
      return started as never;
    },
    startBare: async (name, reply) => {
      const arg: BareStartArg = {
        unixPath: join(dir, `${name}.sock`),
        replies: { [PREPARE]: reply, [FINISH]: Buffer.alloc(0), [DESTROY]: Buffer.alloc(0) },
        serverOptions: VIFPLUGD_SERVER_OPTIONS,
      };
      const bare = await startServer<{ unix: string; tcp: string }>(`${name} server`, 'bare-server.js', arg, execArgv);
      const server = await serverOf(name, bare.child, bare.started);
      servers.push(server);
      return server;
    },
  };
}

async function measure(c: CaseDef, transport: Transport, concurrency: number, ms: number, children: readonly Child[]): Promise<WindowStats> {
  // Start every window from the same state: nothing left running by the previous one.
  const settled = await settle(children);
  const s0 = await c.server.child.call<ProcessReport>('report');
  const c0 = process.cpuUsage();
  const w = await runWindow(c.op(c.server.clients[transport]), concurrency, ms);
  const cpu = process.cpuUsage(c0);
  const s1 = await c.server.child.call<ProcessReport>('report');
  await c.drain?.();
  const lat = Array.from(w.latNs).sort((a, b) => a - b);
  const seconds = w.elapsedNs / 1e9;
  const serverCpu = s1.cpuMicros - s0.cpuMicros;
  const clientCpu = cpu.user + cpu.system;
  let sum = 0;
  for (const v of lat) sum += v;
  return {
    ops: w.ops,
    errors: w.errors,
    ...(w.firstError === undefined ? {} : { firstError: w.firstError }),
    seconds,
    p50Us: quantileSorted(lat, 0.5) / 1000,
    p99Us: quantileSorted(lat, 0.99) / 1000,
    meanUs: sum / Math.max(1, lat.length) / 1000,
    opsPerSec: w.ops / seconds,
    serverCpuUsPerOp: serverCpu / Math.max(1, w.ops),
    clientCpuUsPerOp: clientCpu / Math.max(1, w.ops),
    serverUtil: serverCpu / 1e6 / ((s1.hrMicros - s0.hrMicros) / 1e6),
    clientUtil: clientCpu / 1e6 / seconds,
    serverFromUs: s0.hrMicros,
    serverToUs: s1.hrMicros,
    settleMs: settled.waitedMs,
    settled: settled.quiet,
  };
}

/** Unmeasured calls of `c` before its rounds (see GrpcOptions.warmupMs); `warmed` lists the cases that ran before. */
async function warmUp(c: CaseDef, transport: Transport, concurrency: number, options: GrpcOptions, children: readonly Child[], warmed: Set<string>): Promise<void> {
  const calls = warmed.has(c.id) ? 0 : options.warmupCalls;
  await settle(children);
  const t0 = performance.now();
  let made = 0;
  do {
    const w = await runWindow(c.op(c.server.clients[transport]), concurrency, options.warmupMs);
    await c.drain?.();
    // A batch's calls run the per-port path many times each: count its ports.
    made += w.ops * Math.max(c.callsPerOp, c.portsPerOp);
  } while (made < calls && performance.now() - t0 < options.warmupMaxMs);
  warmed.add(c.id);
}

async function runGroup(
  cases: readonly CaseDef[],
  children: readonly Child[],
  transport: Transport,
  concurrency: number,
  options: GrpcOptions,
  warmed: Set<string>,
): Promise<Map<string, WindowStats[]>> {
  for (const c of cases) await warmUp(c, transport, concurrency, options, children, warmed);
  const out = new Map<string, WindowStats[]>(cases.map((c) => [c.id, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const c of rotated(cases, r)) out.get(c.id)!.push(await measure(c, transport, concurrency, options.windowMs, children));
  }
  return out;
}

/**
 * Round r starts at case r: a window can pay for what the one before it left
 * (the floor used to follow the heaviest batches through a remote provider in
 * every round); rotating spreads that over the cases and the rounds.
 */
function rotated<T>(cases: readonly T[], round: number): T[] {
  const k = round % Math.max(1, cases.length);
  return [...cases.slice(k), ...cases.slice(0, k)];
}

function roundStats(w: WindowStats): Record<string, unknown> {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, typeof v === 'number' && k !== 'serverFromUs' && k !== 'serverToUs' ? round(v, 3) : v]));
}

/** Per-call latency (us) of a window: a cycle's is a third of it, a batch's per port. */
function perUnit(c: CaseDef, w: WindowStats, q: 'p50Us' | 'p99Us'): number {
  return w[q] / (c.kind === 'batch' ? c.portsPerOp : c.callsPerOp);
}

function summarise(cases: readonly CaseDef[], measured: Map<string, WindowStats[]>, transport: Transport, concurrency: number): Row[] {
  const rows = cases.map((c) => {
    const ws = measured.get(c.id)!;
    const common = { suite: 'grpc', case: c.label, transport, concurrency };
    const target = c.target(concurrency);
    const errors = ws.reduce((n, w) => n + w.errors, 0);
    if (errors > 0) {
      return { ...common, metric: '', unit: 'us' as const, median: NaN, error: `${errors} failed calls: ${ws.find((w) => w.firstError)?.firstError}`, ...(target ? { target } : {}) };
    }
    const figures = new Figures(c, ws, measured.get(c.baseline));
    const row = concurrency === 1 ? latencyRow(c, figures) : c.kind === 'batch' ? batchThroughputRow(c, figures) : throughputRow(c, figures);
    return judged({ ...common, ...row, ...(target === undefined ? {} : { target }) });
  });
  return rows.flatMap((row, i) => {
    const c = cases[i]!;
    const other = c.against === undefined ? undefined : measured.get(c.against.id);
    return other === undefined || row.error !== undefined ? [row] : [row, againstRow(c, c.against!, measured.get(c.id)!, other, transport, concurrency)];
  });
}

/**
 * A case against another of the same rounds: at concurrency 1 its p50
 * latency over the other's, under load its throughput over the other's;
 * medians of the per-round ratios.
 */
function againstRow(c: CaseDef, against: NonNullable<CaseDef['against']>, ws: readonly WindowStats[], other: readonly WindowStats[], transport: Transport, concurrency: number): Row {
  const target = against.target(concurrency);
  const latency = concurrency === 1;
  const ratio = median(ws.map((w, r) => (latency ? w.p50Us / other[r]!.p50Us : w.opsPerSec / other[r]!.opsPerSec)));
  const cpu = median(ws.map((w, r) => w.serverCpuUsPerOp / other[r]!.serverCpuUsPerOp));
  return judged({
    suite: 'grpc',
    case: `${c.label} vs ${against.label}`,
    transport,
    concurrency,
    metric: latency ? `latency p50 per call, ratio to ${against.label} (same rounds)` : `throughput, ratio to ${against.label} (same rounds)`,
    unit: latency ? 'us' : 'calls/s',
    median: latency ? median(ws.map((w) => w.p50Us)) : median(ws.map((w) => w.opsPerSec)),
    ratio,
    note: `${against.label} ${latency ? `p50 ${median(other.map((w) => w.p50Us)).toFixed(1)} µs` : `${Math.round(median(other.map((w) => w.opsPerSec))).toLocaleString('en-US')} calls/s`}; vifplugd CPU per call ${cpu.toFixed(2)}x`,
    ...(target === undefined ? {} : { target }),
  });
}

/** Medians over a case's rounds, and of its per-round ratios to the baseline. */
class Figures {
  readonly divisor: number;
  constructor(
    readonly c: CaseDef,
    readonly ws: readonly WindowStats[],
    private readonly base: readonly WindowStats[] | undefined,
  ) {
    this.divisor = c.kind === 'batch' ? c.portsPerOp : c.callsPerOp;
  }

  of(f: (w: WindowStats) => number): number {
    return median(this.ws.map(f));
  }

  /** undefined without a baseline. */
  paired(f: (w: WindowStats, b: WindowStats) => number): number | undefined {
    const base = this.base;
    return base === undefined ? undefined : median(this.ws.map((w, r) => f(w, base[r]!)));
  }

  /** Server CPU per call (or per port), and its ratio to the baseline's per call. */
  cpu(): Pick<Row, 'serverCpuUs' | 'serverCpuRatio'> {
    const ratio = this.paired((w, b) => w.serverCpuUsPerOp / this.divisor / b.serverCpuUsPerOp);
    return { serverCpuUs: this.of((w) => w.serverCpuUsPerOp / this.divisor), ...(ratio === undefined ? {} : { serverCpuRatio: ratio }) };
  }

  utilisation(): string {
    return `server ${pct(this.of((w) => w.serverUtil))} / load ${pct(this.of((w) => w.clientUtil))} CPU`;
  }
}

type Figured = Omit<Row, 'suite' | 'case' | 'transport' | 'concurrency'>;

function withRatio(ratio: number | undefined): { ratio?: number } {
  return ratio === undefined ? {} : { ratio };
}

/** Concurrency 1: latency per call (per port for a batch, per call of a cycle). */
function latencyRow(c: CaseDef, f: Figures): Figured {
  const note = c.kind === 'cycle' ? { note: `cycle p50 ${f.of((w) => w.p50Us).toFixed(1)} µs` } : c.kind === 'batch' ? { note: `call p50 ${f.of((w) => w.p50Us).toFixed(1)} µs` } : {};
  return {
    metric: c.kind === 'batch' ? 'latency p50 per port' : 'latency p50 per call',
    unit: c.kind === 'batch' ? 'us/port' : 'us',
    median: f.of((w) => perUnit(c, w, 'p50Us')),
    p99: f.of((w) => perUnit(c, w, 'p99Us')),
    ...withRatio(f.paired((w, b) => perUnit(c, w, 'p50Us') / b.p50Us)),
    ...f.cpu(),
    ...note,
  };
}

/** A batch under load: the time one port takes out of the pipeline, against one bare call. */
function batchThroughputRow(c: CaseDef, f: Figures): Figured {
  return {
    metric: 'time per port at saturation (1 / ports/s)',
    unit: 'us/port',
    median: f.of((w) => 1e6 / (w.opsPerSec * c.portsPerOp)),
    p99: f.of((w) => w.p99Us / c.portsPerOp),
    p99Unit: 'us/port',
    ...withRatio(f.paired((w, b) => b.opsPerSec / (w.opsPerSec * c.portsPerOp))),
    ...f.cpu(),
    note: `${Math.round(f.of((w) => w.opsPerSec * c.portsPerOp)).toLocaleString('en-US')} ports/s; ${f.utilisation()}`,
  };
}

function throughputRow(c: CaseDef, f: Figures): Figured {
  return {
    metric: 'throughput (calls/s); p99 = call latency under load',
    unit: 'calls/s',
    median: f.of((w) => w.opsPerSec * c.callsPerOp),
    p99: f.of((w) => perUnit(c, w, 'p99Us')),
    p99Unit: 'us',
    ...withRatio(f.paired((w, b) => (w.opsPerSec * c.callsPerOp) / b.opsPerSec)),
    ...f.cpu(),
    note: f.utilisation(),
  };
}

const pct = (v: number): string => `${Math.round(v * 100)}%`;
