/**
 * Peak RSS of the daemon over back-to-back refreshes, at 1k, 4k and 16k
 * representors, and while oversized devlink output is being refused. The
 * daemon runs as an operator runs it (`node dist/cli/vifplugd.js` with
 * --sysfs-root, --devlink-bin and --ip-bin on a fake host, monitors on); Run
 * calls over gRPC make it re-read the hardware, one after another. RSS comes
 * from /proc/<pid>/status: VmHWM (the kernel's high-water mark, so no sample
 * can miss the peak) and VmRSS sampled every few milliseconds.
 *
 * Only the daemon's own process is measured: the stand-in `devlink` is a node
 * script (~45 MB) where the real one is a small C program, so its RSS says
 * nothing about production.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { VifplugClient } from '../../src/client/client';
import type { BenchHost } from '../lib/hosts';
import { DAEMON_JS } from '../lib/paths';
import { judged, skippedRow, type Row, type Target } from '../lib/report';
import { max, median } from '../lib/stats';

/** The DaemonSet's memory limit (deploy/kubernetes/daemonset.yaml). */
export const CONTAINER_LIMIT_BYTES = 256 * 1024 * 1024;
/**
 * The daemon's peak must leave room in that limit for what else the container
 * holds: the exec health probes (a node process each, ~45 MB; two may overlap)
 * and devlink/ip children (a few MB). 128 MiB is half the limit.
 */
export const PEAK_TARGET: Target = { text: '<= 128 MiB', on: 'median', max: 128 * 1024 * 1024 };

export interface RefreshMemorySettings {
  /** Back-to-back refreshes per host. */
  readonly refreshes: number;
  /** Repetitions (each a fresh daemon); figures are medians over them. */
  readonly runs: number;
}

interface RunResult {
  readonly idleRss: number;
  readonly peakRss: number;
  readonly refreshMs: number[];
}

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function oneRun(host: BenchHost, refreshes: number, behaviour: 'ok' | 'huge'): Promise<RunResult> {
  const sock = join(host.dir, `bench-${process.pid}.sock`);
  writeFileSync(join(host.dir, 'devlink-port-show.behaviour'), 'ok');
  const proc = spawn(
    process.execPath,
    [DAEMON_JS, '--listen', `unix://${sock}`, '--providers', 'representor', '--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin, '--resync-interval', '0', '--log-level', 'warn', '--provider-timeout', '60'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const client = new VifplugClient(`unix://${sock}`, { maxAttempts: 1, deadlineMs: 60_000 });
  try {
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`vifplugd exited before serving: ${stderr.trim()}`);
      if (existsSync(sock) && (await client.health().catch(() => undefined)) !== undefined) break;
      if (i > 2000) throw new Error('vifplugd not serving after 20 s');
      await sleep(10);
    }
    const { instanceId } = await client.open('representor');
    await sleep(200);
    const idleRss = status(proc.pid!).rss;
    writeFileSync(join(host.dir, 'devlink-port-show.behaviour'), behaviour);
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, status(proc.pid!).rss);
    }, 5);
    const refreshMs: number[] = [];
    try {
      for (let i = 0; i < refreshes; i++) {
        const t0 = performance.now();
        await client.run(instanceId);
        refreshMs.push(performance.now() - t0);
      }
    } finally {
      clearInterval(sampler);
    }
    // The kernel's own high-water mark covers the instants between samples.
    return { idleRss, peakRss: Math.max(peakRss, status(proc.pid!).hwm), refreshMs };
  } finally {
    client.close();
    proc.kill('SIGTERM');
    await exited;
    writeFileSync(join(host.dir, 'devlink-port-show.behaviour'), 'ok');
  }
}

const MiB = 1024 * 1024;

export async function runRefreshMemory(hosts: readonly BenchHost[], settings: RefreshMemorySettings, log: (s: string) => void): Promise<{ rows: Row[]; details: unknown }> {
  if (!existsSync(DAEMON_JS)) return { rows: [skippedRow('refresh-memory', 'daemon RSS', 'dist/cli/vifplugd.js is missing: run npm run build', PEAK_TARGET)], details: {} };
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const cases: { host: BenchHost; behaviour: 'ok' | 'huge' }[] = hosts.map((host) => ({ host, behaviour: 'ok' as const }));
  const largest = hosts[hosts.length - 1];
  if (largest !== undefined) cases.push({ host: largest, behaviour: 'huge' });
  for (const { host, behaviour } of cases) {
    const results: RunResult[] = [];
    for (let r = 0; r < settings.runs; r++) results.push(await oneRun(host, settings.refreshes, behaviour));
    const name =
      behaviour === 'ok'
        ? `daemon RSS, ${host.representors} representors, ${settings.refreshes} back-to-back refreshes`
        : `daemon RSS, ${host.representors} representors, ${settings.refreshes} refreshes refusing 64 MiB of devlink output`;
    const peak = median(results.map((x) => x.peakRss));
    const idle = median(results.map((x) => x.idleRss));
    const refresh = median(results.flatMap((x) => x.refreshMs));
    log(`${name}: idle ${(idle / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB, refresh ${refresh.toFixed(0)} ms`);
    rows.push(
      judged({
        suite: 'refresh-memory',
        case: name,
        transport: '',
        concurrency: null,
        metric: 'peak RSS (VmHWM)',
        unit: 'bytes',
        median: peak,
        target: PEAK_TARGET,
        note: `idle ${(idle / MiB).toFixed(1)} MiB; max of ${settings.runs} runs ${(max(results.map((x) => x.peakRss)) / MiB).toFixed(1)} MiB; Run (refresh) median ${refresh.toFixed(0)} ms; margin to the ${CONTAINER_LIMIT_BYTES / MiB} MiB limit ${((CONTAINER_LIMIT_BYTES - peak) / MiB).toFixed(0)} MiB`,
      }),
    );
    details[`${host.representors}-${behaviour}`] = results;
  }
  return { rows, details };
}
