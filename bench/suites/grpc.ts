/**
 * The gRPC cases: each server in its own process, the load generated here.
 * For every (transport, concurrency) group, every case is warmed up, then
 * measured in rounds that alternate the cases (A B C A B C ...), so that
 * machine drift hits all of them alike. Figures are medians over rounds;
 * ratios are medians of the per-round ratios to the baseline of the same round.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Client } from '@grpc/grpc-js';

import { FinishPortRequest, OpenRequest, OpenResponse, PreparePortResponse, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { forkChild, type Child, type ProcessReport } from '../lib/ipc';
import { connect, identity, runWindow, unary, type Op } from '../lib/load';
import { BENCH_JS } from '../lib/paths';
import { dummyOptions, encodePrepare } from '../lib/requests';
import { judged, skippedRow, type Row, type Target } from '../lib/report';
import { median, quantileSorted, round } from '../lib/stats';
import { pickPorts, representorOptions, type BenchHost } from '../lib/hosts';
import { probeBatch, type BatchCodec } from '../plugins/batch';
import type { Started, StartArg } from '../servers/vifplug-server';

export type Transport = 'unix' | 'tcp';

export interface GrpcOptions {
  readonly rounds: number;
  readonly windowMs: number;
  readonly warmupMs: number;
  readonly transports: readonly Transport[];
  readonly concurrencies: readonly number[];
  readonly batchSizes: readonly number[];
  /** The host for the representor case, or why there is none. */
  readonly representorHost: BenchHost | { readonly why: string };
  /** Extra node flags for the server processes (profiling). */
  readonly serverExecArgv?: readonly string[];
  /** Only these case ids (profiling). */
  readonly only?: readonly string[];
  readonly log: (line: string) => void;
}

export const TARGETS = {
  latency: { text: '<= 1.15x', on: 'ratio', max: 1.15 },
  throughput: { text: '>= 0.90x', on: 'ratio', min: 0.9 },
  batch: { text: '<= 0.10x', on: 'ratio', max: 0.1 },
} satisfies Record<string, Target>;

const PREPARE = VifPlugService.preparePort.path;
const FINISH = VifPlugService.finishPort.path;
const DESTROY = VifPlugService.destroyCtx.path;
const POOL = 1024;

interface Server {
  readonly name: string;
  readonly child: Child;
  readonly clients: Record<Transport, Client>;
}

type Kind = 'unary' | 'cycle' | 'batch';

interface CaseDef {
  readonly id: string;
  readonly label: string;
  readonly server: Server;
  /** The case this one is compared to (a baseline compares to itself). */
  readonly baseline: string;
  readonly kind: Kind;
  readonly callsPerOp: number;
  readonly portsPerOp: number;
  readonly unixOnly: boolean;
  op(client: Client): Op;
  /** Releases what a window left behind (ctxs), outside the timing. */
  drain?(): Promise<void>;
  target(concurrency: number): Target | undefined;
}

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
}

