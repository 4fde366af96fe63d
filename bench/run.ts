/**
 * npm run bench [-- --quick] [-- --only grpc,index,memory,startup] [-- --profile]
 *
 * Runs every suite on this machine in one go, prints a table and writes
 * bench/results/latest.json. See bench/README.md; a new suite is one module in
 * suites/ and one entry in SUITES below.
 */
import { cpus, loadavg } from 'node:os';

import { RESULTS } from './lib/paths';
import { noiseBand } from './outside/check';
import { formatTable, gitCommit, machine, writeJson, type Row } from './lib/report';
import { writeHost, type BenchHost } from './lib/hosts';
import { runProfile } from './profile';
import { runGrpc } from './suites/grpc';
import { runCtxMemory, runIndex } from './suites/in-process';
import { runOvn } from './suites/ovn';
import { runOvsdb } from './suites/ovsdb';
import { runRefreshMemory } from './suites/refresh-memory';
import { runStartup } from './suites/startup';

type Settings = ReturnType<typeof settingsFor>;

interface SuiteContext {
  readonly settings: Settings;
  /** The fake hosts, smallest first (written only when a suite that needs them runs). */
  readonly hosts: readonly BenchHost[];
  readonly log: (line: string) => void;
}

interface Suite {
  readonly name: string;
  /** Whether it runs against the fake hosts. */
  readonly needsHosts: boolean;
  run(ctx: SuiteContext): Promise<{ rows: Row[]; details: unknown }>;
}

/** Every suite, in the order they run; the table lists grpc first. */
const SUITES: readonly Suite[] = [
  { name: 'index', needsHosts: true, run: ({ hosts, settings }) => runIndex(hosts, settings.index) },
  { name: 'memory', needsHosts: false, run: ({ settings }) => runCtxMemory(settings.ctxMemory.inProcess, settings.ctxMemory.server) },
  { name: 'startup', needsHosts: false, run: ({ settings, log }) => runStartup(settings.startup.starts, log) },
  { name: 'grpc', needsHosts: true, run: ({ hosts, settings, log }) => runGrpc({ ...settings.grpc, representorHost: largest(hosts), log }) },
  { name: 'ovn', needsHosts: false, run: ({ settings, log }) => runOvn(settings.ovn, log) },
  { name: 'ovsdb', needsHosts: false, run: ({ settings, log }) => runOvsdb(settings.ovsdb, log) },
  { name: 'refresh-memory', needsHosts: true, run: ({ hosts, settings, log }) => runRefreshMemory(hosts, settings.refreshMemory, log) },
];
const ROW_ORDER = ['grpc', 'index', 'memory', 'refresh-memory', 'startup', 'ovn', 'ovsdb'];

interface Args {
  readonly quick: boolean;
  readonly only: readonly string[];
  readonly profile: boolean;
  readonly rounds?: number;
  readonly windowMs?: number;
  readonly profileSeconds?: number;
  readonly profileConcurrency?: number;
}

const NUMBER_FLAGS = { '--rounds': 'rounds', '--window-ms': 'windowMs', '--profile-seconds': 'profileSeconds', '--profile-concurrency': 'profileConcurrency' } as const;

