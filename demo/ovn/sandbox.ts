/**
 * A whole OVN chassis in user space, as OVN's own test sandboxes run it (the
 * one `npm run demo:ovn` starts, and the one the tests start):
 * ovsdb-server for the local Open_vSwitch database, ovs-vswitchd with every
 * netdev and datapath inside the process (`--enable-dummy=override
 * --disable-system`: no kernel module, no tap, no root), ovsdb-servers for
 * OVN_Northbound and OVN_Southbound, ovn-northd and ovn-controller.
 *
 * Every socket, database, pid file and log lives under one short temporary
 * directory (unix socket paths are limited to ~100 bytes) and every tool runs
 * with OVS_RUNDIR, OVN_RUNDIR, ... pointing there, so nothing falls back to
 * /var/run. Daemons start with --detach (they return once their sockets are
 * up) and are stopped by the pids in their own pid files; ovs-vswitchd leaves
 * with `ovs-appctl exit --cleanup`. A process exit hook kills whatever a
 * crashed test, or a demo that died, left behind.
 *
 * Waiting is by condition with a deadline: `ovn-nbctl wait-until` where OVSDB
 * can express it, polling a query otherwise; never a blind sleep.
 */

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { freePort } from './net';
import { isRunning } from './processes';

/** The daemons of a sandbox, by the name of their pid file (`ovnsb_db2`...: the other members of a clustered Southbound DB). */
export type SandboxDaemon = 'ovsdb-server' | 'ovs-vswitchd' | 'ovnnb_db' | 'ovnsb_db' | `ovnsb_db${number}` | 'ovn-northd' | 'ovn-controller';

/** The files of a server certificate and the CA that signs its clients' (the tests' PKI has them). */
export interface SslServerFiles {
  readonly serverKey: string;
  readonly serverCert: string;
  readonly caCert: string;
}

export interface SandboxOptions {
  /**
   * An empty directory to run in, which stop() removes; by default a fresh
   * one under /tmp. Keep its path short: unix socket paths are limited.
   */
  readonly dir?: string;
  /** The chassis name (Open_vSwitch external_ids:system-id). */
  readonly chassis?: string;
  /** The chassis hostname (external_ids:hostname), which NB requested-chassis may name instead. */
  readonly hostname?: string;
  /** Start ovn-controller (default true). */
  readonly ovnController?: boolean;
  /** Extra ovn-controller arguments, e.g. --enable-dummy-vif-plug. */
  readonly controllerArgs?: readonly string[];
  /**
   * Leave external_ids:system-id, hostname and ovn-remote unset, as on a node
   * where the agent starts first; configureChassis() sets them.
   */
  readonly unconfigured?: boolean;
  /** Also serve the Southbound DB on pssl: (sandbox.sbSsl) with this PKI's server certificate, requiring client certificates. */
  readonly sbSsl?: SslServerFiles;
  /** Run the Southbound DB as a Raft cluster of this many members; sandbox.sbDb then lists them all, as ovn-remote does. */
  readonly sbClusterSize?: number;
  /**
   * Another chassis of `join`'s OVN deployment: its own ovsdb-server,
   * ovs-vswitchd and ovn-controller, on the Northbound and Southbound DBs
   * (and ovn-northd) of `join`, which must outlive it.
   */
  readonly join?: OvnSandbox;
  /** The chassis's tunnel endpoint (external_ids:ovn-encap-ip); two chassis may not share one (default 127.0.0.1). */
  readonly encapIp?: string;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  /** Between two evaluations of a polled condition (default 20 ms). */
  readonly intervalMs?: number;
}

const SCHEMAS = {
  ovs: '/usr/share/openvswitch/vswitch.ovsschema',
  nb: '/usr/share/ovn/ovn-nb.ovsschema',
  sb: '/usr/share/ovn/ovn-sb.ovsschema',
};

/** Stop order: clients of a database before the database. */
const STOP_ORDER: readonly SandboxDaemon[] = ['ovn-controller', 'ovn-northd', 'ovs-vswitchd', 'ovnsb_db', 'ovnnb_db', 'ovsdb-server'];

const live = new Set<OvnSandbox>();
process.on('exit', () => {
  for (const sandbox of live) sandbox.killAllSync();
});

/** Tells why the sandbox cannot run here, or undefined when it can. */
export function sandboxUnavailable(): string | undefined {
  const missing = ['/usr/sbin/ovsdb-server', '/usr/sbin/ovs-vswitchd', '/usr/bin/ovn-northd', '/usr/bin/ovn-controller', ...Object.values(SCHEMAS)].filter(
    (f) => !existsSync(f),
  );
  return missing.length === 0 ? undefined : `OVN/OVS are not installed (missing ${missing.join(', ')}): apt-get install ovn-central ovn-host openvswitch-switch`;
}

