/**
 * deploy/systemd: vifplugd.service's ExecStart names the program npm
 * installs and passes it only flags it has with values it accepts, the socket
 * lives in the unit's RuntimeDirectory and belongs to the static group that
 * vifplug.sysusers creates (systemd-sysusers, run on a scratch root, creates
 * it) and vifplug-ovn.service joins, the hardening is there, stopping
 * outlasts the drain, and the daemon started with exactly those arguments
 * (paths moved to a temp dir) serves and exits 0 on the unit's KillSignal.
 * systemd-analyze verifies both units and scores their exposure. The
 * container test (test/container/systemd.e2e.ts) runs the pair under systemd.
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseDaemonArgs } from '../../src/cli/daemon-config';
import { BUILTIN_TYPES } from '../../src/providers/builtins';
import { ROOT } from '../container/dockerfile';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { DAEMON, daemonHelpFlags, flagNames, flagValues, parseUnit, splitCommandLine, unitValue } from './parse';

const DIR = join(ROOT, 'deploy', 'systemd');
const UNIT_PATH = join(DIR, 'vifplugd.service');
const text = readFileSync(UNIT_PATH, 'utf8');
const unit = parseUnit(text);
const service = (key: string) => unitValue(unit, 'Service', key);
const execStart = splitCommandLine(service('ExecStart') ?? '');
const args = execStart.slice(1);
const agentText = readFileSync(join(DIR, 'vifplug-ovn.service'), 'utf8');
const agentUnit = parseUnit(agentText);
const AGENT = join(ROOT, 'dist', 'cli', 'vifplug-ovn.js');
/** The package's programs, as npm links them into its prefix's bin/. */
const BIN = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;

/** The groups vifplug.sysusers declares (`g NAME ID` lines). */
function sysusersGroups(): string[] {
  return readFileSync(join(DIR, 'vifplug.sysusers'), 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === 'g')
    .map((words) => words[1]!);
}

function seconds(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min)?$/.exec(value.trim());
  if (m === null) throw new Error(`cannot read the time span "${value}"`);
  return Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'min' ? 60 : 1);
}

