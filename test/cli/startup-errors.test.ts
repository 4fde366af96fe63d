/**
 * What an operator sees when a program cannot start: one readable line that
 * says what failed and what to do, with the flag to change, and nothing else
 * (no stack, no stray line of grpc-js's on stderr). Each mistake is made for
 * real: a non-root daemon on the default socket, a sysfs root that is not
 * one, a port alone for --metrics-listen, two agents on one status socket,
 * the example provider's --help.
 */

import { spawn } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { parseLogFormat } from '../../src/cli/flags';
import { AGENT } from '../ovn/harness';
import { programFor } from '../helpers/as-user';
import { DAEMON, spawnDaemon, type Daemon } from '../helpers/daemon';
import { tempDir } from '../helpers/server';

const EXAMPLE_PROVIDER = join(__dirname, '..', '..', 'examples', 'typescript', 'dist', 'provider.js');
const ROOT = process.getuid?.() === 0;
/** Who the "non-root" runs are made as: nobody when the tests run as root, the tests' own user otherwise. */
const NON_ROOT = ROOT ? { uid: 65534, gid: 65534 } : {};

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratch(mode = 0o755): string {
  const dir = tempDir();
  chmodSync(dir.path, mode);
  cleanups.push(() => dir.remove());
  return dir.path;
}

interface Run {
  readonly code: number | NodeJS.Signals;
  readonly stdout: string;
  readonly stderr: string;
}

function run(script: string, args: string[], options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const program = options.uid === undefined ? script : programFor(options.uid, options.gid ?? options.uid, script);
    const proc = spawn(process.execPath, [program, ...args], {
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code, signal) => resolve({ code: code ?? signal!, stdout, stderr }));
  });
}

/** The one line a failed start printed on stdout, as JSON; fails when there are more, or anything on stderr. */
function onlyLine(res: Run): { level: string; msg: string; [key: string]: unknown } {
  expect(res.stderr).toBe('');
  const lines = res.stdout.split('\n').filter((l) => l !== '');
  expect(lines, res.stdout).toHaveLength(1);
  const line = JSON.parse(lines[0]!) as { level: string; msg: string; [key: string]: unknown };
  expect(line.level).toBe('fatal');
  expect(line).not.toHaveProperty('err');
  expect(JSON.stringify(line)).not.toContain('    at ');
  return line;
}

