/**
 * The memory of the vifplugd container over back-to-back refreshes, at 1k, 4k
 * and 16k representors, and while oversized devlink output is being refused,
 * judged against the DaemonSet's memory limit.
 *
 * The daemon runs as the DaemonSet runs it: `node dist/cli/vifplugd.js` with
 * the DaemonSet's NODE_OPTIONS (test/deploy/daemonset.ts), here with
 * --sysfs-root, --devlink-bin and --ip-bin on a fake host, monitors on; Run
 * calls over gRPC make it re-read the hardware, one after another. Its RSS
 * comes from /proc/<pid>/status: VmHWM (the kernel's high-water mark, so no
 * sample can miss the peak) and VmRSS sampled every few milliseconds.
 *
 * What the container holds besides the daemon:
 * - the exec health probes, a node process each (the kubelet may run the
 *   readiness and liveness probes at once): each is measured, and counted by
 *   its private memory (VmHWM less its file-backed RSS: the node binary's
 *   pages are shared with the daemon, and the container is charged for them
 *   once);
 * - devlink/ip and their watchers: real iproute2 is a small C program (the
 *   stand-in here is a node script, so its RSS says nothing about
 *   production); CHILDREN_BYTES allows for `devlink -j port show`, the two
 *   monitors and their /bin/sh watchers.
 *
 * VIFPLUG_BENCH_NODE=/path/to/node runs the daemon and the probes with
 * another node (the image ships Node 24).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { VifplugClient } from '../../src/client/client';
import { readDeployment, type Deployment } from '../../test/deploy/daemonset';
import type { BenchHost } from '../lib/hosts';
import { BENCH_JS, DAEMON_JS, REPO } from '../lib/paths';
import { MEMORY_MARK, REPORT_MEMORY_ENV } from '../lib/process-memory';
import { judged, skippedRow, type Row, type Target } from '../lib/report';
import { max, median } from '../lib/stats';

const MiB = 1024 * 1024;
/** The health probe the DaemonSet execs (startupProbe, readinessProbe, livenessProbe). */
const PROBE_JS = join(REPO, 'scripts', 'container', 'healthcheck.js');
/** Probes that may run at once: readiness and liveness. */
const CONCURRENT_PROBES = 2;
/** devlink -j port show, devlink monitor, ip monitor and three /bin/sh watchers (real iproute2: a few MiB each at most). */
export const CHILDREN_BYTES = 16 * MiB;
/** The margin the limit must keep above the container's peak. */
export const MARGIN = 0.25;

export interface RefreshMemorySettings {
  /** Back-to-back refreshes per host. */
  readonly refreshes: number;
  /** Repetitions (each a fresh daemon); figures are medians over them. */
  readonly runs: number;
}

interface RunResult {
  readonly idleRss: number;
  readonly peakRss: number;
  /** The probe's private memory: its VmHWM less its file-backed RSS. */
  readonly probePrivate: number;
  readonly refreshMs: number[];
}

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

function nodeBinary(): string {
  return process.env['VIFPLUG_BENCH_NODE'] || process.execPath;
}

