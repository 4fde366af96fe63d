/**
 * Time from process start to health SERVING: spawn the daemon as an operator
 * would (`node dist/cli/vifplugd.js --listen unix:///... --providers dummy`)
 * and poll grpc.health.v1.Health/Check until it answers SERVING. Alternates
 * with the floor: a bare grpc-js server process that serves only Health/Check.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Client, credentials } from '@grpc/grpc-js';

import { HealthCheckResponse, HealthCheckResponse_ServingStatus, HealthService } from '../../src/gen/grpc/health/v1/health';
import { unary } from '../lib/load';
import { BENCH_JS, DAEMON_JS } from '../lib/paths';
import { judged, skippedRow, type Row } from '../lib/report';
import { max, median } from '../lib/stats';

const POLL_MS = 2;

export const STARTUP_TARGET = { text: '< 500 ms', on: 'median', max: 500 } as const;

async function timeToServing(args: readonly string[], socketPath: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let client: Client | undefined;
  try {
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`exited (${proc.exitCode ?? proc.signalCode}) before SERVING: ${stderr.trim()}`);
      if (Number(process.hrtime.bigint() - t0) > 20e9) throw new Error('not SERVING after 20 s');
      if (client === undefined && existsSync(socketPath)) {
        client = new Client(`unix://${socketPath}`, credentials.createInsecure(), {
          'grpc.initial_reconnect_backoff_ms': POLL_MS,
          'grpc.max_reconnect_backoff_ms': 10,
        });
      }
      if (client !== undefined) {
        try {
          const res = await unary(client, HealthService.check.path, Buffer.alloc(0), HealthCheckResponse.decode);
          if (res.status === HealthCheckResponse_ServingStatus.SERVING) return Number(process.hrtime.bigint() - t0) / 1e6;
        } catch {
          // Not listening yet.
        }
      }
      await sleep(POLL_MS);
    }
  } finally {
    client?.close();
    proc.kill('SIGTERM');
    await exited;
  }
}

export async function runStartup(starts: number, log: (s: string) => void): Promise<{ rows: Row[]; details: unknown }> {
  const name = 'start-up to SERVING: vifplugd --providers dummy';
  if (!existsSync(DAEMON_JS)) return { rows: [skippedRow('startup', name, 'dist/cli/vifplugd.js is missing: run npm run build', STARTUP_TARGET)], details: {} };
  const dir = mkdtempSync(join(tmpdir(), 'vifplug-bench-start-'));
  const daemon: number[] = [];
  const floor: number[] = [];
  try {
    // One untimed start of each, so that both read their files from the page cache.
    const cases = [
      { times: daemon, args: (sock: string) => [DAEMON_JS, '--listen', `unix://${sock}`, '--providers', 'dummy'] },
      { times: floor, args: (sock: string) => [join(BENCH_JS, 'servers', 'bare-server.js'), '--standalone', `unix://${sock}`] },
    ];
    for (let i = -1; i < starts; i++) {
      for (const [k, c] of cases.entries()) {
        const sock = join(dir, `s${i + 1}-${k}.sock`);
        const ms = await timeToServing(c.args(sock), sock);
        if (i >= 0) c.times.push(ms);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log(`startup: vifplugd ${daemon.map((t) => t.toFixed(0)).join(', ')} ms; floor ${floor.map((t) => t.toFixed(0)).join(', ')} ms`);
  const ratio = median(daemon.map((t, i) => t / floor[i]!));
  return {
    rows: [
      { suite: 'startup', case: 'start-up floor: bare grpc-js process', transport: 'unix', concurrency: null, metric: 'process start to SERVING', unit: 'ms', median: median(floor), p99: max(floor), ratio: 1, note: `max of ${floor.length} shown as p99` },
      judged({ suite: 'startup', case: name, transport: 'unix', concurrency: null, metric: 'process start to SERVING', unit: 'ms', median: median(daemon), p99: max(daemon), ratio, target: STARTUP_TARGET, note: `max of ${daemon.length} as p99` }),
    ],
    details: { daemonMs: daemon, floorMs: floor, pollMs: POLL_MS },
  };
}
