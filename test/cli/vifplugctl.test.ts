import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { COMMANDS } from '../../src/cli/vifplugctl';
import { PlugError } from '../../src/registry';
import { PROCESS_WAIT } from '../helpers/processes';
import { startTestServer, tempDir, type TestServer } from '../helpers/server';
import { faultyProvider, scriptedProvider, withTestProviders } from '../helpers/test-providers';
import { programFor } from '../helpers/as-user';

const CTL = join(__dirname, '..', '..', 'dist', 'cli', 'vifplugctl.js');

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({
    providers: ['dummy', 'declines', 'notready'],
    builtins: withTestProviders({
      declines: () => scriptedProvider('declines', (lport) => ({ plug: false, reason: 'NOT_MINE', message: `${lport} is not mine` })),
      notready: () => faultyProvider('notready', { prepare: new PlugError('UNAVAILABLE', 'REPRESENTOR_NOT_READY', 'the port has no netdev yet', { retryAfterMs: 100 }) }),
    }),
  });
});
afterAll(async () => t.stop());

/** Runs the compiled vifplugctl against the test daemon's socket. */
function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return ctlWith(['--socket', t.socketPath, ...args]);
}

/** Runs the compiled vifplugctl with exactly these arguments, environment (besides PATH) and user. */
function ctlWith(args: string[], options: { env?: NodeJS.ProcessEnv; uid?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const program = options.uid === undefined ? CTL : programFor(options.uid, options.uid, CTL);
    const proc = spawn(process.execPath, [program, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, ...options.env },
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('vifplugctl', () => {
  it('checks health', async () => {
    expect(await ctl('health')).toMatchObject({ code: 0, stdout: 'SERVING\n' });
    const json = await ctl('--json', 'health', 'vifplug.v1.VifPlug');
    expect(JSON.parse(json.stdout)).toEqual({ service: 'vifplug.v1.VifPlug', status: 'SERVING' });
  });

  it('lists providers as a table and as JSON', async () => {
    const human = await ctl('providers');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^TYPE\s+KIND\s+HEALTH\s+OPEN\s+INSTANCE\s+ENDPOINT\s+MAINTAINED OPTIONS\n/);
    expect(human.stdout).toMatch(/^dummy\s+builtin\s+serving\s+(yes|no)\s+\S+\s+-\s+plug-dummy-option$/m);
    const json = JSON.parse((await ctl('providers', '--json')).stdout) as { providers: { type: string }[] };
    expect(json.providers.map((p) => p.type)).toEqual(['declines', 'dummy', 'notready']);
  });

  it('runs a whole port cycle in one command and leaves no ctx behind', async () => {
    const res = await ctl('prepare', '--type', 'dummy', '--lport', 'lsp-from-ctl', '--option', 'vif-plug-type=dummy', '--finish', '--destroy');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^plug:\s+yes$/m);
    expect(res.stdout).toMatch(/^name:\s+lsp-from-ctl$/m);
    expect(res.stdout).toMatch(/^options:\s+plug-dummy-option=value$/m);
    expect(t.registry.stats().ctxs).toBe(0);
  });

  it('drives the cycle step by step with ids', async () => {
    const instance = (await ctl('open', 'dummy')).stdout.trim();
    const prepared = JSON.parse((await ctl('--json', 'prepare', '--instance', instance, '--lport', 'lsp2')).stdout) as { ctxId: string };
    expect((await ctl('finish', prepared.ctxId)).code).toBe(0);
    expect((await ctl('destroy', prepared.ctxId)).code).toBe(0);
    expect(JSON.parse((await ctl('run', '--json', instance)).stdout)).toEqual({ changed: true });
  });

  it('prepares, finishes and destroys several ports with the batch calls', async () => {
    const res = await ctl('prepare', '--type', 'dummy', '--lport', 'lsp-a', '--lport', 'lsp-b', '--finish', '--destroy');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^LPORT\s+PLUG\s+CTX\s+NAME\s+TYPE \/ WHY NOT$/m);
    expect(res.stdout).toMatch(/^lsp-a\s+yes\s+\S{24}\s+lsp-a\s+internal$/m);
    expect(t.registry.stats().ctxs).toBe(0);

    const json = JSON.parse((await ctl('--json', 'prepare', '--type', 'dummy', '--lport', 'x1', '--lport', 'x2')).stdout) as { results: { prepared: { ctxId: string } }[] };
    const ids = json.results.map((r) => r.prepared.ctxId);
    const finished = await ctl('finish', ...ids, 'no-such-ctx');
    expect(finished.code).toBe(1);
    expect(finished.stdout).toContain(`finished ${ids[0]}`);
    expect(finished.stdout).toMatch(/^no-such-ctx: NOT_FOUND: no live ctx/m);
    expect((await ctl('destroy', ...ids)).stdout).toBe(`destroyed ${ids[0]}\ndestroyed ${ids[1]}\n`);
    expect(t.registry.stats().ctxs).toBe(0);
  });

  it('exits 4 when the provider declines, with its reason', async () => {
    const res = await ctl('prepare', '--type', 'declines', '--lport', 'lsp3');
    expect(res.code).toBe(4);
    expect(res.stdout).toContain('NOT_MINE');
  });

  it('exits 1 with code and reason when the daemon answers an error', async () => {
    const res = await ctl('finish', 'no-such-ctx');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^vifplugctl: NOT_FOUND \(CTX_NOT_FOUND\): no live ctx has id "no-such-ctx"/);
    const json = await ctl('--json', 'unregister', 'nope');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'NOT_FOUND', reason: 'PROVIDER_NOT_FOUND', metadata: { type: 'nope' } } });
    expect((await ctl('representors', '--type', 'dummy')).stderr).toContain('UNIMPLEMENTED (LISTING_UNSUPPORTED)');
  });

  it('exits 2 on bad usage', async () => {
    for (const args of [[], ['frobnicate'], ['prepare', '--lport', 'x'], ['open'], ['health', 'a', 'b'], ['--timeout', 'x', 'health'], ['prepare', '--type', 'dummy', '--lport', 'x', '--option', 'novalue']]) {
      const r = await ctl(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain("Try 'vifplugctl --help'");
    }
  });

  it('has help with examples', async () => {
    const res = await ctl('--help');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Examples:');
    expect(res.stdout).toContain('Exit status:');
  });
});

