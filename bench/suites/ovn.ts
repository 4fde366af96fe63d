/**
 * N lports created at once (one Northbound transaction) until every one is
 * `up` in the Southbound DB, on a real user-space OVN chassis:
 *   - baseline: stock ovn-controller plugging them itself with its built-in
 *     dummy provider (--enable-dummy-vif-plug);
 *   - vifplug-ovn: a stock ovn-controller without it, the agent plugging the
 *     same ports through vifplugd's dummy provider.
 * Each round builds a fresh sandbox of the same kind for each case, the
 * cases alternating; the ratio is the median of per-round ratios. The
 * agent's CPU time (user+system, from /proc) and peak RSS are reported too.
 * `up` is followed with a conditional monitor on the Southbound DB (no
 * polling of the CLI): the clock stops at the update that makes the N-th up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { OvsdbClient } from '../../src/ovsdb';
import { OvnSandbox, sandboxUnavailable } from '../../test/helpers/ovn-sandbox';
import { REPO } from '../lib/paths';
import { judged, skippedRow, type Row } from '../lib/report';
import { max, median } from '../lib/stats';

export const OVN_TARGET = { text: '<= 1.5x', on: 'ratio', max: 1.5 } as const;

const DAEMON = join(REPO, 'dist', 'cli', 'vifplugd.js');
const AGENT = join(REPO, 'dist', 'cli', 'vifplug-ovn.js');

interface Sample {
  readonly ms: number;
  /** The agent's CPU seconds and peak RSS over the case (agent case only). */
  readonly cpuS?: number;
  readonly rssMiB?: number;
}

export async function runOvn(settings: { lports: number; rounds: number }, log: (s: string) => void): Promise<{ rows: Row[]; details: unknown }> {
  const name = `${settings.lports} lports to up: vifplug-ovn + vifplugd dummy`;
  const why = sandboxUnavailable();
  if (why !== undefined) return { rows: [skippedRow('ovn', name, why, OVN_TARGET)], details: {} };
  const baseline: Sample[] = [];
  const agent: Sample[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    // Alternate which case goes first, so that neither always runs on a warmer machine.
    const order = round % 2 === 0 ? ['baseline', 'agent'] : ['agent', 'baseline'];
    for (const which of order) {
      const sample = which === 'baseline' ? await plugWithOvnController(settings.lports) : await plugWithAgent(settings.lports);
      (which === 'baseline' ? baseline : agent).push(sample);
      log(`ovn: round ${round + 1} ${which}: ${sample.ms.toFixed(0)} ms${sample.cpuS === undefined ? '' : `, agent CPU ${sample.cpuS.toFixed(2)} s, peak RSS ${sample.rssMiB!.toFixed(0)} MiB`}`);
    }
  }
  const ratio = median(agent.map((a, i) => a.ms / baseline[i]!.ms));
  const cpu = median(agent.map((a) => a.cpuS!));
  const rss = max(agent.map((a) => a.rssMiB!));
  return {
    rows: [
      {
        suite: 'ovn',
        case: `${settings.lports} lports to up: ovn-controller --enable-dummy-vif-plug`,
        transport: 'ovsdb',
        concurrency: null,
        metric: 'NB transaction to all up',
        unit: 'ms',
        median: median(baseline.map((b) => b.ms)),
        p99: max(baseline.map((b) => b.ms)),
        ratio: 1,
        note: `max of ${baseline.length} shown as p99`,
      },
      judged({
        suite: 'ovn',
        case: name,
        transport: 'ovsdb',
        concurrency: null,
        metric: 'NB transaction to all up',
        unit: 'ms',
        median: median(agent.map((a) => a.ms)),
        p99: max(agent.map((a) => a.ms)),
        ratio,
        target: OVN_TARGET,
        note: `agent CPU ${cpu.toFixed(2)} s (median), peak RSS ${rss.toFixed(0)} MiB; max of ${agent.length} as p99`,
      }),
    ],
    details: { lports: settings.lports, baseline, agent },
  };
}

