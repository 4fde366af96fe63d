/**
 * The flag reader and help shared by vifplugd and vifplug-ovn: help keeps a
 * flag and its variable apart however long the flag is, and a variable that
 * was renamed is still read under its former name, with a deprecation warning.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { flagHelp, readFlags, type Flag } from '../../src/cli/flags';
import { parseAgentArgs } from '../../src/cli/vifplug-ovn';

const DIST = join(__dirname, '..', '..', 'dist', 'cli');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('help', () => {
  it('puts two spaces at least between a flag and its variable', () => {
    const flags: Record<string, Flag> = {
      short: { env: 'X_SHORT', arg: 'N', help: 'a short one' },
      'a-very-long-flag-name': { env: 'X_LONG', arg: 'SECONDS', help: 'a long one' },
    };
    expect(flagHelp(flags)).toEqual([
      `  --short N${' '.repeat(21)}[X_SHORT]`,
      '      a short one',
      '  --a-very-long-flag-name SECONDS  [X_LONG]',
      '      a long one',
    ]);
  });

  it.each(['vifplugd', 'vifplug-ovn'])('%s --help never runs a flag into its variable', (command) => {
    const help = spawnSync(process.execPath, [join(DIST, `${command}.js`), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    const lines = help.stdout.split('\n').filter((l) => /^ {2}--\S.*\[VIFPLUG_/.test(l));
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.filter((l) => !/ {2}\[VIFPLUG_[A-Z_]+\]$/.test(l))).toEqual([]);
  });
});

describe('a renamed variable', () => {
  const flags = { 'sb-db': { env: 'X_SB_DB', deprecatedEnv: 'X_OLD_SB_DB', arg: 'ADDR', help: 'where' } } satisfies Record<string, Flag>;

  it('is read under its former name, with a deprecation warning naming the new one', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    expect(readFlags([], { X_OLD_SB_DB: 'tcp:192.0.2.1:6642' }, flags).one('sb-db')).toBe('tcp:192.0.2.1:6642');
    expect(warn).toHaveBeenCalledWith('X_OLD_SB_DB is deprecated: set X_SB_DB instead', { type: 'DeprecationWarning', code: 'VIFPLUG_DEPRECATED_VARIABLE' });
  });

  it('gives way to the new name, and says that the former one is ignored', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    expect(readFlags([], { X_SB_DB: 'tcp:192.0.2.2:6642', X_OLD_SB_DB: 'tcp:192.0.2.1:6642' }, flags).one('sb-db')).toBe('tcp:192.0.2.2:6642');
    expect(warn).toHaveBeenCalledWith('X_OLD_SB_DB is deprecated and ignored: X_SB_DB is set', expect.anything());
  });

  it('is not mentioned when only the new name, or the flag, is given', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    expect(readFlags([], { X_SB_DB: 'tcp:192.0.2.2:6642' }, flags).one('sb-db')).toBe('tcp:192.0.2.2:6642');
    expect(readFlags(['--sb-db', 'tcp:192.0.2.3:6642'], { X_OLD_SB_DB: 'tcp:192.0.2.1:6642' }, flags).one('sb-db')).toBe('tcp:192.0.2.3:6642');
    expect(warn).not.toHaveBeenCalled();
  });

  it("vifplug-ovn: --ovn-sb-db is VIFPLUG_OVN_SB_DB, and VIFPLUG_OVN_OVN_SB_DB is still read", () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const agent = (env: NodeJS.ProcessEnv) => {
      const command = parseAgentArgs([], { VIFPLUG_OVN_TYPES: 'dummy', ...env });
      return command.kind === 'run' ? command.config.sbDb : command.kind;
    };
    expect(agent({ VIFPLUG_OVN_SB_DB: 'tcp:192.0.2.1:6642' })).toBe('tcp:192.0.2.1:6642');
    expect(agent({ VIFPLUG_OVN_OVN_SB_DB: 'tcp:192.0.2.2:6642' })).toBe('tcp:192.0.2.2:6642');
  });

  it('vifplug-ovn prints the warning on stderr, as Node prints deprecations', () => {
    // A malformed address makes the agent stop at its flags, after reading them.
    const run = spawnSync(process.execPath, [join(DIST, 'vifplug-ovn.js'), '--types', 'dummy'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, VIFPLUG_OVN_OVN_SB_DB: 'nonsense' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/\[VIFPLUG_DEPRECATED_VARIABLE\] DeprecationWarning: VIFPLUG_OVN_OVN_SB_DB is deprecated: set VIFPLUG_OVN_SB_DB instead/);
    // The message names the setting as the user gave it: here the former variable.
    expect(run.stderr).toContain('vifplug-ovn: VIFPLUG_OVN_OVN_SB_DB: ');
  });
});
