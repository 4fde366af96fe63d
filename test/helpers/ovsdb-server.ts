import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';

import pino, { type Logger } from 'pino';

import type { ClientEvents, OvsdbClient } from '../../src/ovsdb';
import type { Pki } from './certs';
import { isRunning } from './processes';

import { freePort } from '../../demo/ovn/net';

export { freePort };

const run = promisify(execFile);

/** The schemas Debian's packages install. */
export const SCHEMAS = {
  sb: '/usr/share/ovn/ovn-sb.ovsschema',
  nb: '/usr/share/ovn/ovn-nb.ovsschema',
  vswitch: '/usr/share/openvswitch/vswitch.ovsschema',
} as const;

/** A real ovsdb-server serving one database, every file of it under `dir`. */
export interface OvsdbServer {
  readonly name: string;
  readonly dir: string;
  readonly database: string;
  /** `unix:<dir>/<name>.sock` */
  readonly unix: string;
  /** `tcp:127.0.0.1:PORT` when started with `tcp` */
  readonly tcp: string | undefined;
  /** `ssl:127.0.0.1:PORT` when started with `ssl` */
  readonly ssl: string | undefined;
  readonly pid: number;
  readonly running: boolean;
  /** Sends `signal` to the server's pid and waits until it is gone. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same database file, socket and ports. */
  start(): Promise<void>;
  /** Runs a transaction through ovsdb-client (a second, independent client); returns its raw results. */
  transact(ops: unknown[]): Promise<unknown[]>;
  /** Runs a transaction on the database file with ovsdb-tool while the server is stopped. */
  transactOffline(ops: unknown[]): Promise<unknown[]>;
  appctl(...args: string[]): Promise<string>;
  log(): string;
  /** Resolves once the server's log matches `pattern` (it writes asynchronously to what its peers see). */
  waitLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export interface OvsdbServerOptions {
  /** A short directory (unix socket paths are limited to ~100 bytes). */
  readonly dir: string;
  readonly schema: string;
  readonly name?: string;
  readonly tcp?: boolean;
  /** Listens on pssl: with this PKI's server certificate, requiring client certificates signed by its CA. */
  readonly ssl?: Pki;
  /** More --remote arguments, e.g. `db:OVN_Southbound,SB_Global,connections` (remotes configured in the database). */
  readonly remotes?: readonly string[];
}

/** The environment OVS tools get: every default directory inside `dir`, never the system's. */
export function ovsEnv(dir: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir, OVS_PKGDATADIR: '/usr/share/openvswitch' };
}

function schemaName(schema: string): string {
  return (JSON.parse(readFileSync(schema, 'utf8')) as { name: string }).name;
}