async function plugWithOvnController(n: number): Promise<Sample> {
  const sandbox = await OvnSandbox.start({ chassis: 'hv1', controllerArgs: ['--enable-dummy-vif-plug'] });
  try {
    return { ms: await createAndWaitUp(sandbox, n, 'dummy') };
  } finally {
    await sandbox.stop();
  }
}

async function plugWithAgent(n: number): Promise<Sample> {
  const sandbox = await OvnSandbox.start({ chassis: 'hv1' });
  const procs: ChildProcess[] = [];
  try {
    const socket = join(sandbox.dir, 'vifplug.sock');
    procs.push(await started(spawn(process.execPath, [DAEMON, '--listen', `unix://${socket}`, '--providers', 'dummy'], { stdio: ['ignore', 'pipe', 'inherit'] }), 'vifplugd serving'));
    const agent = await started(
      spawn(process.execPath, [AGENT, '--types', 'dummy', '--socket', socket, '--ovs-db', sandbox.ovsDb, '--status-socket', join(sandbox.dir, 'status.sock')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
      'vifplug-ovn starting',
    );
    procs.push(agent);
    // The agent has its replicas before the clock starts, as ovn-controller has.
    await waitForLog(agent, 'ovsdb: replica loaded', 2);
    const cpu0 = cpuSeconds(agent.pid!);
    const ms = await createAndWaitUp(sandbox, n, 'dummy');
    return { ms, cpuS: cpuSeconds(agent.pid!) - cpu0, rssMiB: peakRssMiB(agent.pid!) };
  } finally {
    for (const p of procs.reverse()) {
      p.kill('SIGTERM');
      await new Promise((resolve) => (p.exitCode !== null ? resolve(undefined) : p.once('exit', resolve)));
    }
    await sandbox.stop();
  }
}

/** One NB transaction of `n` lports requested here; resolves with the ms until the Southbound DB has all of them up. */
async function createAndWaitUp(sandbox: OvnSandbox, n: number, type: string): Promise<number> {
  const sb = new OvsdbClient({ database: 'OVN_Southbound', remotes: sandbox.sbDb, tables: { Port_Binding: { columns: ['logical_port', 'up'], where: [['up', '==', true]] } } });
  await sb.ready({ timeoutMs: 10_000 });
  try {
    await sandbox.nbctl('ls-add', 'sw0');
    const args: string[] = [];
    for (let i = 0; i < n; i++) args.push('--', 'lsp-add', 'sw0', `lp${i}`, '--', 'lsp-set-options', `lp${i}`, `requested-chassis=${sandbox.hostname}`, `vif-plug-type=${type}`);
    const allUp = sb.waitFor(() => sb.rows('Port_Binding').size >= n, { timeoutMs: 300_000 });
    const t0 = performance.now();
    await sandbox.run('ovn-nbctl', args.slice(1), 120_000);
    await allUp;
    return performance.now() - t0;
  } finally {
    await sb.close();
  }
}

function started(proc: ChildProcess, message: string): Promise<ChildProcess> {
  return waitForLog(proc, message, 1).then(() => proc);
}

const seen = new WeakMap<ChildProcess, string[]>();

/** Resolves once `proc` logged a JSON line with msg `message` `count` times. */
function waitForLog(proc: ChildProcess, message: string, count: number): Promise<void> {
  let lines = seen.get(proc);
  if (lines === undefined) {
    const all: string[] = [];
    lines = all;
    seen.set(proc, all);
    let partial = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        try {
          all.push(String((JSON.parse(line) as { msg?: unknown }).msg));
        } catch {
          all.push(line);
        }
      }
      proc.stdout!.emit('lines');
    });
  }
  const list = lines;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (list.filter((l) => l === message).length >= count) {
        proc.stdout!.off('lines', check);
        resolve();
      }
    };
    proc.stdout!.on('lines', check);
    proc.once('exit', (code) => reject(new Error(`exited (${code}) before logging "${message}"`)));
    check();
  });
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // utime and stime, fields 14 and 15 of stat (11 and 12 after the command).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) / 1024;
}