function parseArgs(argv: readonly string[]): Args {
  const names = SUITES.map((s) => s.name);
  const args: { -readonly [K in keyof Args]: Args[K] } = { quick: false, only: names, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') args.quick = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--only') {
      args.only = (argv[++i] ?? '').split(',').map((s) => s.trim());
      const bad = args.only.filter((s) => !names.includes(s));
      if (bad.length > 0) throw new Error(`--only: unknown suite(s) ${bad.join(', ')}; suites: ${names.join(', ')}`);
    } else if (a in NUMBER_FLAGS) {
      const v = Number(argv[++i]);
      if (!(v > 0)) throw new Error(`${a} needs a positive number`);
      args[NUMBER_FLAGS[a as keyof typeof NUMBER_FLAGS]] = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        `npm run bench -- [--quick] [--only ${names.join(',')}] [--rounds N] [--window-ms MS]\n` +
          'npm run bench -- --profile [--quick] [--profile-seconds S] [--profile-concurrency C]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return args;
}

function settingsFor(args: Args) {
  const quick = args.quick;
  return {
    quick,
    grpc: {
      rounds: args.rounds ?? (quick ? 3 : 6),
      windowMs: args.windowMs ?? (quick ? 200 : 500),
      warmupMs: quick ? 250 : 600,
      warmupCalls: 5000,
      warmupMaxMs: quick ? 5000 : 15_000,
      transports: ['unix', 'tcp'] as const,
      concurrencies: [1, 64],
      batchSizes: [1, 16, 128],
      outside: { rounds: args.rounds ?? (quick ? 3 : 6), blockMs: args.windowMs ?? (quick ? 200 : 500) },
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
    ovn: { lports: quick ? 200 : 1000, rounds: quick ? 1 : 3 },
    ovsdb: { rounds: args.rounds ?? (quick ? 3 : 7), portBindings: 2000, ports: 500 },
    refreshMemory: { refreshes: quick ? 5 : 20, runs: quick ? 1 : 3 },
  };
}

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

function largest(hosts: readonly BenchHost[]): BenchHost | undefined {
  return hosts[hosts.length - 1];
}

/** One fake host per size, shared by the index suite, the naive lookup and the representor provider. */
function writeHosts(settings: Settings, cleanups: (() => void)[]): BenchHost[] {
  const t0 = performance.now();
  const hosts = settings.index.sizes.map((n) => {
    const made = writeHost(n / settings.index.vfsPerPf, settings.index.vfsPerPf);
    cleanups.push(made.cleanup);
    return made.host;
  });
  log(`fake hosts written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return hosts;
}

async function runSuites(ctx: SuiteContext, only: readonly string[]): Promise<{ rows: Row[]; details: Record<string, unknown>; timings: Record<string, number> }> {
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const timings: Record<string, number> = {};
  for (const suite of SUITES.filter((s) => only.includes(s.name))) {
    const t0 = performance.now();
    log(`${suite.name}: running`);
    const out = await suite.run(ctx);
    rows.push(...out.rows);
    details[suite.name] = out.details;
    timings[suite.name] = Math.round(performance.now() - t0) / 1000;
    log(`${suite.name}: done in ${timings[suite.name]} s`);
  }
  rows.sort((a, b) => ROW_ORDER.indexOf(a.suite) - ROW_ORDER.indexOf(b.suite));
  return { rows, details, timings };
}

function report(settings: Settings, started: Date, loadAtStart: number[], out: Awaited<ReturnType<typeof runSuites>>): void {
  const { rows } = out;
  const info = machine();
  const git = gitCommit();
  const header =
    `vifplug bench${settings.quick ? ' (quick)' : ''} — ${started.toISOString()}\n` +
    `machine: ${info.cpuModel} x${info.cpus}, ${(info.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, ${info.kernel.split(' ').slice(0, 2).join(' ')}; node ${process.version}; commit ${git.commit.slice(0, 12)}${git.dirty ? ` + ${git.changes.length} uncommitted changes (listed in the JSON)` : ''}\n` +
    `gRPC: ${settings.grpc.rounds} rounds x ${settings.grpc.windowMs} ms per case, alternating (each round starts one case later; processes settle before every window); medians over rounds; ratio = median of per-round ratios to the baseline of the same round\n` +
    `outside client rows: a proto-loader client against a vifplugd process and a canned-bytes grpc-js server, alternating blocks; agree = the interquartile ranges of the two figures' per-round ratios overlap, or their medians lie within the noise band (±${noiseBand(1)} at c=1, ±${noiseBand(64)} at c=64)\n`;
  const busy = Math.max(loadAtStart[0]!, info.loadavg[0]!) > cpus().length;
  const warning = busy
    ? `WARNING: load average ${loadAtStart[0]!.toFixed(1)} at start, ${info.loadavg[0]!.toFixed(1)} at end, on ${cpus().length} CPUs: other processes competed for the CPUs; absolute figures are inflated, ratios less so (alternated)\n`
    : '';
  process.stdout.write(`\n${header}${warning}\n${formatTable(rows)}\n`);
  const failed = rows.filter((r) => r.pass === false || r.error !== undefined);
  const skipped = rows.filter((r) => r.skipped !== undefined);
  process.stdout.write(`\n${rows.filter((r) => r.pass === true).length} targets pass, ${failed.length} fail or error, ${skipped.length} skipped\n`);
  // A smoke check must not replace the figures of the last full run.
  const path = writeJson(RESULTS, settings.quick ? 'latest-quick.json' : 'latest.json', {
    schema: 1,
    timestamp: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    git,
    node: { version: process.version, v8: process.versions.v8, grpcJs: require('@grpc/grpc-js/package.json').version as string },
    machine: { ...info, loadavgAtStart: loadAtStart },
    settings,
    suiteSeconds: out.timings,
    rows,
    details: out.details,
  });
  process.stdout.write(`results: ${path}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if ((globalThis as { gc?: unknown }).gc === undefined) log('warning: run with node --expose-gc so that windows start without garbage');
  const settings = settingsFor(args);
  const cleanups: (() => void)[] = [];
  const started = new Date();
  const loadAtStart = loadavg();
  try {
    const needHosts = args.profile || SUITES.some((s) => s.needsHosts && args.only.includes(s.name));
    const hosts = needHosts ? writeHosts(settings, cleanups) : [];
    if (args.profile) {
      await runProfile({
        seconds: args.profileSeconds ?? (args.quick ? 2 : 5),
        concurrency: args.profileConcurrency ?? 1,
        representorHost: largest(hosts),
        log,
      });
      return;
    }
    report(settings, started, loadAtStart, await runSuites({ settings, hosts, log }, args.only));
  } finally {
    for (const cleanup of cleanups) cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