describe('deploy/systemd/vifplugd.service', () => {
  it('starts the vifplugd that npm installs, by name, with only flags it has and values its parser accepts', () => {
    // No directory: systemd looks the name up in its fixed search path
    // (/usr/local/bin, /usr/bin, ...), which holds either npm prefix's bin/.
    expect(execStart[0]).toBe('vifplugd');
    expect(Object.keys(BIN)).toContain(execStart[0]);
    const known = daemonHelpFlags();
    for (const flag of flagNames(args)) expect(known.has(flag), `${flag} is not in vifplugd --help`).toBe(true);
    expect(parseDaemonArgs(args, {}, BUILTIN_TYPES).kind).toBe('run');
  });

  it("serves on a socket in the unit's RuntimeDirectory", () => {
    const runtimeDirectory = service('RuntimeDirectory');
    expect(runtimeDirectory).toBe('vifplug');
    const sockets = flagValues(args, '--listen').filter((l) => l.startsWith('unix:') || l.startsWith('/'));
    expect(sockets.length).toBeGreaterThan(0);
    for (const socket of sockets) expect(dirname(socket.replace(/^unix:\/\//, ''))).toBe(`/run/${runtimeDirectory}`);
  });

  it('runs as a dynamic user in the static group vifplug.sysusers creates, which owns the socket and which vifplug-ovn joins', () => {
    expect(sysusersGroups()).toEqual(['vifplug']);
    expect(service('DynamicUser')).toBe('yes');
    expect(service('Group')).toBe('vifplug');
    // With DynamicUser=, a User= named like an existing static group (and no such user) is refused.
    expect(service('User')).toBeDefined();
    expect(service('User')).not.toBe(service('Group'));
    // The socket keeps the daemon's primary group: no --socket-group, a mode that lets the group in.
    expect(flagValues(args, '--socket-group')).toEqual([]);
    const parsed = parseDaemonArgs(args, {}, BUILTIN_TYPES);
    if (parsed.kind !== 'run') throw new Error('not a run command');
    expect(parsed.config.socketMode ?? 0o660).toBe(0o660);
    expect(service('RuntimeDirectoryMode')).toBe('0750');
    expect(unitValue(agentUnit, 'Service', 'SupplementaryGroups')?.split(/\s+/)).toContain('vifplug');
  });

  it('stops with SIGTERM and waits longer than the drain before SIGKILL; a bad flag is not restarted', () => {
    expect(service('KillSignal')).toBe('SIGTERM');
    const parsed = parseDaemonArgs(args, {}, BUILTIN_TYPES);
    if (parsed.kind !== 'run') throw new Error('not a run command');
    expect(seconds(service('TimeoutStopSec') ?? '90')).toBeGreaterThan(parsed.config.shutdownGraceMs / 1000);
    expect(service('RestartPreventExitStatus')?.split(/\s+/)).toContain('2');
  });

  it('is hardened: no capabilities, no new privileges, read-only system, private tmp, few address families, a syscall filter', () => {
    const expected: Record<string, string> = {
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictSUIDSGID: 'yes',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
      SystemCallArchitectures: 'native',
      DynamicUser: 'yes',
    };
    for (const [key, value] of Object.entries(expected)) expect(service(key), key).toBe(value);
    expect(new Set(service('RestrictAddressFamilies')?.split(/\s+/))).toEqual(new Set(['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK']));
    expect(unit.get('Service')?.get('SystemCallFilter')).toContain('@system-service');
    // V8's JIT needs writable, executable memory; the network namespace is the host's for devlink.
    expect(service('MemoryDenyWriteExecute')).not.toBe('yes');
    expect(service('PrivateNetwork')).not.toBe('yes');
  });
});

// systemd-analyze and systemd-sysusers come with systemd, one of the test command's own packages (scripts/test-deps.mjs): never skipped.
describe('systemd-analyze on the units, systemd-sysusers on the group', () => {
  let dir: string | undefined;
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A unit with ExecStart's program replaced by this tree's, which systemd-analyze requires to exist. */
  function localCopy(name: string, unitText: string, program: string, script: string): string {
    dir ??= mkdtempSync(join(tmpdir(), 'vifplug-unit-'));
    const path = join(dir, name);
    const replaced = unitText.replace(new RegExp(`^ExecStart=${program} `, 'm'), `ExecStart=${process.execPath} ${script} `);
    expect(replaced, `${name}: ExecStart=${program}`).not.toBe(unitText);
    writeFileSync(path, replaced);
    return path;
  }

  function exposure(path: string, name: string): number {
    const verify = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', cwd: dirname(path) });
    expect(verify.status, verify.stderr).toBe(0);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', name], { encoding: 'utf8', cwd: dirname(path) });
    const score = new RegExp(`Overall exposure level for ${name.replace('.', '\\.')}: ([\\d.]+)`).exec(security.stdout);
    expect(score, security.stdout + security.stderr).not.toBeNull();
    return Number(score![1]);
  }

  it('verifies vifplugd.service, with an exposure score of 2.0 or less', () => {
    const path = localCopy('vifplugd.service', text, 'vifplugd', DAEMON);
    expect(exposure(path, 'vifplugd.service')).toBeLessThanOrEqual(2.0);
  });

  it('verifies vifplug-ovn.service, with an exposure score of 2.0 or less although it runs as root', () => {
    const path = localCopy('vifplug-ovn.service', agentText, 'vifplug-ovn', AGENT);
    // Root (the owner of OVS's socket) weighs; it has no capability, and the rest is as strict as vifplugd's.
    expect(exposure(path, 'vifplug-ovn.service')).toBeLessThanOrEqual(2.0);
  });

  it('creates the vifplug group with systemd-sysusers (on a scratch root)', () => {
    dir ??= mkdtempSync(join(tmpdir(), 'vifplug-unit-'));
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    const run = spawnSync('systemd-sysusers', [`--root=${root}`, join(DIR, 'vifplug.sysusers')], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8');
    expect(group).toMatch(/^vifplug:x:\d+:$/m);
    const gid = Number(/^vifplug:x:(\d+):/m.exec(group)![1]);
    // A system group (SYS_GID_MAX is 999 on Debian, Fedora and most others).
    expect(gid).toBeLessThan(1000);
  });
});

describe('the unit ExecStart arguments, run', () => {
  let work: string | undefined;
  let running: Daemon | undefined;
  afterAll(async () => {
    await running?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('start vifplugd, which drains and exits 0 on KillSignal', async () => {
    work = mkdtempSync(join(tmpdir(), 'vifplug-unit-run-'));
    // The RuntimeDirectory moves to a temp dir; ExecStart's program is this tree's daemon.
    const runtimeDir = `/run/${service('RuntimeDirectory')}`;
    const moved = args.map((a) => a.split(runtimeDir).join(work!));
    running = await spawnDaemon(moved);
    const t0 = Date.now();
    expect(await running.stop(service('KillSignal') as NodeJS.Signals)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(seconds(service('TimeoutStopSec')!) * 1000);
  });
});