/** One health probe as the kubelet runs it, with its memory reported by bench/lib/process-memory.ts. */
function probe(target: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(nodeBinary(), ['--require', join(BENCH_JS, 'lib', 'process-memory.js'), PROBE_JS, '--timeout', '4', target], { env: { ...env, [REPORT_MEMORY_ENV]: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('exit', (code) => {
      const line = stderr.split('\n').find((l) => l.startsWith(`${MEMORY_MARK} `));
      if (code !== 0 || line === undefined) return reject(new Error(`the health probe failed (exit ${code}): ${stderr.trim()}`));
      const { hwm, rssFile } = JSON.parse(line.slice(MEMORY_MARK.length + 1)) as { hwm: number; rssFile: number };
      resolve(hwm - rssFile);
    });
  });
}

async function oneRun(host: BenchHost, deployment: Deployment, refreshes: number, behaviour: 'ok' | 'huge'): Promise<RunResult> {
  const sock = join(host.dir, `bench-${process.pid}.sock`);
  writeFileSync(join(host.dir, 'devlink-port-show.behaviour'), 'ok');
  const env = { ...process.env, NODE_OPTIONS: deployment.nodeOptions };
  const proc = spawn(
    nodeBinary(),
    [DAEMON_JS, '--listen', `unix://${sock}`, '--providers', 'representor', '--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin, '--resync-interval', '0', '--log-level', 'warn', '--provider-timeout', '60'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const client = new VifplugClient(`unix://${sock}`, { maxAttempts: 1, deadlineMs: 60_000 });
  try {
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`vifplugd exited before serving: ${output.trim()}`);
      if (existsSync(sock) && (await client.health().catch(() => undefined)) !== undefined) break;
      if (i > 2000) throw new Error('vifplugd not serving after 20 s');
      await sleep(10);
    }
    // A devlink that cannot run would measure a sysfs-only host instead.
    if (output.includes('devlink unavailable')) throw new Error(`the devlink stand-in did not run: ${output.trim()}`);
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
    const probePrivate = await probe(`unix://${sock}`, env);
    // The kernel's own high-water mark covers the instants between samples.
    return { idleRss, peakRss: Math.max(peakRss, status(proc.pid!).hwm), probePrivate, refreshMs };
  } finally {
    client.close();
    proc.kill('SIGTERM');
    await exited;
    writeFileSync(join(host.dir, 'devlink-port-show.behaviour'), 'ok');
  }
}

/** The container's peak: the daemon's, the concurrent probes' private memory, and the children's allowance. */
function containerPeak(daemonPeak: number, probePrivate: number): number {
  return daemonPeak + CONCURRENT_PROBES * probePrivate + CHILDREN_BYTES;
}

export async function runRefreshMemory(hosts: readonly BenchHost[], settings: RefreshMemorySettings, log: (s: string) => void): Promise<{ rows: Row[]; details: unknown }> {
  const deployment = readDeployment(join(REPO, 'deploy', 'kubernetes', 'daemonset.yaml'));
  const limit = deployment.memoryLimitBytes;
  const target: Target = { text: `<= ${((1 - MARGIN) * limit) / MiB} MiB (${MARGIN * 100}% under the limit)`, on: 'median', max: (1 - MARGIN) * limit };
  if (!existsSync(DAEMON_JS)) return { rows: [skippedRow('refresh-memory', 'container memory', 'dist/cli/vifplugd.js is missing: run npm run build', target)], details: {} };
  const node = execFileSync(nodeBinary(), ['--version']).toString().trim();
  log(`refresh-memory: node ${node}, NODE_OPTIONS "${deployment.nodeOptions}", limit ${limit / MiB} MiB (deploy/kubernetes/daemonset.yaml)`);
  const rows: Row[] = [];
  const details: Record<string, unknown> = { node, nodeOptions: deployment.nodeOptions, limitBytes: limit, childrenBytes: CHILDREN_BYTES };
  const cases: { host: BenchHost; behaviour: 'ok' | 'huge' }[] = hosts.map((host) => ({ host, behaviour: 'ok' as const }));
  const largest = hosts[hosts.length - 1];
  if (largest !== undefined) cases.push({ host: largest, behaviour: 'huge' });
  for (const { host, behaviour } of cases) {
    const results: RunResult[] = [];
    for (let r = 0; r < settings.runs; r++) results.push(await oneRun(host, deployment, settings.refreshes, behaviour));
    const name =
      behaviour === 'ok'
        ? `container memory, ${host.representors} representors, ${settings.refreshes} back-to-back refreshes`
        : `container memory, ${host.representors} representors, devlink printing 64 MiB (refused at 16 MiB, then backoff)`;
    const peak = median(results.map((x) => x.peakRss));
    const idle = median(results.map((x) => x.idleRss));
    const probePrivate = median(results.map((x) => x.probePrivate));
    const container = containerPeak(peak, probePrivate);
    const refresh = median(results.flatMap((x) => x.refreshMs));
    const mib = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;
    log(`${name}: daemon idle ${mib(idle)}, peak ${mib(peak)}; probe ${mib(probePrivate)}; container ${mib(container)}; refresh ${refresh.toFixed(0)} ms`);
    rows.push(
      judged({
        suite: 'refresh-memory',
        case: name,
        transport: '',
        concurrency: null,
        metric: 'container peak: daemon VmHWM + 2 probes (private) + children',
        unit: 'bytes',
        median: container,
        target,
        note:
          `daemon peak ${mib(peak)} (idle ${mib(idle)}; max of ${settings.runs} runs ${mib(max(results.map((x) => x.peakRss)))}), ` +
          `probe ${mib(probePrivate)} x${CONCURRENT_PROBES}, children ${mib(CHILDREN_BYTES)}; Run (refresh) median ${refresh.toFixed(0)} ms; ` +
          `margin to the ${limit / MiB} MiB limit ${(((limit - container) / limit) * 100).toFixed(0)}%; node ${node}`,
      }),
    );
    details[`${host.representors}-${behaviour}`] = results;
  }
  return { rows, details };
}
