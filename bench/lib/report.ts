/** Rows of the summary table, their formatting, and the JSON result file. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

import { REPO } from './paths';

export type Unit = 'us' | 'ms' | 'ns' | 'calls/s' | 'ports/s' | 'bytes' | 'us/port';

export interface Target {
  /** How the target reads in the table, e.g. "<= 1.15x". */
  readonly text: string;
  /** Which figure it checks. */
  readonly on: 'ratio' | 'median' | 'p99';
  readonly max?: number;
  readonly min?: number;
}

export interface Row {
  readonly suite: string;
  readonly case: string;
  readonly transport: string;
  readonly concurrency: number | null;
  /** What `median` measures, e.g. "latency p50 per call". */
  readonly metric: string;
  readonly unit: Unit;
  readonly median: number;
  readonly p99?: number;
  readonly p99Unit?: Unit;
  /** Against the baseline measured in the same run (median of per-round ratios). */
  readonly ratio?: number;
  /** Server CPU per call (us) and its ratio to the baseline's. */
  readonly serverCpuUs?: number;
  readonly serverCpuRatio?: number;
  readonly target?: Target;
  readonly pass?: boolean;
  readonly note?: string;
  /** Set instead of figures when the case could not run. */
  readonly skipped?: string;
  readonly error?: string;
}

/** Fills in pass/fail from the target. */
export function judged(row: Row): Row {
  if (row.target === undefined || row.skipped !== undefined || row.error !== undefined) return row;
  const t = row.target;
  const value = t.on === 'ratio' ? row.ratio : t.on === 'p99' ? row.p99 : row.median;
  if (value === undefined || !Number.isFinite(value)) return { ...row, pass: false };
  const pass = (t.max === undefined || value <= t.max) && (t.min === undefined || value >= t.min);
  return { ...row, pass };
}

export function skippedRow(suite: string, name: string, why: string, target?: Target): Row {
  return { suite, case: name, transport: '', concurrency: null, metric: '', unit: 'us', median: NaN, skipped: why, ...(target ? { target } : {}) };
}

function fmt(value: number | undefined, unit: Unit | undefined): string {
  if (value === undefined || unit === undefined || !Number.isFinite(value)) return '';
  switch (unit) {
    case 'us':
    case 'us/port':
      return value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(value < 10 ? 2 : 1)} µs${unit === 'us/port' ? '/port' : ''}`;
    case 'ns':
      return value >= 10_000 ? `${(value / 1000).toFixed(1)} µs` : `${Math.round(value)} ns`;
    case 'ms':
      return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
    case 'calls/s':
    case 'ports/s':
      return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
    case 'bytes':
      return value >= 10 * 1024 * 1024 ? `${(value / 1024 / 1024).toFixed(1)} MiB` : value >= 10 * 1024 ? `${(value / 1024).toFixed(1)} KiB` : `${Math.round(value)} B`;
  }
}

const ratio = (r: number | undefined): string => (r === undefined || !Number.isFinite(r) ? '' : `${r.toFixed(r < 0.1 ? 3 : 2)}x`);

export function formatTable(rows: readonly Row[]): string {
  const header = ['case', 'transport', 'conc', 'median', 'p99', 'ratio', 'server CPU/call', 'target', 'result'];
  const body = rows.map((r) => {
    if (r.skipped !== undefined) return [r.case, r.transport, '', '', '', '', '', r.target?.text ?? '', `skipped: ${r.skipped}`];
    if (r.error !== undefined) return [r.case, r.transport, r.concurrency?.toString() ?? '', '', '', '', '', r.target?.text ?? '', `ERROR: ${r.error}`];
    const cpu = r.serverCpuUs === undefined ? '' : `${fmt(r.serverCpuUs, 'us')}${r.serverCpuRatio === undefined ? '' : ` (${ratio(r.serverCpuRatio)})`}`;
    const result = r.pass === undefined ? (r.note ?? '') : `${r.pass ? 'pass' : 'FAIL'}${r.note ? `  ${r.note}` : ''}`;
    return [r.case, r.transport, r.concurrency?.toString() ?? '', fmt(r.median, r.unit), fmt(r.p99, r.p99Unit ?? r.unit), ratio(r.ratio), cpu, r.target?.text ?? '', result];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (i === header.length - 1 ? 0 : b[i]!.length))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : i >= 3 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export interface Machine {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly totalMemoryBytes: number;
  readonly kernel: string;
  readonly platform: string;
  readonly arch: string;
  readonly hostname: string;
  readonly loadavg: readonly number[];
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    totalMemoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()} ${os.version()}`,
    platform: os.platform(),
    arch: os.arch(),
    hostname: os.hostname(),
    loadavg: os.loadavg(),
  };
}

/** HEAD, and the working-tree changes measured along with it (others edit the tree while benches run). */
export function gitCommit(): { commit: string; dirty: boolean | null; changes: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const changes = status.split('\n').filter((l) => l.trim() !== '');
    return { commit, dirty: changes.length > 0, changes };
  } catch {
    return { commit: 'unknown', dirty: null, changes: [] };
  }
}

export function writeJson(dir: string, name: string, value: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  return path;
}