async function waitGone(pid: number, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (isRunning(pid)) {
    if (Date.now() > end) throw new Error(`process ${pid} did not exit within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The results of a transaction the OVS tools ran; they exit 0 even when it failed, so look. */
function checked(stdout: string): unknown[] {
  const results = JSON.parse(stdout) as unknown[];
  const failed = results.find((r) => r !== null && typeof r === 'object' && 'error' in r);
  if (failed) throw new Error(`transaction failed: ${JSON.stringify(failed)}`);
  return results;
}

class Server implements OvsdbServer {
  readonly unix: string;
  readonly tcp: string | undefined;
  readonly ssl: string | undefined;
  pid = 0;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly database: string,
    private readonly dbFile: string,
    private readonly tcpPort: number | undefined,
    private readonly sslPort: number | undefined,
    private readonly pki: Pki | undefined,
    private readonly extraRemotes: readonly string[] = [],
  ) {
    this.unix = `unix:${join(dir, `${name}.sock`)}`;
    this.tcp = tcpPort === undefined ? undefined : `tcp:127.0.0.1:${tcpPort}`;
    this.ssl = sslPort === undefined ? undefined : `ssl:127.0.0.1:${sslPort}`;
    this.env = ovsEnv(dir);
  }

  get running(): boolean {
    return this.pid !== 0 && isRunning(this.pid);
  }

  private file(suffix: string): string {
    return join(this.dir, `${this.name}.${suffix}`);
  }

  async start(): Promise<void> {
    const args = [
      '--detach',
      '--no-chdir',
      `--pidfile=${this.file('pid')}`,
      `--log-file=${this.file('log')}`,
      `--unixctl=${this.file('ctl')}`,
      `--remote=p${this.unix}`,
    ];
    if (this.tcpPort !== undefined) args.push(`--remote=ptcp:${this.tcpPort}:127.0.0.1`);
    if (this.sslPort !== undefined && this.pki) {
      args.push(`--remote=pssl:${this.sslPort}:127.0.0.1`, `--private-key=${this.pki.serverKey}`, `--certificate=${this.pki.serverCert}`, `--ca-cert=${this.pki.caCert}`);
    }
    for (const r of this.extraRemotes) args.push(`--remote=${r}`);
    args.push(this.dbFile);
    try {
      await run('ovsdb-server', args, { env: this.env });
    } catch (err) {
      throw new Error(`ovsdb-server ${this.name} did not start: ${(err as { stderr?: string }).stderr ?? String(err)}\n${this.log()}`);
    }
    this.pid = Number(readFileSync(this.file('pid'), 'utf8').trim());
  }

  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    process.kill(this.pid, signal);
    await waitGone(this.pid, 5000);
  }

  async transact(ops: unknown[]): Promise<unknown[]> {
    const { stdout } = await run('ovsdb-client', ['transact', this.unix, JSON.stringify([this.database, ...ops])], { env: this.env });
    return checked(stdout);
  }

  async transactOffline(ops: unknown[]): Promise<unknown[]> {
    if (this.running) throw new Error(`${this.name} is running: use transact()`);
    const { stdout } = await run('ovsdb-tool', ['transact', this.dbFile, JSON.stringify([this.database, ...ops])], { env: this.env });
    return checked(stdout);
  }

  async appctl(...args: string[]): Promise<string> {
    const { stdout } = await run('ovs-appctl', ['-t', this.file('ctl'), ...args], { env: this.env });
    return stdout;
  }

  log(): string {
    return existsSync(this.file('log')) ? readFileSync(this.file('log'), 'utf8') : '';
  }

  async waitLog(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pattern.test(this.log())) {
      if (Date.now() > end) throw new Error(`${this.name}'s log does not match ${pattern} after ${timeoutMs} ms:\n${this.log()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Creates a standalone database from `schema` and serves it (unix socket always; tcp and pssl on request). */
export async function startOvsdbServer(options: OvsdbServerOptions): Promise<OvsdbServer> {
  const name = options.name ?? 'db';
  const dbFile = join(options.dir, `${name}.db`);
  execFileSync('ovsdb-tool', ['create', dbFile, options.schema], { env: ovsEnv(options.dir), stdio: 'pipe' });
  const server = new Server(
    name,
    options.dir,
    schemaName(options.schema),
    dbFile,
    options.tcp ? await freePort() : undefined,
    options.ssl ? await freePort() : undefined,
    options.ssl,
    options.remotes,
  );
  await server.start();
  return server;
}

/** The members of a clustered database, each its own ovsdb-server with a unix socket for clients. */
export interface OvsdbCluster {
  readonly members: readonly OvsdbServer[];
  readonly database: string;
  /** The members' unix remotes, comma-separated (what `ovn-remote` would hold). */
  readonly remotes: string;
  /** Waits until every running member is connected to the cluster. */
  waitConnected(timeoutS?: number): Promise<void>;
  /** The member that is the Raft leader now. */
  leader(): Promise<OvsdbServer>;
  stop(): Promise<void>;
}

/** A real Raft cluster of `size` members (ovsdb-tool create-cluster / join-cluster), Raft over loopback TCP. */
export async function startOvsdbCluster(options: { dir: string; schema: string; size?: number }): Promise<OvsdbCluster> {
  const size = options.size ?? 3;
  const database = schemaName(options.schema);
  const env = ovsEnv(options.dir);
  const ports: number[] = [];
  for (let i = 0; i < size; i++) ports.push(await freePort());
  const raft = (i: number) => `tcp:127.0.0.1:${ports[i]}`;
  const members: Server[] = [];
  for (let i = 0; i < size; i++) {
    const name = `m${i + 1}`;
    const dbFile = join(options.dir, `${name}.db`);
    if (i === 0) execFileSync('ovsdb-tool', ['create-cluster', dbFile, options.schema, raft(0)], { env, stdio: 'pipe' });
    else execFileSync('ovsdb-tool', ['join-cluster', dbFile, database, raft(i), raft(0)], { env, stdio: 'pipe' });
    members.push(new Server(name, options.dir, database, dbFile, undefined, undefined, undefined));
  }
  for (const m of members) await m.start();
  const cluster: OvsdbCluster = {
    members,
    database,
    remotes: members.map((m) => m.unix).join(','),
    async waitConnected(timeoutS = 20) {
      await Promise.all(
        members.filter((m) => m.running).map((m) => run('ovsdb-client', [`--timeout=${timeoutS}`, 'wait', m.unix, database, 'connected'], { env })),
      );
    },
    async leader() {
      for (const m of members) {
        if (!m.running) continue;
        const status = await m.appctl('cluster/status', database);
        if (/^Role: leader$/m.test(status)) return m;
      }
      throw new Error('no member is the leader');
    },
    async stop() {
      await Promise.all(members.map((m) => m.stop('SIGKILL')));
    },
  };
  await cluster.waitConnected();
  return cluster;
}

/** The next `event` of `client`, or a rejection after `timeoutMs` naming what did not happen. */
export function nextEvent<E extends keyof ClientEvents>(client: OvsdbClient, event: E, timeoutMs = 10_000): Promise<ClientEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on(event, (e) => {
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

export interface LogCapture {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  /** Resolves with the lines once `predicate` holds for them; rejects after `timeoutMs`. */
  until(predicate: (lines: Record<string, unknown>[]) => boolean, timeoutMs?: number): Promise<Record<string, unknown>[]>;
}

/** A debug-level logger whose lines a test can wait on (what an operator would read). */
export function captureLogs(): LogCapture {
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      for (const w of [...waiters]) w();
      done();
    },
  });
  return {
    logger: pino({ level: 'debug' }, sink),
    lines,
    until(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(lines)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(lines);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`log condition not met within ${timeoutMs} ms; lines: ${JSON.stringify(lines.slice(-10))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
