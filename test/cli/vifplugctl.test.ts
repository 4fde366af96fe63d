import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, tempDir, type TestServer } from '../helpers/server';
import { scriptedProvider, withTestProviders } from '../helpers/test-providers';

const CTL = join(__dirname, '..', '..', 'dist', 'cli', 'vifplugctl.js');

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({
    providers: ['dummy', 'declines'],
    builtins: withTestProviders({ declines: () => scriptedProvider('declines', (lport) => ({ plug: false, reason: 'NOT_MINE', message: `${lport} is not mine` })) }),
  });
});
afterAll(async () => t.stop());

/** Runs the compiled vifplugctl against the test daemon's socket. */
function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CTL, '--socket', t.socketPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    expect(json.providers.map((p) => p.type)).toEqual(['declines', 'dummy']);
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

  it('exits 3 when the daemon cannot be reached, and 2 on bad usage', async () => {
    const dir = tempDir();
    const res = await new Promise<number>((resolve) => {
      spawn(process.execPath, [CTL, '--socket', join(dir.path, 'none.sock'), '--timeout', '1', 'health']).on('exit', (c) => resolve(c ?? -1));
    });
    dir.remove();
    expect(res).toBe(3);
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
