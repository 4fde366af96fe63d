/** The in-process suites: the representor index, and memory per live ctx. Each runs in a child with --expose-gc. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { OpenRequest, OpenResponse, PreparePortResponse, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';

import type { IndexRunArg, SizeResult } from '../children/index-child';
import type { CtxMemoryResult } from '../children/ctx-memory';
import { forkChild, type ProcessReport } from '../lib/ipc';
import { connect, unary } from '../lib/load';
import { dummyOptions, encodePrepare } from '../lib/requests';
import type { Started } from '../servers/vifplug-server';
import { startServer } from './grpc';
import { BENCH_JS } from '../lib/paths';
import { judged, type Row } from '../lib/report';
import type { BenchHost } from '../lib/hosts';

export const INDEX_TARGETS = {
  lookup: { text: 'p99 < 5 µs', on: 'p99', max: 5000 },
  build: { text: '< 500 ms', on: 'median', max: 500 },
  ctx: { text: '< 1 KB', on: 'median', max: 1024 },
} as const;

const k = (n: number): string => `${n / 1024}k`;

export async function runIndex(hosts: readonly BenchHost[], arg: Omit<IndexRunArg, 'hosts'>): Promise<{ rows: Row[]; details: unknown }> {
  const child = forkChild('index bench', join(BENCH_JS, 'children', 'index-child.js'), { execArgv: ['--expose-gc'] });
  try {
    const out = await child.call<{ sizes: SizeResult[] }>('run', { ...arg, hosts });
    return { rows: out.sizes.flatMap(indexRows), details: out };
  } finally {
    await child.stop();
  }
}

function indexRows(s: SizeResult): Row[] {
  const big = s.representors >= 16384;
  const common = { suite: 'index', transport: 'in-proc', concurrency: null };
  const rows: Row[] = [
    judged({
      ...common,
      case: `index build ${k(s.representors)} (devlink JSON → index)`,
      metric: 'build time, median of builds; p99 = slowest',
      unit: 'ms',
      median: s.buildMs.total,
      p99: Math.max(...s.buildMs.all),
      note: `parse ${s.buildMs.parse.toFixed(1)} + inventory ${s.buildMs.inventory.toFixed(1)} + index ${s.buildMs.index.toFixed(1)} ms; cold ${s.buildMs.cold.toFixed(0)} ms`,
      ...(big ? { target: INDEX_TARGETS.build } : {}),
    }),
    {
      ...common,
      case: `index memory ${k(s.representors)}`,
      metric: 'heapUsed retained by a built index',
      unit: 'bytes',
      median: s.retainedBytes,
      note: `${Math.round(s.retainedBytes / s.representors)} B per representor`,
    },
    judged({
      ...common,
      case: `in-process lookup ${k(s.representors)} (parse options + lookup)`,
      metric: 'per lookup, batches of 16',
      unit: 'ns',
      median: s.lookupNs.p50,
      p99: s.lookupNs.p99,
      note: `index lookup alone p50 ${Math.round(s.lookupOnlyNs.p50)} / p99 ${Math.round(s.lookupOnlyNs.p99)} ns`,
      ...(big ? { target: INDEX_TARGETS.lookup } : {}),
    }),
    {
      ...common,
      case: `naive lookup ${k(s.representors)} (sysfs scan per lookup)`,
      metric: 'per lookup',
      unit: 'ms',
      median: s.naiveMs.p50,
      p99: s.naiveMs.p99,
      note: `${Math.round((s.naiveMs.p50 * 1e6) / s.lookupNs.p50).toLocaleString('en-US')}x the indexed lookup; ${s.naiveMs.samples} lookups`,
    },
  ];
  if (s.refreshMs !== undefined) {
    rows.push({ ...common, case: `index refresh ${k(s.representors)} through sysfs`, metric: 'collectSnapshot + build', unit: 'ms', median: s.refreshMs.p50, p99: s.refreshMs.p99, note: 'devlink JSON from a file, not exec' });
  }
  return rows;
}

/**
 * Memory per live ctx, two ways: in-process through the PreparePort handler
 * (children/ctx-memory.ts) at the full count (the checked figure: fast), and
 * through a vifplug server process loaded over its unix socket, which reports
 * its own heapUsed after GC, at a smaller count: a cross-check that the server
 * keeps nothing per ctx beyond what the handler path does (a retained call
 * object would show here).
 */
export async function runCtxMemory(inProcessCount: number, serverCount: number): Promise<{ rows: Row[]; details: unknown }> {
  const child = forkChild('ctx memory', join(BENCH_JS, 'children', 'ctx-memory.js'), { execArgv: ['--expose-gc'] });
  let r: CtxMemoryResult;
  try {
    r = await child.call<CtxMemoryResult>('run', { count: inProcessCount });
  } finally {
    await child.stop();
  }
  const served = await ctxMemoryThroughServer(serverCount);
  const common = { suite: 'memory', concurrency: null, metric: 'heapUsed delta after GC / live ctxs', unit: 'bytes' as const };
  return {
    rows: [
      judged({
        ...common,
        case: `memory per live ctx at ${inProcessCount.toLocaleString('en-US')} ctxs (PreparePort handler, in-process)`,
        transport: 'in-proc',
        median: r.bytesPerCtx,
        target: INDEX_TARGETS.ctx,
        note: `heap +${((r.heapUsedAfter - r.heapUsedBefore) / 1024 / 1024).toFixed(1)} MiB, rss +${(r.rssDelta / 1024 / 1024).toFixed(1)} MiB`,
      }),
      {
        ...common,
        case: `memory per live ctx at ${serverCount.toLocaleString('en-US')} ctxs (server process)`,
        transport: 'unix',
        median: served.bytesPerCtx,
        note: `cross-check of everything the server keeps per ctx; heap +${(served.heapDelta / 1024 / 1024).toFixed(1)} MiB`,
      },
    ],
    details: { inProcess: r, server: served },
  };
}

async function ctxMemoryThroughServer(count: number): Promise<{ count: number; bytesPerCtx: number; heapDelta: number; rssDelta: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vifplug-bench-mem-'));
  const { child, started } = await startServer<Started>('vifplug server (memory)', 'vifplug-server.js', { unixPath: join(dir, 'vifplug.sock') }, []);
  const client = await connect(started.unix);
  try {
    const open = VifPlugService.open;
    const { instanceId } = await unary(client, open.path, open.requestSerialize(OpenRequest.fromPartial({ type: 'dummy' })), OpenResponse.decode);
    const settle = async (): Promise<ProcessReport> => {
      await child.call('gc');
      return child.call<ProcessReport>('gc');
    };
    // Warm up (compiled code is not ctx memory), release, then measure.
    const warm: string[] = [];
    for (let i = 0; i < 2000; i++) warm.push((await unary(client, VifPlugService.preparePort.path, encodePrepare(instanceId, randomUUID(), dummyOptions()), PreparePortResponse.decode)).ctxId);
    await child.call('destroyCtxs', warm);
    const before = await settle();
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        const res = await unary(client, VifPlugService.preparePort.path, encodePrepare(instanceId, randomUUID(), dummyOptions()), PreparePortResponse.decode);
        if (!res.plug) throw new Error('dummy declined');
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const after = await settle();
    const stats = await child.call<{ ctxs: number }>('stats');
    if (stats.ctxs !== count) throw new Error(`expected ${count} live ctxs, the server has ${stats.ctxs}`);
    return { count, bytesPerCtx: (after.heapUsed - before.heapUsed) / count, heapDelta: after.heapUsed - before.heapUsed, rssDelta: after.rss - before.rss, seconds };
  } finally {
    client.close();
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
