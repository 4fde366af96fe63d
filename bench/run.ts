/**
 * npm run bench [-- --quick] [-- --only grpc,index,memory,startup] [-- --profile]
 *
 * Runs every case on this machine in one go, prints a table and writes
 * bench/results/latest.json. See bench/README.md.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { RESULTS } from './lib/paths';
import { formatTable, gitCommit, machine, writeJson, type Row } from './lib/report';
import { writeHost, type BenchHost } from './lib/hosts';
import { probeIndex, probeProvider } from './plugins/representor';
import { runProfile } from './profile';
import { runGrpc, type Transport } from './suites/grpc';
import { runCtxMemory, runIndex } from './suites/in-process';
import { runStartup } from './suites/startup';

const SUITES = ['index', 'memory', 'startup', 'grpc'] as const;
type Suite = (typeof SUITES)[number];

interface Args {
  readonly quick: boolean;
  readonly only: readonly Suite[];
  readonly profile: boolean;
  readonly rounds?: number;
  readonly windowMs?: number;
  readonly profileSeconds?: number;
  readonly profileConcurrency?: number;
}

function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let profile = false;
  let only: Suite[] = [...SUITES];
  const numbers: Record<string, number> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--profile') profile = true;
    else if (a === '--only') {
      only = (argv[++i] ?? '').split(',').map((s) => s.trim()) as Suite[];
      const bad = only.filter((s) => !SUITES.includes(s));
      if (bad.length > 0) throw new Error(`--only: unknown suite(s) ${bad.join(', ')}; suites: ${SUITES.join(', ')}`);
    } else if (['--rounds', '--window-ms', '--profile-seconds', '--profile-concurrency'].includes(a)) {
      const v = Number(argv[++i]);
      if (!(v > 0)) throw new Error(`${a} needs a positive number`);
      numbers[a] = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'npm run bench -- [--quick] [--only index,memory,startup,grpc] [--rounds N] [--window-ms MS]\n' +
          'npm run bench -- --profile [--quick] [--profile-seconds S] [--profile-concurrency C]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return {
    quick,
    only,
    profile,
    ...(numbers['--rounds'] ? { rounds: numbers['--rounds'] } : {}),
    ...(numbers['--window-ms'] ? { windowMs: numbers['--window-ms'] } : {}),
    ...(numbers['--profile-seconds'] ? { profileSeconds: numbers['--profile-seconds'] } : {}),
    ...(numbers['--profile-concurrency'] ? { profileConcurrency: numbers['--profile-concurrency'] } : {}),
  };
}

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

/** tmpfs when there is one: sysfs lives in memory, the fake one should too. */
function scratchDir(): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = join(base, `vifplug-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if ((globalThis as { gc?: unknown }).gc === undefined) log('warning: run with node --expose-gc so that windows start without garbage');
  const quick = args.quick;
  const settings = {
    quick,
    grpc: {
      rounds: args.rounds ?? (quick ? 3 : 6),
      windowMs: args.windowMs ?? (quick ? 200 : 500),
      warmupMs: quick ? 250 : 600,
      transports: ['unix', 'tcp'] as Transport[],
      concurrencies: [1, 64],
      batchSizes: [1, 16, 128],
    },
    index: {
      sizes: [1024, 4096, 16384],
      vfsPerPf: 256,
      builds: quick ? 3 : 7,
      lookupBatches: quick ? 4000 : 20000,
      naiveLookups: quick ? { 1024: 10, 4096: 5, 16384: 3 } : { 1024: 40, 4096: 20, 16384: 10 },
      refreshes: quick ? 1 : 3,
    },
    ctxMemory: { inProcess: 100_000, server: quick ? 5_000 : 20_000 },
    startup: { starts: quick ? 3 : 7 },
  };

  const scratch = scratchDir();
  const cleanups: (() => void)[] = [];
  const started = new Date();
  const loadAtStart = loadavg();
  try {
    // One synthetic host per size, shared by the index, the naive lookup and the representor provider.
    const needHosts = args.profile || args.only.includes('index') || args.only.includes('grpc');
    const hosts: BenchHost[] = [];
    let hostFallback: string | undefined;
    if (needHosts) {
      const t0 = performance.now();
      for (const n of settings.index.sizes) {
        const made = writeHost(join(scratch, `host-${n}`), n / settings.index.vfsPerPf, settings.index.vfsPerPf);
        hosts.push(made.host);
        cleanups.push(made.cleanup);
        hostFallback ??= made.fallback;
      }
      log(`fake hosts (${hosts[0]!.source}) written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      if (hostFallback !== undefined) log(`test helper not used: ${hostFallback}`);
    }
    const host16k = hosts.find((h) => h.representors === 16384);
    const provider = probeProvider();
    const representorHost: BenchHost | { why: string } = !provider.ok ? { why: provider.why } : host16k ?? { why: 'no host' };

    if (args.profile) {
      await runProfile({
        seconds: args.profileSeconds ?? (quick ? 2 : 5),
        concurrency: args.profileConcurrency ?? 1,
        representorHost,
        log,
      });
      return;
    }

    const rows: Row[] = [];
    const details: Record<string, unknown> = {};
    const timings: Record<string, number> = {};
    const timed = async <T>(name: Suite, fn: () => Promise<{ rows: Row[]; details: T }>): Promise<void> => {
      if (!args.only.includes(name)) return;
      const t0 = performance.now();
      log(`${name}: running`);
      const out = await fn();
      rows.push(...out.rows);
      details[name] = out.details;
      timings[name] = Math.round(performance.now() - t0) / 1000;
      log(`${name}: done in ${timings[name]} s`);
    };

    await timed('index', () => {
      const probe = probeIndex();
      return runIndex(probe.ok ? hosts : { why: probe.why }, settings.index);
    });
    await timed('memory', () => runCtxMemory(settings.ctxMemory.inProcess, settings.ctxMemory.server));
    await timed('startup', () => runStartup(settings.startup.starts, log));
    await timed('grpc', () => runGrpc({ ...settings.grpc, representorHost, log }));

    const order: Record<string, number> = { grpc: 0, index: 1, memory: 2, startup: 3 };
    rows.sort((a, b) => order[a.suite]! - order[b.suite]!);
    const info = machine();
    const git = gitCommit();
    const header =
      `vifplug bench${quick ? ' (quick)' : ''} — ${started.toISOString()}\n` +
      `machine: ${info.cpuModel} x${info.cpus}, ${(info.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, ${info.kernel.split(' ').slice(0, 2).join(' ')}; node ${process.version}; commit ${git.commit.slice(0, 12)}${git.dirty ? ` + ${git.changes.length} uncommitted changes (listed in the JSON)` : ''}\n` +
      `gRPC: ${settings.grpc.rounds} rounds x ${settings.grpc.windowMs} ms per case, alternating; medians over rounds; ratio = median of per-round ratios to the baseline of the same round\n` +
      `fake host: ${hosts[0]?.source ?? 'none'}${hostFallback ? ` (test helper not used: ${hostFallback})` : ''}\n`;
    const busy = Math.max(loadAtStart[0]!, info.loadavg[0]!) > cpus().length;
    const warning = busy
      ? `WARNING: load average ${loadAtStart[0]!.toFixed(1)} at start, ${info.loadavg[0]!.toFixed(1)} at end, on ${cpus().length} CPUs: other processes competed for the CPUs; absolute figures are inflated, ratios less so (alternated)\n`
      : '';
    process.stdout.write(`\n${header}${warning}\n${formatTable(rows)}\n`);
    const failed = rows.filter((r) => r.pass === false || r.error !== undefined);
    const skipped = rows.filter((r) => r.skipped !== undefined);
    process.stdout.write(
      `\n${rows.filter((r) => r.pass === true).length} targets pass, ${failed.length} fail or error, ${skipped.length} skipped\n`,
    );
    // A smoke check must not replace the figures of the last full run.
    const path = writeJson(RESULTS, quick ? 'latest-quick.json' : 'latest.json', {
      schema: 1,
      timestamp: started.toISOString(),
      durationSeconds: (Date.now() - started.getTime()) / 1000,
      git,
      node: { version: process.version, v8: process.versions.v8, grpcJs: require('@grpc/grpc-js/package.json').version as string },
      machine: { ...info, loadavgAtStart: loadAtStart },
      settings,
      fakeHost: { source: hosts[0]?.source ?? 'none', ...(hostFallback ? { testHelperNotUsed: hostFallback } : {}) },
      suiteSeconds: timings,
      rows,
      details,
    });
    process.stdout.write(`results: ${path}\n`);
  } finally {
    for (const cleanup of cleanups) cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