export interface GrpcResult {
  readonly rows: Row[];
  readonly details: unknown;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

export function startServer<T>(name: string, script: string, arg: unknown, execArgv: readonly string[]): Promise<{ child: Child; started: T }> {
  const child = forkChild(name, join(BENCH_JS, 'servers', script), { execArgv: ['--expose-gc', ...execArgv] });
  return child.call<T>('start', arg).then(
    (started) => ({ child, started }),
    async (err: unknown) => {
      await child.stop(1000);
      throw err;
    },
  );
}

export async function clientsFor(targets: { unix: string; tcp: string }): Promise<Record<Transport, Client>> {
  return { unix: await connect(targets.unix), tcp: await connect(targets.tcp) };
}


/** PreparePort with requests from `pool`; ctx ids are kept for drain() when `keep`. */
function prepareOp(pool: readonly Buffer[], keep: string[] | undefined): (client: Client) => Op {
  return (client) => {
    let i = 0;
    return async () => {
      const res = await unary(client, PREPARE, pool[i++ & (POOL - 1)]!, PreparePortResponse.decode);
      if (!res.plug || res.ctxId === '') throw new Error(`PreparePort did not plug: ${res.declineReason} ${res.declineMessage}`);
      keep?.push(res.ctxId);
    };
  };
}

function cycleOp(pool: readonly Buffer[]): (client: Client) => Op {
  return (client) => {
    let i = 0;
    return async () => {
      const res = await unary(client, PREPARE, pool[i++ & (POOL - 1)]!, PreparePortResponse.decode);
      if (!res.plug || res.ctxId === '') throw new Error(`PreparePort did not plug: ${res.declineReason} ${res.declineMessage}`);
      // FinishPortRequest and DestroyCtxRequest are both {ctx_id = 1}: one encoding serves both.
      const byId = Buffer.from(FinishPortRequest.encode({ ctxId: res.ctxId }).finish());
      await unary(client, FINISH, byId, identity);
      await unary(client, DESTROY, byId, identity);
    };
  };
}

function drainer(server: Server, ids: string[]): () => Promise<void> {
  return async () => {
    while (ids.length > 0) await server.child.call('destroyCtxs', ids.splice(0, 20_000));
  };
}

export async function runGrpc(options: GrpcOptions): Promise<GrpcResult> {
  const log = options.log;
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vifplug-bench-'));
  const servers: Server[] = [];
  const extraArgv = options.serverExecArgv ?? [];
  const details: Record<string, unknown> = {};
  try {
    // The product.
    const host = 'why' in options.representorHost ? undefined : options.representorHost;
    const startArg: StartArg = {
      unixPath: join(dir, 'vifplug.sock'),
      ...(host === undefined ? {} : { representor: { sysfsRoot: host.sysfsRoot, devlinkBin: host.devlinkBin, ipBin: host.ipBin } }),
    };
    const vp = await startServer<Started>('vifplug server', 'vifplug-server.js', startArg, extraArgv);
    const vifplug: Server = { name: 'vifplug', child: vp.child, clients: await clientsFor(vp.started) };
    servers.push(vifplug);
    const open = async (type: string): Promise<string> =>
      (await unary(vifplug.clients.unix, VifPlugService.open.path, VifPlugService.open.requestSerialize(OpenRequest.fromPartial({ type })), OpenResponse.decode))
        .instanceId;
    const dummyId = await open('dummy');

    let representorWhy: string | undefined = 'why' in options.representorHost ? options.representorHost.why : undefined;
    if (host !== undefined && vp.started.representor !== undefined && !vp.started.representor.ok) representorWhy = vp.started.representor.why;
    if (host !== undefined && vp.started.representor?.ok) details['representorInitMs'] = round(vp.started.representor.initMs, 1);

    // Requests: distinct lport names (UUIDs, as OpenStack and Kubernetes name lports).
    const dummyPool = Array.from({ length: POOL }, () => encodePrepare(dummyId, randomUUID(), dummyOptions()));

    // The real replies, whose bytes the bare servers send back.
    const realReply = async (request: Buffer): Promise<Buffer> => {
      const bytes = await unary(vifplug.clients.unix, PREPARE, request, identity);
      await vifplug.child.call('destroyCtxs', [PreparePortResponse.decode(bytes).ctxId]);
      return bytes;
    };
    const bareReplies = (reply: Buffer) => ({ unixPath: join(dir, `bare-${servers.length}.sock`), replies: { [PREPARE]: reply, [FINISH]: Buffer.alloc(0), [DESTROY]: Buffer.alloc(0) } });
    const dummyReply = await realReply(dummyPool[0]!);
    const bare = await startServer<{ unix: string; tcp: string }>('bare server', 'bare-server.js', bareReplies(dummyReply), extraArgv);
    const bareServer: Server = { name: 'bare', child: bare.child, clients: await clientsFor(bare.started) };
    servers.push(bareServer);
    details['replyBytes'] = { dummy: dummyReply.length };
    details['requestBytes'] = { dummy: dummyPool[0]!.length };

    const cases: CaseDef[] = [];
    const dummyIds: string[] = [];
    cases.push(
      {
        id: 'baseline',
        label: 'baseline: bare grpc-js, fixed reply',
        server: bareServer,
        baseline: 'baseline',
        kind: 'unary',
        callsPerOp: 1,
        portsPerOp: 1,
        unixOnly: false,
        op: prepareOp(dummyPool, undefined),
        target: () => undefined,
      },
      {
        id: 'prepare.dummy',
        label: 'PreparePort dummy',
        server: vifplug,
        baseline: 'baseline',
        kind: 'unary',
        callsPerOp: 1,
        portsPerOp: 1,
        unixOnly: false,
        op: prepareOp(dummyPool, dummyIds),
        drain: drainer(vifplug, dummyIds),
        target: (c) => (c === 1 ? TARGETS.latency : TARGETS.throughput),
      },
      {
        id: 'cycle.dummy',
        label: 'Prepare+Finish+Destroy dummy, per call',
        server: vifplug,
        baseline: 'baseline',
        kind: 'cycle',
        callsPerOp: 3,
        portsPerOp: 1,
        unixOnly: false,
        op: cycleOp(dummyPool),
        target: () => undefined,
      },
    );

    // Representor: its own baseline, replying with the bytes of a real representor reply.
    const skippedCases: Row[] = [];
    const representorLabel = `PreparePort representor ${host ? host.representors.toLocaleString('en-US') : '16,384'}`;
    if (host !== undefined && representorWhy === undefined) {
      try {
        const reprId = await open('representor');
        const picks = pickPorts(host, POOL, 7);
        const reprPool = picks.map((p) => encodePrepare(reprId, randomUUID(), representorOptions(p)));
        // Correctness first: every request must plug the representor it names.
        for (let i = 0; i < POOL; i++) {
          const res = await unary(vifplug.clients.unix, PREPARE, reprPool[i]!, PreparePortResponse.decode);
          if (res.name !== picks[i]!.netdev) throw new Error(`PreparePort answered ${res.name} for ${picks[i]!.netdev}`);
          await vifplug.child.call('destroyCtxs', [res.ctxId]);
        }
        const reprReply = await realReply(reprPool[0]!);
        const bareRepr = await startServer<{ unix: string; tcp: string }>('bare server (representor reply)', 'bare-server.js', bareReplies(reprReply), extraArgv);
        const bareReprServer: Server = { name: 'bare-repr', child: bareRepr.child, clients: await clientsFor(bareRepr.started) };
        servers.push(bareReprServer);
        (details['replyBytes'] as Record<string, number>)['representor'] = reprReply.length;
        (details['requestBytes'] as Record<string, number>)['representor'] = reprPool[0]!.length;
        const reprIds: string[] = [];
        cases.push(
          {
            id: 'baseline.repr',
            label: 'baseline: bare grpc-js, representor-sized reply',
            server: bareReprServer,
            baseline: 'baseline.repr',
            kind: 'unary',
            callsPerOp: 1,
            portsPerOp: 1,
            unixOnly: false,
            op: prepareOp(reprPool, undefined),
            target: () => undefined,
          },
          {
            id: 'prepare.repr',
            label: representorLabel,
            server: vifplug,
            baseline: 'baseline.repr',
            kind: 'unary',
            callsPerOp: 1,
            portsPerOp: 1,
            unixOnly: false,
            op: prepareOp(reprPool, reprIds),
            drain: drainer(vifplug, reprIds),
            target: (c) => (c === 1 ? TARGETS.latency : TARGETS.throughput),
          },
        );
      } catch (err) {
        representorWhy = `representor case failed its checks: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (representorWhy !== undefined) {
      skippedCases.push(skippedRow('grpc', representorLabel, representorWhy, TARGETS.latency));
    }

    // Batch: PreparePorts at 1, 16, 128 ports per call, against one bare unary call.
    const batch = probeBatch();
    let batchWhy: string | undefined = batch.ok ? undefined : batch.why;
    if (batch.ok) {
      try {
        for (const n of options.batchSizes) {
          const pool = Array.from({ length: 64 }, () =>
            batch.value.encode(dummyId, Array.from({ length: n }, () => ({ lportName: randomUUID(), lportOptions: dummyOptions() }))),
          );
          await checkBatch(batch.value, vifplug, pool[0]!, n);
          const ids: string[] = [];
          cases.push({
            id: `batch.${n}`,
            label: `PreparePorts x${n} dummy, per port`,
            server: vifplug,
            baseline: 'baseline',
            kind: 'batch',
            callsPerOp: 1,
            portsPerOp: n,
            unixOnly: true,
            op: (client) => {
              let i = 0;
              return async () => {
                const got = batch.value.ctxIds(await unary(client, batch.value.path, pool[i++ & 63]!, identity));
                if (got.length !== n) throw new Error(`PreparePorts prepared ${got.length} of ${n} ports`);
                for (const id of got) ids.push(id);
              };
            },
            drain: drainer(vifplug, ids),
            target: () => (n === 128 ? TARGETS.batch : undefined),
          });
        }
      } catch (err) {
        batchWhy = `PreparePorts failed its checks: ${err instanceof Error ? err.message : String(err)}`;
        for (let i = cases.length - 1; i >= 0; i--) if (cases[i]!.kind === 'batch') cases.splice(i, 1);
      }
    }
    if (batchWhy !== undefined) {
      for (const n of options.batchSizes) skippedCases.push(skippedRow('grpc', `PreparePorts x${n} dummy, per port`, batchWhy, n === 128 ? TARGETS.batch : undefined));
    }

    const active = options.only === undefined ? cases : cases.filter((c) => options.only!.includes(c.id));
    const groups: Record<string, unknown> = {};
    for (const transport of options.transports) {
      for (const concurrency of options.concurrencies) {
        const inGroup = active.filter((c) => transport === 'unix' || !c.unixOnly);
        log(`grpc: ${transport}, concurrency ${concurrency}: ${inGroup.map((c) => c.id).join(', ')}`);
        const measured = await runGroup(inGroup, servers, transport, concurrency, options);
        groups[`${transport}/c${concurrency}`] = Object.fromEntries([...measured].map(([id, w]) => [id, w.map(roundStats)]));
        rows.push(...summarise(inGroup, measured, transport, concurrency));
      }
    }
    rows.push(...skippedCases);
    details['groups'] = groups;
    details['servers'] = await Promise.all(servers.map(async (s) => ({ name: s.name, pid: s.child.proc.pid, final: await s.child.call<ProcessReport>('report') })));
    details['vifplugStats'] = await vifplug.child.call('stats');
    return { rows, details };
  } finally {
    for (const s of servers) {
      for (const c of Object.values(s.clients)) c.close();
    }
    await Promise.all(servers.map((s) => s.child.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkBatch(codec: BatchCodec, server: Server, request: Buffer, n: number): Promise<void> {
  const ids = codec.ctxIds(await unary(server.clients.unix, codec.path, request, identity));
  if (ids.length !== n) throw new Error(`PreparePorts prepared ${ids.length} of ${n} ports`);
  await server.child.call('destroyCtxs', ids);
}

async function measure(c: CaseDef, transport: Transport, concurrency: number, ms: number, servers: readonly Server[]): Promise<WindowStats> {
  // Start every window from the same state: no garbage left by the previous one anywhere.
  gc();
  await Promise.all(servers.map((s) => s.child.call('gc')));
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
  };
}

async function runGroup(cases: readonly CaseDef[], servers: readonly Server[], transport: Transport, concurrency: number, options: GrpcOptions): Promise<Map<string, WindowStats[]>> {
  for (const c of cases) await measure(c, transport, concurrency, options.warmupMs, servers);
  const out = new Map<string, WindowStats[]>(cases.map((c) => [c.id, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const c of cases) out.get(c.id)!.push(await measure(c, transport, concurrency, options.windowMs, servers));
  }
  return out;
}

function roundStats(w: WindowStats): Record<string, unknown> {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, typeof v === 'number' && k !== 'serverFromUs' && k !== 'serverToUs' ? round(v, 3) : v]));
}

/** Per-call latency (us) of a window: a cycle's is a third of it, a batch's per port. */
function perUnit(c: CaseDef, w: WindowStats, q: 'p50Us' | 'p99Us'): number {
  return w[q] / (c.kind === 'batch' ? c.portsPerOp : c.callsPerOp);
}

function summarise(cases: readonly CaseDef[], measured: Map<string, WindowStats[]>, transport: Transport, concurrency: number): Row[] {
  const rows: Row[] = [];
  for (const c of cases) {
    const ws = measured.get(c.id)!;
    const base = measured.get(c.baseline);
    const errors = ws.reduce((n, w) => n + w.errors, 0);
    const common = { suite: 'grpc', case: c.label, transport, concurrency };
    if (errors > 0) {
      rows.push({ ...common, metric: '', unit: 'us', median: NaN, error: `${errors} failed calls: ${ws.find((w) => w.firstError)?.firstError}`, ...(c.target(concurrency) ? { target: c.target(concurrency)! } : {}) });
      continue;
    }
    const paired = (f: (w: WindowStats, b: WindowStats) => number): number | undefined =>
      base === undefined ? undefined : median(ws.map((w, r) => f(w, base[r]!)));
    const divisor = c.kind === 'batch' ? c.portsPerOp : c.callsPerOp;
    const serverCpuUs = median(ws.map((w) => w.serverCpuUsPerOp / divisor));
    const serverCpuRatio = paired((w, b) => w.serverCpuUsPerOp / divisor / b.serverCpuUsPerOp);
    const util = `server ${pct(median(ws.map((w) => w.serverUtil)))} / load ${pct(median(ws.map((w) => w.clientUtil)))} CPU`;
    const target = c.target(concurrency);
    let row: Row;
    if (concurrency === 1) {
      const ratio = paired((w, b) => perUnit(c, w, 'p50Us') / b.p50Us);
      row = {
        ...common,
        metric: c.kind === 'batch' ? 'latency p50 per port' : 'latency p50 per call',
        unit: c.kind === 'batch' ? 'us/port' : 'us',
        median: median(ws.map((w) => perUnit(c, w, 'p50Us'))),
        p99: median(ws.map((w) => perUnit(c, w, 'p99Us'))),
        ...(ratio === undefined ? {} : { ratio }),
        serverCpuUs,
        ...(serverCpuRatio === undefined ? {} : { serverCpuRatio }),
        ...(c.kind === 'cycle' ? { note: `cycle p50 ${median(ws.map((w) => w.p50Us)).toFixed(1)} µs` } : c.kind === 'batch' ? { note: `call p50 ${median(ws.map((w) => w.p50Us)).toFixed(1)} µs` } : {}),
      };
    } else if (c.kind === 'batch') {
      // Cost per port: the time one port takes out of the pipeline, against one bare call.
      const ratio = paired((w, b) => b.opsPerSec / (w.opsPerSec * c.portsPerOp));
      row = {
        ...common,
        metric: 'time per port at saturation (1 / ports/s)',
        unit: 'us/port',
        median: median(ws.map((w) => 1e6 / (w.opsPerSec * c.portsPerOp))),
        p99: median(ws.map((w) => w.p99Us / c.portsPerOp)),
        p99Unit: 'us/port',
        ...(ratio === undefined ? {} : { ratio }),
        serverCpuUs,
        ...(serverCpuRatio === undefined ? {} : { serverCpuRatio }),
        note: `${Math.round(median(ws.map((w) => w.opsPerSec * c.portsPerOp))).toLocaleString('en-US')} ports/s; ${util}`,
      };
    } else {
      const ratio = paired((w, b) => (w.opsPerSec * c.callsPerOp) / b.opsPerSec);
      row = {
        ...common,
        metric: 'throughput (calls/s); p99 = call latency under load',
        unit: 'calls/s',
        median: median(ws.map((w) => w.opsPerSec * c.callsPerOp)),
        p99: median(ws.map((w) => perUnit(c, w, 'p99Us'))),
        p99Unit: 'us',
        ...(ratio === undefined ? {} : { ratio }),
        serverCpuUs,
        ...(serverCpuRatio === undefined ? {} : { serverCpuRatio }),
        note: util,
      };
    }
    rows.push(judged(target === undefined ? row : { ...row, target }));
  }
  return rows;
}

const pct = (v: number): string => `${Math.round(v * 100)}%`;
