/**
 * Before a measurement window: wait until the bench's own processes are idle,
 * so that a window is not billed for the work another one left behind (a major
 * GC finishing on V8's helper threads, a remote provider releasing ctxs, freed
 * heap pages going back to the kernel).
 *
 * This replaces forcing a full GC in every process before every window, which
 * made the floor read slow: a full GC in a process that is idle at that moment
 * finds its per-call objects dead, and V8 then deoptimizes the optimized code
 * that embedded them (`--trace-deopt`: "marking dependent code ... reason:
 * weak objects" for grpc-js's and node:http2's hot path). The next window ran
 * that path unoptimized while TurboFan recompiled it, which took longer than a
 * window on a loaded 2-core machine. The bare floors, idle through most
 * windows of a round, paid that every round; vifplugd, busy in almost every
 * window, much less. The product never forces a GC, so neither does this.
 */
import type { Child, ProcessReport } from './ipc';

export interface SettleOptions {
  /** Length of one idle check. */
  readonly sliceMs: number;
  /** Idle: CPU used by all processes together over a slice, as a fraction of one CPU, at most this. */
  readonly maxBusy: number;
  /** Give up waiting after this long (the window is measured anyway and says so). */
  readonly timeoutMs: number;
}

export const SETTLE: SettleOptions = { sliceMs: 100, maxBusy: 0.1, timeoutMs: 5000 };

export interface Settled {
  /** How long the wait took. */
  readonly waitedMs: number;
  /** False when the processes were still busy at the timeout. */
  readonly quiet: boolean;
  /** CPU use of the last slice, as a fraction of one CPU. */
  readonly busy: number;
}

/** CPU microseconds used so far by this process and every child. */
async function cpuMicros(children: readonly Child[]): Promise<number> {
  const reports = await Promise.all(children.map((c) => c.call<ProcessReport>('report')));
  const own = process.cpuUsage();
  return reports.reduce((sum, r) => sum + r.cpuMicros, own.user + own.system);
}

/** Waits until this process and `children` together use at most `maxBusy` of a CPU over one slice. */
export async function settle(children: readonly Child[], options: SettleOptions = SETTLE): Promise<Settled> {
  const t0 = performance.now();
  let before = await cpuMicros(children);
  let from = performance.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, options.sliceMs));
    const after = await cpuMicros(children);
    const now = performance.now();
    const busy = (after - before) / 1000 / (now - from);
    const waitedMs = now - t0;
    if (busy <= options.maxBusy) return { waitedMs, quiet: true, busy };
    if (waitedMs >= options.timeoutMs) return { waitedMs, quiet: false, busy };
    before = after;
    from = now;
  }
}