describe('vifplugd cannot start: one line with the remedy, exit 1', () => {
  it('as non-root on the default socket', async () => {
    const res = await run(DAEMON, [], NON_ROOT);
    expect(res.code).toBe(1);
    const { msg } = onlyLine(res);
    // /run/vifplug is missing (cannot create it) or there without write permission for this user.
    expect(msg).toMatch(/^vifplugd cannot start: cannot (create the directory|write in) \/run\/vifplug for the socket \/run\/vifplug\/vifplug\.sock \(EACCES: permission denied to uid \d+\); /);
    expect(msg).toContain('run as root (the systemd unit and the container image provide /run/vifplug), or pass --listen unix:///PATH in a directory you can write');
  });

  it('as non-root where the socket directory exists and is not writable: no stray grpc-js line', async () => {
    const dir = scratch(ROOT ? 0o755 : 0o555);
    cleanups.push(() => chmodSync(dir, 0o755));
    const sock = join(dir, 'vifplug.sock');
    const res = await run(DAEMON, ['--listen', `unix://${sock}`, '--providers', 'dummy'], NON_ROOT);
    expect(res.code).toBe(1);
    expect(onlyLine(res).msg).toBe(
      `vifplugd cannot start: cannot write in ${dir} for the socket ${sock} (EACCES: permission denied to uid ${ROOT ? 65534 : process.getuid!()}); ` +
        `run as root (the systemd unit and the container image provide ${dir}), or pass --listen unix:///PATH in a directory you can write`,
    );
  });

  it('with a --sysfs-root that is not laid out like /sys: the cause once, not three times', async () => {
    const dir = scratch();
    const res = await run(DAEMON, ['--listen', `unix://${join(dir, 'v.sock')}`, '--sysfs-root', join(dir, 'nonexist'), '--devlink-bin', join(dir, 'no-devlink'), '--ip-bin', join(dir, 'no-ip')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('');
    const lines = res.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; msg: string });
    // Warnings about devlink may come first (it is absent here); the failure itself is one line.
    expect(lines.filter((l) => l.level !== 'warn')).toHaveLength(1);
    expect(lines.some((l) => l.msg.startsWith('representor refresh failing'))).toBe(false);
    const fatal = lines.at(-1)!;
    expect(fatal).toMatchObject({ level: 'fatal' });
    expect(fatal.msg).toBe(
      `vifplugd cannot start: cannot start provider "representor": cannot list ${dir}/nonexist/class/net (ENOENT: no such file or directory, scandir '${dir}/nonexist/class/net'): ` +
        `the sysfs root "${dir}/nonexist" is not laid out like /sys; pass --sysfs-root with the directory where the host's /sys is mounted (--providers chooses the built-in providers to start)`,
    );
  });

  it('on a TCP port already in use: grpc-js says nothing on stderr unless asked (GRPC_VERBOSITY)', async () => {
    const dir = scratch();
    const holder = await spawnDaemon(['--listen', '127.0.0.1:0', '--listen', `unix://${join(dir, 'a.sock')}`, '--providers', 'dummy']);
    cleanups.push(() => holder.stop('SIGKILL'));
    const port = (holder.logs.find((l) => l.msg === 'vifplugd serving')!.listen as string[])[0]!;
    const res = await run(DAEMON, ['--listen', port, '--providers', 'dummy']);
    expect(res.code).toBe(1);
    expect(onlyLine(res).msg).toBe(`vifplugd cannot start: cannot listen on ${port}: the address is in use (EADDRINUSE); stop what listens there, or choose another address`);
    const debug = await run(DAEMON, ['--listen', port, '--providers', 'dummy', '--log-level', 'debug']);
    expect(debug.stderr).toBe('');
    expect(debug.stdout).toContain('"grpc":true');
    const asked = await run(DAEMON, ['--listen', port, '--providers', 'dummy'], { env: { GRPC_VERBOSITY: 'ERROR' } });
    expect(asked.stderr).toMatch(/^E No address added out of total 1 resolved/);
  });

  it('with a port alone for --metrics-listen: HOST:PORT, not unix socket forms (exit 2)', async () => {
    const res = await run(DAEMON, ['--metrics-listen', '9100']);
    expect(res).toMatchObject({ code: 2, stdout: '' });
    expect(res.stderr).toBe(`vifplugd: --metrics-listen "9100" is a port alone; give HOST:PORT, e.g. 127.0.0.1:9100 (0.0.0.0:9100 for every interface)\nTry 'vifplugd --help'.\n`);
    const env = await run(DAEMON, [], { env: { VIFPLUG_METRICS_LISTEN: 'unix:///run/m.sock' } });
    expect(env.stderr).toContain('VIFPLUG_METRICS_LISTEN="unix:///run/m.sock" is not HOST:PORT, e.g. 127.0.0.1:9100');
  });

  it('says it in text on a terminal, or when asked with --log-format text', async () => {
    const dir = scratch();
    const sock = join(dir, 'v.sock');
    const holder = await spawnDaemon(['--listen', `unix://${sock}`, '--providers', 'dummy']);
    cleanups.push(() => holder.stop('SIGKILL'));
    const res = await run(DAEMON, ['--listen', `unix://${sock}`, '--providers', 'dummy', '--log-format', 'text']);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] FATAL: vifplugd cannot start: another process is serving on ${sock}; stop it or pass another --listen unix:///PATH\\n$`));
    const env = await run(DAEMON, ['--listen', `unix://${sock}`, '--providers', 'dummy'], { env: { VIFPLUG_LOG_FORMAT: 'text' } });
    expect(env.stdout).toMatch(/^\[[\d:.]+\] FATAL: /);
    if (existsSync('/usr/bin/script')) {
      // On a real terminal (util-linux script gives the program a pty), text is the default.
      const tty = await new Promise<string>((resolve) => {
        const proc = spawn('/usr/bin/script', ['-qec', `${process.execPath} ${DAEMON} --listen unix://${sock} --providers dummy`, '/dev/null'], { env: { PATH: process.env.PATH, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
        proc.on('exit', () => resolve(out));
      });
      expect(tty).toMatch(/^\[[\d:.]+\] FATAL: vifplugd cannot start: another process is serving on /);
    }
    expect(parseLogFormat(undefined, '--log-format', true)).toBe('text');
    expect(parseLogFormat(undefined, '--log-format', false)).toBe('json');
    expect((await run(DAEMON, ['--log-format', 'pretty'])).stderr).toContain('--log-format "pretty" is not one of text, json');
  });
});

describe('vifplug-ovn cannot start: one line with the remedy', () => {
  let first: Daemon | undefined;
  afterEach(async () => {
    await first?.stop('SIGKILL');
    first = undefined;
  });

  it('when another agent serves the status socket: --status-socket, not --listen', async () => {
    const dir = scratch();
    const status = join(dir, 'status.sock');
    const args = ['--types', 'dummy', '--status-socket', status, '--ovs-db', `unix:${join(dir, 'no-db.sock')}`, '--socket', join(dir, 'no-vifplugd.sock')];
    first = await spawnDaemon(args, {}, { script: AGENT, readyMessage: 'vifplug-ovn starting' });
    const res = await run(AGENT, args);
    expect(res.code).toBe(1);
    expect(onlyLine(res).msg).toBe(`vifplug-ovn cannot start: another process is serving on ${status}; stop it or pass another --status-socket PATH`);
  });

  it('when the status socket cannot be created', async () => {
    const dir = scratch(ROOT ? 0o755 : 0o555);
    cleanups.push(() => chmodSync(dir, 0o755));
    const status = join(dir, 'sub', 'status.sock');
    const res = await run(AGENT, ['--types', 'dummy', '--status-socket', status, '--ovs-db', `unix:${join(dir, 'db.sock')}`], NON_ROOT);
    expect(res.code).toBe(1);
    expect(onlyLine(res).msg).toMatch(
      new RegExp(`^vifplug-ovn cannot start: cannot create the directory ${dir}/sub for the socket ${status} \\(EACCES: permission denied to uid \\d+\\); run as root .* or pass --status-socket PATH in a directory you can write$`),
    );
  });
});

describe('the TypeScript example provider', () => {
  it('prints its help and exits 0; an unknown flag exits 2 with a hint, not a crash', async () => {
    const help = await run(EXAMPLE_PROVIDER, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: provider\.js --socket \/abs\/path\.sock/);
    const bad = await run(EXAMPLE_PROVIDER, ['--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("provider.js: Unknown option '--nope'\nTry 'provider.js --help'.\n");
  });
});