describe('vifplugctl flags, per command', () => {
  it('refuses a flag of another command, naming the commands that take it as the user typed it', async () => {
    const res = await ctl('health', '--pf-mac', 'x');
    expect(res).toMatchObject({ code: 2, stdout: '' });
    expect(res.stderr).toBe("vifplugctl: health takes no --pf-mac; it is a flag of representors, lookup\nTry 'vifplugctl --help'.\n");
    expect((await ctl('--count=3', 'providers')).stderr).toContain('providers takes no --count; it is a flag of watch');
    expect((await ctl('finish', 'x', '--finish')).stderr).toContain('finish takes no --finish; it is a flag of prepare');
    expect((await ctl('--vf-num', '1')).stderr).toContain('--vf-num needs a command: it is a flag of lookup');
  });

  it.each([
    [['representors', '--pf-mac', 'zz'], '--pf-mac "zz" is not a MAC address: six hex pairs separated by colons, e.g. 10:70:fd:df:9c:3a'],
    [['lookup', '--pf-mac=10:70:fd:df:9c:3', '--vf-num', '1'], '--pf-mac "10:70:fd:df:9c:3" is not a MAC address'],
    [['lookup', '--pf-mac', '10:70:fd:df:9c:3a', '--vf-num', '01'], '--vf-num "01" is not a VF number: a whole number from 0 to 65535, without sign or leading zeros'],
    [['lookup', '--pf-mac', '10:70:fd:df:9c:3a', '--sf-num=-1'], '--sf-num "-1" is not an SF number'],
    [['lookup', '--pf-mac', '10:70:fd:df:9c:3a', '--vf-num', '1', '--sf-num', '2'], '--vf-num and --sf-num exclude each other'],
    [['representors', '--type', 'repr esentor'], '--type "repr esentor" is not a provider type: 1-64 characters of A-Z a-z 0-9 _ . -'],
    [['open', 'a/b'], '"a/b" is not a provider type'],
    [['watch', '--count', '0'], '--count "0" is not a number of events'],
    [['prepare', '--type', 'dummy', '--lport', 'x', '--op', 'delete'], '--op "delete" is not create or remove'],
    [['register', 'x', '--endpoint', 'unix:relative.sock'], '--endpoint: endpoint "unix:relative.sock" is not usable'],
    [['--timeout', 'soon', 'health'], '--timeout "soon" is not a positive number of seconds'],
    [['--socket', 'tcp://10.0.0.5:50051', 'health'], '--socket "tcp://10.0.0.5:50051" is not a unix socket path such as /run/vifplug/vifplug.sock or unix:///run/vifplug/vifplug.sock; for a TCP address use --addr HOST:PORT'],
    [['--socket', '10.0.0.5:50051', 'health'], '--socket "10.0.0.5:50051" is not a unix socket path such as /run/vifplug/vifplug.sock or unix:///run/vifplug/vifplug.sock; for a TCP address use --addr HOST:PORT'],
    [['--addr', '/run/vifplug/vifplug.sock', 'health'], '--addr "/run/vifplug/vifplug.sock" is not HOST:PORT (e.g. 10.0.0.5:50051 or [fd00::5]:50051); for a unix socket use --socket'],
  ])('refuses a malformed value: %j, exit 2, nothing sent', async (args, message) => {
    const res = args.includes('--socket') || args.includes('--addr') ? await ctlWith(args) : await ctl(...args);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(`vifplugctl: ${message}`);
  });

  it('names a variable when the value came from it', async () => {
    const res = await ctlWith(['health'], { env: { VIFPLUG_SOCKET: 'dns:///vifplugd:50051' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('VIFPLUG_SOCKET="dns:///vifplugd:50051" is not a unix socket path');
  });

  it('lists in --help, for each command, exactly the flags it takes', async () => {
    const help = (await ctl('--help')).stdout;
    const commands = help.slice(help.indexOf('Commands:\n') + 10, help.indexOf('\n\n', help.indexOf('Commands:')));
    const blocks = new Map<string, string>();
    let current = '';
    for (const line of commands.split('\n')) {
      const name = /^ {2}([a-z][a-z-]*)\b/.exec(line)?.[1];
      if (name !== undefined) current = name;
      blocks.set(current, `${blocks.get(current) ?? ''}\n${line}`);
    }
    expect([...blocks.keys()].sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [command, flags] of Object.entries(COMMANDS)) {
      const shown = new Set(blocks.get(command)!.match(/--[a-z-]+/g) ?? []);
      expect([...shown].sort(), command).toEqual(flags.map((f) => `--${f}`).sort());
    }
  });

  it('takes --socket as a path or unix:///PATH, as vifplugd takes --listen, and VIFPLUG_SOCKET alike', async () => {
    expect(await ctlWith(['--socket', `unix://${t.socketPath}`, 'health'])).toMatchObject({ code: 0, stdout: 'SERVING\n' });
    expect(await ctlWith(['health'], { env: { VIFPLUG_SOCKET: `unix://${t.socketPath}` } })).toMatchObject({ code: 0, stdout: 'SERVING\n' });
    expect(await ctl('representors', '--pf-mac', '10:70:FD:DF:9C:3A')).toMatchObject({ code: 1, stderr: expect.stringContaining('PROVIDER_NOT_FOUND') });
  });
});

describe('vifplugctl exit status, one per meaning', () => {
  it('exits 5 when the daemon answers that a provider is unavailable (not 3: the daemon answered)', async () => {
    const res = await ctl('prepare', '--type', 'notready', '--lport', 'vm1');
    expect(res.code).toBe(5);
    expect(res.stderr).toBe('vifplugctl: UNAVAILABLE (REPRESENTOR_NOT_READY): the port has no netdev yet\n');
  });

  it('exits 3 with what was tried and what to check when no socket is there', async () => {
    const dir = tempDir();
    try {
      const sock = join(dir.path, 'none.sock');
      const res = await ctlWith(['--socket', sock, 'health']);
      expect(res.code).toBe(3);
      expect(res.stderr).toBe(
        `vifplugctl: cannot reach vifplugd: no socket at ${sock}\n` +
          'vifplugctl: is vifplugd running (systemctl status vifplugd), and does it serve this socket (its --listen; here --socket PATH or VIFPLUG_SOCKET)?\n',
      );
      expect(res.stderr).not.toContain('Resolution note');
      const json = await ctlWith(['--json', '--socket', `unix://${sock}`, 'providers']);
      expect(json.code).toBe(3);
      expect(JSON.parse(json.stdout)).toEqual({
        error: {
          code: 'UNAVAILABLE',
          reason: 'DAEMON_UNREACHABLE',
          message: `cannot reach vifplugd: no socket at ${sock}`,
          metadata: { target: `unix://${sock}`, problem: 'no-socket', hint: expect.stringContaining('is vifplugd running') },
        },
      });
    } finally {
      dir.remove();
    }
  });

  it('exits 3 and says the socket is stale when nothing listens on it', async () => {
    const dir = tempDir();
    let holder: ChildProcess | undefined;
    try {
      const sock = join(dir.path, 'stale.sock');
      // A process that dies without removing its socket, as a killed daemon does.
      holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)})`], { stdio: 'ignore' });
      await vi.waitFor(() => expect(existsSync(sock)).toBe(true), PROCESS_WAIT);
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder!.once('exit', resolve));
      const res = await ctlWith(['--socket', sock, 'health']);
      expect(res.code).toBe(3);
      expect(res.stderr).toContain(`vifplugctl: cannot reach vifplugd: nothing listens on ${sock} (a socket left behind by a vifplugd that stopped?)`);
    } finally {
      holder?.kill('SIGKILL');
      dir.remove();
    }
  });

  it("exits 3 on EACCES, naming the socket's mode and group and who may use it", async () => {
    const root = process.getuid?.() === 0;
    // As root, the client runs as nobody; otherwise the socket is closed to its own owner for a moment.
    const dirMode = 0o755;
    chmodSync(join(t.socketPath, '..'), dirMode);
    if (!root) chmodSync(t.socketPath, 0o000);
    try {
      const res = await ctlWith(['--socket', t.socketPath, 'health'], root ? { uid: 65534 } : {});
      expect(res.code).toBe(3);
      if (root) {
        expect(res.stderr).toContain(`vifplugctl: cannot reach vifplugd: permission denied on ${t.socketPath} (mode 0660, owner uid 0, group `);
        expect(res.stderr).toMatch(/run as root or as a member of group \S+ \(gid 0\), which may use the socket \(this process runs as uid 65534/);
      } else {
        expect(res.stderr).toContain(`permission denied on ${t.socketPath} (mode 0000`);
      }
    } finally {
      if (!root) chmodSync(t.socketPath, 0o660);
    }
  });
});
