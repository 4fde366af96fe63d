/**
 * The cross-check of the bench's main figure, run by the gRPC suite after each
 * of its groups: an outside client (client.ts) measures a vifplugd process
 * (dist/cli/vifplugd.js, as an operator starts it) against a canned-bytes
 * zero-work server (canned-server.ts), in alternating blocks. Neither shares
 * code with the bench's load generator, servers or floor, so a figure the
 * bench's own harness bends (its floor, its GC handling, its order of cases)
 * shows as a disagreement between the two. This file is the bench's side:
 * it starts the processes and turns their blocks into a row.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { BENCH_JS, DAEMON_JS, REPO } from '../lib/paths';
import { median, quantileSorted, sorted } from '../lib/stats';
import type { Block, RunConfig, RunResult } from './client';

type Transport = 'unix' | 'tcp';

export interface OutsideSettings {
  readonly rounds: number;
  readonly blockMs: number;
  /** The client warms each server up as the bench does (GrpcOptions.warmupMs). */
  readonly warmupMs: number;
  readonly warmupCalls: number;
  readonly warmupMaxMs: number;
}

/** The outside client's figure for one (transport, concurrency) group. */
export interface OutsideFigure {
  readonly transport: Transport;
  readonly concurrency: number;
  /** Per round: daemon p50 / floor p50 at concurrency 1, daemon calls/s / floor calls/s above. */
  readonly ratios: number[];
  readonly ratio: number;
  /** Interquartile range of the per-round ratios: the figure's noise band. */
  readonly band: readonly [number, number];
  /** Medians over rounds: the daemon's and the floor's p50 (us) or calls/s, and the daemon's p99 (us). */
  readonly daemon: number;
  readonly floor: number;
  readonly daemonP99Us: number;
  readonly clientUtil: number;
  readonly blocks: readonly Block[];
}

const PROTO_DIR = join(REPO, 'proto');
const OUTSIDE_JS = join(BENCH_JS, 'outside');

/** The interquartile range of per-round ratios. */
export function band(ratios: readonly number[]): [number, number] {
  const s = sorted(ratios.filter((r) => Number.isFinite(r)));
  return [quantileSorted(s, 0.25), quantileSorted(s, 0.75)];
}

/**
 * How far two ratios of one case may lie apart and still agree: the bench's
 * run-to-run noise on this kind of machine (docs/performance.md, "Noise"),
 * ±0.05 at concurrency 1 and ±0.1 under load.
 */
export function noiseBand(concurrency: number): number {
  return concurrency === 1 ? 0.05 : 0.1;
}

/**
 * Whether two figures agree within the noise: their interquartile ranges
 * over rounds overlap, or their medians lie within the run-to-run noise
 * band. Six rounds of one run can give a range narrower than what moves
 * from run to run, and the two clients differ by a small constant (the
 * outside client's own per-call cost), so overlap alone would call two
 * runs of the same code apart.
 */
