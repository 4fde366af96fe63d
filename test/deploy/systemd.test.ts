/**
 * deploy/systemd/vifplugd.service: ExecStart passes vifplugd only flags it
 * has with values it accepts, the socket lives in the unit's
 * RuntimeDirectory, the hardening is there, stopping outlasts the drain, and
 * the daemon started with exactly those arguments (paths moved to a temp
 * dir) serves and exits 0 on the unit's KillSignal. systemd-analyze verifies the unit and scores its exposure.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseDaemonArgs } from '../../src/cli/daemon-config';
import { BUILTIN_TYPES } from '../../src/providers/builtins';
import { ROOT } from '../container/dockerfile';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { DAEMON, daemonHelpFlags, flagNames, flagValues, parseUnit, splitCommandLine, unitValue } from './parse';

const UNIT_PATH = join(ROOT, 'deploy', 'systemd', 'vifplugd.service');
const text = readFileSync(UNIT_PATH, 'utf8');
const unit = parseUnit(text);
const service = (key: string) => unitValue(unit, 'Service', key);
const execStart = splitCommandLine(service('ExecStart') ?? '');
const args = execStart.slice(1);

function seconds(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min)?$/.exec(value.trim());
  if (m === null) throw new Error(`cannot read the time span "${value}"`);
  return Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'min' ? 60 : 1);
}

describe('deploy/systemd/vifplugd.service', () => {
  it('starts the vifplugd that npm installs, with only flags it has and values its parser accepts', () => {
    expect(execStart[0]).toBe('/usr/local/bin/vifplugd');
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

// systemd-analyze is one of the test command's own packages (scripts/test-deps.mjs): never skipped.
describe('systemd-analyze on the unit', () => {
  let dir: string | undefined;
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** The unit with ExecStart pointing at this tree's daemon, which systemd-analyze requires to exist. */
  function localCopy(): string {
    dir ??= mkdtempSync(join(tmpdir(), 'vifplug-unit-'));
    const path = join(dir, 'vifplugd.service');
    writeFileSync(path, text.replace(/^ExecStart=\/usr\/local\/bin\/vifplugd/m, `ExecStart=${process.execPath} ${DAEMON}`));
    return path;
  }

  it('verifies, with an exposure score of 2.0 or less', () => {
    const path = localCopy();
    const verify = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', cwd: dirname(path) });
    expect(verify.status, verify.stderr).toBe(0);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', 'vifplugd.service'], { encoding: 'utf8', cwd: dirname(path) });
    const score = /Overall exposure level for vifplugd\.service: ([\d.]+)/.exec(security.stdout);
    expect(score, security.stdout + security.stderr).not.toBeNull();
    expect(Number(score![1]), security.stdout).toBeLessThanOrEqual(2.0);
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