export class OvnSandbox {
  readonly chassis: string;
  readonly hostname: string;
  /** The environment every OVS/OVN tool of this sandbox runs with. */
  readonly env: NodeJS.ProcessEnv;
  /** OVSDB remotes in OVS syntax. */
  readonly ovsDb: string;
  readonly nbDb: string;
  /** The Southbound DB's unix remotes: one, or every member of a cluster (comma-separated). */
  readonly sbDb: string;
  /** `ssl:127.0.0.1:PORT` when started with `sbSsl`. */
  sbSsl: string | undefined;
  /** The Southbound DB's daemons: ovnsb_db, and ovnsb_db2... for a cluster. */
  readonly sbMembers: readonly SandboxDaemon[];
  private readonly daemonArgs = new Map<SandboxDaemon, { bin: string; args: string[] }>();
  private stopped = false;

  private constructor(
    readonly dir: string,
    private readonly options: SandboxOptions,
  ) {
    this.chassis = options.chassis ?? 'hv1';
    this.hostname = options.hostname ?? `${this.chassis}.sandbox`;
    this.ovsDb = `unix:${dir}/db.sock`;
    const join = options.join;
    this.nbDb = join?.nbDb ?? `unix:${dir}/nb.sock`;
    const members = join === undefined ? (options.sbClusterSize ?? 1) : 0;
    this.sbMembers = Array.from({ length: members }, (_, i): SandboxDaemon => (i === 0 ? 'ovnsb_db' : `ovnsb_db${i + 1}`));
    this.sbDb = join?.sbDb ?? this.sbMembers.map((m) => `unix:${dir}/${sbSocket(m)}`).join(',');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, OVN_NB_DB: this.nbDb, OVN_SB_DB: this.sbDb };
    for (const prefix of ['OVS', 'OVN']) for (const kind of ['RUNDIR', 'LOGDIR', 'DBDIR', 'SYSCONFDIR', 'PKGDATADIR']) env[`${prefix}_${kind}`] = dir;
    // The schemas stay where the packages put them.
    env.OVS_PKGDATADIR = '/usr/share/openvswitch';
    env.OVN_PKGDATADIR = '/usr/share/ovn';
    this.env = env;
  }

  /** Creates the databases, starts every daemon and waits until ovn-controller has joined. */
  static async start(options: SandboxOptions = {}): Promise<OvnSandbox> {
    const why = sandboxUnavailable();
    if (why !== undefined) throw new Error(why);
    // /tmp rather than a possibly long TMPDIR: socket paths must stay short.
    const sandbox = new OvnSandbox(options.dir ?? mkdtempSync('/tmp/ovn-'), options);
    live.add(sandbox);
    try {
      await sandbox.boot();
    } catch (err) {
      await sandbox.stop().catch(() => undefined);
      throw new Error(`the OVN sandbox did not start: ${(err as Error).message}\n${sandbox.logTail()}`, { cause: err });
    }
    return sandbox;
  }

  private async boot(): Promise<void> {
    const d = this.dir;
    /** A joining chassis uses the central part (NB, SB, northd) of the sandbox it joins. */
    const central = this.options.join === undefined;
    await this.run('ovsdb-tool', ['create', `${d}/conf.db`, SCHEMAS.ovs]);
    this.daemonArgs.set('ovsdb-server', { bin: 'ovsdb-server', args: [`--remote=punix:${d}/db.sock`, `${d}/conf.db`] });
    if (central) {
      await this.run('ovsdb-tool', ['create', `${d}/ovnnb_db.db`, SCHEMAS.nb]);
      this.daemonArgs.set('ovnnb_db', { bin: 'ovsdb-server', args: [`--remote=punix:${d}/nb.sock`, `${d}/ovnnb_db.db`] });
      await this.createSb();
      this.daemonArgs.set('ovn-northd', { bin: 'ovn-northd', args: [`--ovnnb-db=${this.nbDb}`, `--ovnsb-db=${this.sbDb}`] });
    }
    this.daemonArgs.set('ovs-vswitchd', { bin: 'ovs-vswitchd', args: ['--enable-dummy=override', '--disable-system', this.ovsDb] });
    this.daemonArgs.set('ovn-controller', { bin: 'ovn-controller', args: [...(this.options.controllerArgs ?? []), this.ovsDb] });

    await Promise.all([this.startDaemon('ovsdb-server'), ...(central ? [this.startDaemon('ovnnb_db')] : []), ...this.sbMembers.map((m) => this.startDaemon(m))]);
    if (this.sbMembers.length > 1) await this.waitSbClustered();
    const encapIp = this.options.encapIp ?? '127.0.0.1';
    await this.vsctl('--no-wait', 'init', '--', 'set', 'Open_vSwitch', '.', 'external_ids:ovn-encap-type=geneve', `external_ids:ovn-encap-ip=${encapIp}`);
    await Promise.all([this.startDaemon('ovs-vswitchd'), ...(central ? [this.startDaemon('ovn-northd')] : [])]);
    if (this.options.ovnController ?? true) await this.startDaemon('ovn-controller');
    if (!this.options.unconfigured) await this.configureChassis();
  }

  /** The Southbound database files: standalone, or a Raft cluster over loopback TCP. */
  private async createSb(): Promise<void> {
    const d = this.dir;
    const tls = this.options.sbSsl;
    const ssl: string[] = [];
    if (tls !== undefined) {
      const port = await freePort();
      this.sbSsl = `ssl:127.0.0.1:${port}`;
      ssl.push(`--remote=pssl:${port}:127.0.0.1`, `--private-key=${tls.serverKey}`, `--certificate=${tls.serverCert}`, `--ca-cert=${tls.caCert}`);
    }
    const raft: string[] = [];
    for (const member of this.sbMembers) {
      const file = `${d}/${member}.db`;
      if (this.sbMembers.length === 1) {
        await this.run('ovsdb-tool', ['create', file, SCHEMAS.sb]);
      } else {
        raft.push(`tcp:127.0.0.1:${await freePort()}`);
        if (raft.length === 1) await this.run('ovsdb-tool', ['create-cluster', file, SCHEMAS.sb, raft[0]!]);
        else await this.run('ovsdb-tool', ['join-cluster', file, 'OVN_Southbound', raft.at(-1)!, raft[0]!]);
      }
      // Only the first member serves SSL: a client that must keep plugging lists the members.
      this.daemonArgs.set(member, { bin: 'ovsdb-server', args: [`--remote=punix:${d}/${sbSocket(member)}`, ...(member === 'ovnsb_db' ? ssl : []), file] });
    }
  }

  private async waitSbClustered(): Promise<void> {
    for (const remote of this.sbDb.split(',')) await this.run('ovsdb-client', ['--timeout=20', 'wait', remote, 'OVN_Southbound', 'connected']);
  }

  /** Sets the chassis configuration ovn-controller (and the agent) read, and waits until ovn-controller has joined (when it runs). */
  async configureChassis(): Promise<void> {
    await this.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=${this.chassis}`, `external_ids:hostname=${this.hostname}`, `external_ids:ovn-remote=${this.sbDb}`);
    // The chassis is registered and has processed the (empty) NB.
    if (this.pid('ovn-controller') !== undefined) await this.nbctl('--timeout=20', '--wait=hv', 'sync');
  }

  /** Starts a daemon (again, after stopDaemon or kill) with its original arguments. */
  async startDaemon(daemon: SandboxDaemon): Promise<void> {
    const spec = this.daemonArgs.get(daemon);
    if (spec === undefined) throw new Error(`unknown daemon ${daemon}`);
    const d = this.dir;
    const common = ['--detach', '--no-chdir', `--pidfile=${d}/${daemon}.pid`, `--log-file=${d}/${daemon}.log`];
    // ovn-controller has no --unixctl: ovn-appctl finds it through its pid file in OVN_RUNDIR.
    if (daemon !== 'ovn-controller') common.push(`--unixctl=${d}/${daemon}.ctl`);
    await this.run(spec.bin, [...common, ...spec.args]);
  }

  /** The pid of a running daemon, from its pid file; undefined when it is not running. */
  pid(daemon: SandboxDaemon): number | undefined {
    const file = join(this.dir, `${daemon}.pid`);
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && isRunning(pid) ? pid : undefined;
  }

  /** Sends `signal` (default SIGKILL: a crash) to a daemon and waits until it is gone. */
  async kill(daemon: SandboxDaemon, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = this.pid(daemon);
    if (pid === undefined) return;
    process.kill(pid, signal);
    await this.waitFor(() => !isRunning(pid), `${daemon} (pid ${pid}) to exit after ${signal}`, { timeoutMs: 5000 });
    // A killed ovsdb-server leaves its socket and pid file; a restart replaces both.
    rmSync(join(this.dir, `${daemon}.pid`), { force: true });
  }

  /** Stops a daemon the way an operator would: ovs-vswitchd through `exit --cleanup`, the others with SIGTERM. */
  async stopDaemon(daemon: SandboxDaemon): Promise<void> {
    const pid = this.pid(daemon);
    if (pid === undefined) return;
    if (daemon === 'ovs-vswitchd') {
      await this.run('ovs-appctl', ['-t', join(this.dir, 'ovs-vswitchd.ctl'), 'exit', '--cleanup']).catch(() => undefined);
    } else {
      process.kill(pid, 'SIGTERM');
    }
    try {
      await this.waitFor(() => !isRunning(pid), `${daemon} (pid ${pid}) to stop`, { timeoutMs: 5000 });
    } catch {
      process.kill(pid, 'SIGKILL');
    }
  }

  /** Clients of a database before the database; every member of a clustered one. */
  private stopOrder(): SandboxDaemon[] {
    return STOP_ORDER.flatMap((d) => (d === 'ovnsb_db' ? this.sbMembers : [d])).filter((d) => this.daemonArgs.has(d));
  }

  /** Stops every daemon (each by its own pid) and removes the directory; safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const daemon of this.stopOrder()) await this.stopDaemon(daemon).catch(() => undefined);
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort at process exit: SIGKILL every daemon still running. */
  killAllSync(): void {
    for (const daemon of this.stopOrder()) {
      const pid = this.pid(daemon);
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  nbctl(...args: string[]): Promise<string> {
    return this.run('ovn-nbctl', args);
  }

  sbctl(...args: string[]): Promise<string> {
    return this.run('ovn-sbctl', args);
  }

  vsctl(...args: string[]): Promise<string> {
    return this.run('ovs-vsctl', args);
  }

  /** ovs-appctl / ovn-appctl to a daemon of this sandbox, e.g. appctl('ovn-controller', 'debug/ignore-startup-delay'). */
  appctl(daemon: SandboxDaemon, ...args: string[]): Promise<string> {
    if (daemon === 'ovn-controller') return this.run('ovn-appctl', ['-t', 'ovn-controller', ...args]);
    return this.run(daemon.startsWith('ovn') ? 'ovn-appctl' : 'ovs-appctl', ['-t', join(this.dir, `${daemon}.ctl`), ...args]);
  }

  /** Adds a second chassis to the Southbound DB (no daemon behind it), e.g. to move a port there. */
  async addRemoteChassis(name: string, ip = '127.0.0.2'): Promise<void> {
    await this.sbctl('chassis-add', name, 'geneve', ip);
  }

  /** Waits until the NB logical switch port is up (ovn-controller bound it and installed its flows). */
  async waitLportUp(lport: string, timeoutMs = 10_000): Promise<void> {
    await this.nbctl(`--timeout=${Math.ceil(timeoutMs / 1000)}`, 'wait-until', 'Logical_Switch_Port', lport, 'up=true');
  }

  /** Names of the ports of a bridge. */
  async bridgePorts(bridge = 'br-int'): Promise<string[]> {
    return (await this.vsctl('list-ports', bridge)).split('\n').filter(Boolean);
  }

  /** Reads one column of one row (`ovs-vsctl get`), '' when the row does not exist. */
  async ovsGet(table: string, record: string, column: string): Promise<string> {
    return this.vsctl('--if-exists', 'get', table, record, column);
  }

  /** Polls `condition` until it holds; fails with `what` and the sandbox's log tails at the deadline. */
  async waitFor(condition: () => boolean | Promise<boolean>, what: string, options: WaitOptions = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    const interval = options.intervalMs ?? 20;
    for (;;) {
      if (await condition()) return;
      if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  /** The last lines of every daemon's log, for failure messages. */
  logTail(lines = 15): string {
    const out: string[] = [];
    for (const daemon of this.stopOrder()) {
      const file = join(this.dir, `${daemon}.log`);
      if (!existsSync(file)) continue;
      const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
      out.push(`--- ${daemon}.log`, ...text);
    }
    return out.join('\n');
  }

  /** Runs an OVS/OVN tool in this sandbox's environment; rejects with its stderr. */
  run(bin: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(bin, args, { env: this.env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolve(stdout.trimEnd());
      });
    });
  }
}

function sbSocket(member: SandboxDaemon): string {
  return `${member === 'ovnsb_db' ? 'sb' : member.replace('ovnsb_db', 'sb')}.sock`;
}