export function agree(a: { ratio: number; band: readonly [number, number] }, b: { ratio: number; band: readonly [number, number] }, noise: number): boolean {
  return (a.band[0] <= b.band[1] && b.band[0] <= a.band[1]) || Math.abs(a.ratio - b.ratio) <= noise;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Proc {
  readonly proc: ChildProcess;
  readonly stderr: () => string;
  /** The first line it prints on stdout. */
  readonly line: Promise<string>;
}

/** Starts `node args...`; its first line must come within `timeoutMs`, or it is killed. */
function node(args: readonly string[], timeoutMs: number): Proc {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let stdout = '';
  const line = new Promise<string>((resolve, reject) => {
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`${args[0]} did not answer within ${timeoutMs} ms: ${stderr.trim()}`));
        }, timeoutMs)
      : undefined;
    proc.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve(stdout.slice(0, nl));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited (${code ?? signal}) before answering: ${stderr.trim()}`));
    });
  });
  line.catch(() => undefined);
  return { proc, stderr: () => stderr, line };
}

/** Start-up of the daemon, the capture and the canned server. */
const START_MS = 30_000;

async function stop(p: Proc | undefined): Promise<void> {
  if (p === undefined || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.proc.once('exit', () => resolve()));
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** The daemon and the canned-bytes floor, started once and measured after each group. */
export class OutsideCheck {
  private daemon: Proc | undefined;
  private floor: Proc | undefined;
  private targets: Record<'daemon' | 'floor', Record<Transport, string>> | undefined;
  /** Why the check cannot run, when it cannot. */
  unavailable: string | undefined;

  constructor(
    private readonly dir: string,
    private readonly settings: OutsideSettings,
  ) {}

  async start(): Promise<void> {
    if (!existsSync(DAEMON_JS)) {
      this.unavailable = 'dist/cli/vifplugd.js is missing: run npm run build';
      return;
    }
    const daemonSock = join(this.dir, 'outside-vifplugd.sock');
    const port = await freePort();
    // The daemon prints nothing at --log-level warn: its line never comes, and nothing waits for it.
    this.daemon = node([DAEMON_JS, '--listen', `unix://${daemonSock}`, '--listen', `127.0.0.1:${port}`, '--providers', 'dummy', '--log-level', 'warn'], Infinity);
    const daemon = { unix: `unix://${daemonSock}`, tcp: `127.0.0.1:${port}` };
    // The floor answers what the daemon answers: its bytes, captured by the outside client.
    const captured = node([join(OUTSIDE_JS, 'client.js'), 'capture', PROTO_DIR, daemon.unix], START_MS);
    const { reply } = JSON.parse(await captured.line) as { reply: string };
    this.floor = node([join(OUTSIDE_JS, 'canned-server.js'), PROTO_DIR, reply, `unix://${join(this.dir, 'outside-floor.sock')}`, '127.0.0.1:0'], START_MS);
    const { listening } = JSON.parse(await this.floor.line) as { listening: [string, string] };
    this.targets = { daemon, floor: { unix: listening[0], tcp: listening[1] } };
  }

  async run(transport: Transport, concurrency: number): Promise<OutsideFigure> {
    const targets = this.targets;
    if (targets === undefined) throw new Error(`the outside check is not running: ${this.unavailable ?? 'not started'}`);
    const config: RunConfig = {
      protoDir: PROTO_DIR,
      daemon: targets.daemon[transport],
      floor: targets.floor[transport],
      concurrency,
      blockMs: this.settings.blockMs,
      warmupMs: this.settings.warmupMs,
      warmupCalls: this.settings.warmupCalls,
      warmupMaxMs: this.settings.warmupMaxMs,
      rounds: this.settings.rounds,
    };
    // Warm-ups, the blocks, and releasing ctxs between them, with room to spare on a loaded machine.
    const budget = 2 * this.settings.warmupMaxMs + 4 * this.settings.rounds * this.settings.blockMs + 60_000;
    const client = node([join(OUTSIDE_JS, 'client.js'), 'run', JSON.stringify(config)], budget);
    const result = JSON.parse(await client.line) as RunResult;
    if (result.firstError !== undefined) throw new Error(`outside client: ${result.firstError}`);
    const of = (server: Block['server']) => result.blocks.filter((b) => b.server === server);
    const daemon = of('daemon');
    const floor = of('floor');
    const figure = concurrency === 1 ? (b: Block) => b.p50Us : (b: Block) => b.callsPerSec;
    const ratios = daemon.map((d) => figure(d) / figure(floor.find((f) => f.round === d.round)!));
    return {
      transport,
      concurrency,
      ratios,
      ratio: median(ratios),
      band: band(ratios),
      daemon: median(daemon.map(figure)),
      floor: median(floor.map(figure)),
      daemonP99Us: median(daemon.map((b) => b.p99Us)),
      clientUtil: median(result.blocks.map((b) => b.clientUtil)),
      blocks: result.blocks,
    };
  }

  async stop(): Promise<void> {
    await Promise.all([stop(this.daemon), stop(this.floor)]);
  }
}
