import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { ServingStatus, VifplugClient } from '../../src/client/client';
import { runDaemon, spawnDaemon, type Daemon } from '../helpers/daemon';
import { tempDir } from '../helpers/server';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratch(): string {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  return dir.path;
}

async function daemon(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const d = await spawnDaemon(args, env);
  cleanups.push(() => d.stop('SIGKILL'));
  return d;
}

function client(target: string): VifplugClient {
  const c = new VifplugClient(target);
  cleanups.push(() => c.close());
  return c;
}

describe('vifplugd flags', () => {
  it('prints help and version and exits 0', async () => {
    const help = await runDaemon(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--listen', '--providers', '--log-level', 'VIFPLUG_LISTEN']) expect(help.stdout).toContain(flag);
    const version = await runDaemon(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^vifplugd \d+\.\d+\.\d+/) });
  });

  it.each([
    [['--nope'], /Unknown option '--nope'/],
    [['--listen', 'nowhere'], /--listen "nowhere" is not a listen address/],
    [['--listen', 'unix://relative.sock'], /absolute path/],
    [['--listen', '127.0.0.1:70000'], /out of range/],
    [['--providers', 'sriov'], /unknown provider "sriov"; built-in providers: dummy/],
    [['--log-level', 'loud'], /--log-level "loud" is not one of/],
    [['--socket-mode', '999'], /not an octal mode/],
    [['--socket-mode', '0060'], /lock the daemon's own user out/],
    [['--shutdown-grace', 'soon'], /not a number of seconds/],
    [['extra-argument'], /Unexpected argument 'extra-argument'|positional/],
  ])('refuses %j with a clear message and exit code 2', async (args, message) => {
    const run = await runDaemon(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain("Try 'vifplugd --help'");
  });

  it('reads VIFPLUG_* variables, and flags win over them', async () => {
    const dir = scratch();
    const a = `unix://${join(dir, 'a.sock')}`;
    const b = `unix://${join(dir, 'b.sock')}`;
    // The flags say no providers and info logs; the environment says otherwise and loses.
    await daemon(['--providers', 'none', '--log-level', 'info'], {
      VIFPLUG_LISTEN: `${a},${b}`,
      VIFPLUG_PROVIDERS: 'dummy',
      VIFPLUG_LOG_LEVEL: 'error',
    });
    expect((await client(a).listProviders()).providers).toEqual([]);
    expect(await client(b).health()).toBe(ServingStatus.SERVING);

    const fromEnv = await daemon([], { VIFPLUG_LISTEN: `unix://${join(dir, 'c.sock')}`, VIFPLUG_PROVIDERS: 'dummy' });
    expect(fromEnv.logs.find((l) => l.msg === 'vifplugd serving')).toMatchObject({ providers: ['dummy'] });
  });
});

describe('vifplugd lifecycle', () => {
  it('logs a start-up summary, serves, and exits 0 on SIGTERM, removing its socket', async () => {
    const dir = scratch();
    const sock = join(dir, 'run', 'vifplug.sock');
    const d = await daemon(['--listen', `unix://${sock}`, '--listen', '127.0.0.1:0', '--providers', 'dummy']);
    const serving = d.logs.find((l) => l.msg === 'vifplugd serving')!;
    expect(serving).toMatchObject({ level: 'info', service: 'vifplugd', providers: ['dummy'] });
    expect(serving.listen).toEqual([`unix://${sock}`, expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    expect(statSync(sock).mode & 0o777).toBe(0o660);

    const tcp = (serving.listen as string[])[1]!;
    expect((await client(tcp).open('dummy')).instanceId).not.toBe('');
    expect(await d.stop('SIGTERM')).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(d.logs.map((l) => l.msg)).toContain('vifplugd stopped');
  });

  it('exits 0 on SIGINT too', async () => {
    const sock = join(scratch(), 'v.sock');
    const d = await daemon(['--listen', `unix://${sock}`]);
    expect(await d.stop('SIGINT')).toBe(0);
  });

  it('replaces the socket a killed daemon left behind', async () => {
    const sock = join(scratch(), 'v.sock');
    const first = await daemon(['--listen', `unix://${sock}`]);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');
    expect(existsSync(sock)).toBe(true);
    await daemon(['--listen', `unix://${sock}`]);
    expect(await client(`unix://${sock}`).health()).toBe(ServingStatus.SERVING);
  });

  it('refuses to start on a socket another daemon serves, leaving that daemon alone', async () => {
    const sock = join(scratch(), 'v.sock');
    await daemon(['--listen', `unix://${sock}`]);
    const second = await runDaemon(['--listen', `unix://${sock}`]);
    expect(second.code).toBe(1);
    expect(second.stdout).toContain(`another process is serving on ${sock}`);
    expect(await client(`unix://${sock}`).health()).toBe(ServingStatus.SERVING);
  });

  it('refuses a path that is not a socket, and a busy TCP port, and cleans up what it bound', async () => {
    const dir = scratch();
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'precious');
    const run = await runDaemon(['--listen', `unix://${file}`]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('exists and is not a socket');

    const holder = await daemon(['--listen', '127.0.0.1:0', '--listen', `unix://${join(dir, 'holder.sock')}`]);
    const port = (holder.logs.find((l) => l.msg === 'vifplugd serving')!.listen as string[])[0]!;
    const sock = join(dir, 'other.sock');
    const busy = await runDaemon(['--listen', `unix://${sock}`, '--listen', port]);
    expect(busy.code).toBe(1);
    expect(busy.stdout).toContain(`cannot listen on ${port}`);
    expect(existsSync(sock)).toBe(false);
  });
});
