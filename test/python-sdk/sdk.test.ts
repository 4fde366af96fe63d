import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { OpType, ProviderHealth } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { expectStatus } from '../helpers/expect-status';
import { runProvider, type ProviderProcess } from '../helpers/provider-process';
import { tempDir } from '../helpers/server';

// The Python SDK (python/vifplug_provider): its own unit tests, which serve
// providers on real sockets and call them with real gRPC clients, run with
// Debian's python3; its generated code checked against proto/; and a
// provider built with it, driven through a real vifplugd as controllers
// drive it.

const ROOT = join(__dirname, '..', '..');
const PYTHON = '/usr/bin/python3';
const SCRIPTED = join(__dirname, 'scripted_provider.py');

describe('python/vifplug_provider', () => {
  it('passes its own unit tests (python3 -m unittest)', () => {
    const run = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
      cwd: join(ROOT, 'python'),
      encoding: 'utf8',
      env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^Ran \d+ tests in .*\n\nOK\n$/m);
    expect(Number(/^Ran (\d+) tests/m.exec(run.stderr)?.[1])).toBeGreaterThanOrEqual(40);
  }, 150_000);

  it('holds the code protoc 3.21 and grpc_python_plugin make from proto/, importing nothing outside its package', () => {
    const check = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-python.mjs'), '--check'], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
  });
});

describe('a provider on the Python SDK, through vifplugd', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let daemon: Daemon | undefined;
  const providers: ProviderProcess[] = [];
  const clients: VifplugClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const p of providers.splice(0)) await p.stop('SIGKILL');
    await daemon?.stop('SIGKILL');
    daemon = undefined;
    dir?.remove();
    dir = undefined;
  });

  const socket = (name: string) => join(dir!.path, `${name}.sock`);

  async function start(flags: string[] = []): Promise<VifplugClient> {
    dir ??= tempDir('vifplug-pysdk-');
    daemon = await spawnDaemon(['--listen', `unix://${socket('vifplugd')}`, '--providers', 'dummy', '--provider-probe-interval', '0.2', ...flags]);
    const client = new VifplugClient(`unix://${socket('vifplugd')}`, { maxAttempts: 1 });
    clients.push(client);
    return client;
  }

  async function scripted(type: string, cfg: Record<string, unknown> = {}): Promise<ProviderProcess> {
    const p = await runProvider(PYTHON, [SCRIPTED, JSON.stringify({ type, socket: socket(type), register: `unix://${socket('vifplugd')}`, ...cfg })], /^serving$/, {
      PYTHONPATH: join(ROOT, 'python'),
      PYTHONDONTWRITEBYTECODE: '1',
    });
    providers.push(p);
    return p;
  }

  async function serving(client: VifplugClient, type: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const info = (await client.listProviders()).providers.find((p) => p.type === type);
      if (info?.health === ProviderHealth.PROVIDER_HEALTH_SERVING) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${type} never served`);
  }

  async function until(what: string, check: () => boolean): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  const create = (instanceId: string, lportName: string) => ({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });

  it('registers itself and runs whole ctx cycles: Init and Open, its handle back in FinishPort and DestroyPortCtx, Close and Destroy', async () => {
    const client = await start();
    const p = await scripted('pyscripted');
    await p.waitFor('registered');
    await serving(client, 'pyscripted');
    const info = (await client.listProviders()).providers.find((x) => x.type === 'pyscripted')!;
    expect([info.maintainedIfaceOptions, info.endpoint]).toEqual([['scripted-option'], `unix://${socket('pyscripted')}`]);
    const { instanceId } = await client.open('pyscripted');
    const port = await client.preparePort(create(instanceId, 'lsp1'));
    expect(port).toMatchObject({ plug: true, name: 'lsp1', type: 'internal', ifaceOptions: new Map([['scripted-option', 'on']]) });
    await client.finishPort(port.ctxId);
    await client.destroyCtx(port.ctxId);
    const removed = await client.preparePort({ instanceId, opType: OpType.OP_TYPE_REMOVE, lportName: 'lsp1', ifaceName: 'lsp1' });
    await client.finishPort(removed.ctxId);
    await client.closeInstance(instanceId);
    await client.unregister('pyscripted');
    await p.waitFor('destroy');
    expect(p.lines.filter((l) => !['serving', 'registered'].includes(l))).toEqual([
      'init',
      `open ${instanceId}`,
      'prepare lsp1',
      'finish lsp1 h:lsp1',
      'destroyCtx lsp1 h:lsp1',
      'prepare lsp1',
      'finish lsp1 rm:lsp1',
      `close ${instanceId}`,
      'destroy',
    ]);
  });

  it("gets the controller's deadline on its PortStream call, and sees the call given up when it passes", async () => {
    const client = await start();
    const p = await scripted('pyslow', { slow_seconds: 20 });
    await p.waitFor('registered');
    await serving(client, 'pyslow');
    const { instanceId } = await client.open('pyslow');
    const started = Date.now();
    const late = await client.preparePort(create(instanceId, 'slow-1'), { deadlineMs: 400 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    // vifplugd's PROVIDER_TIMEOUT, or the controller's own deadline passing first.
    expect(late).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    await p.waitFor('cancelled slow-1');
    expect(Date.now() - started).toBeLessThan(10_000);
    // The stream goes on: the next call is answered on it.
    expect((await client.preparePort(create(instanceId, 'fast'))).plug).toBe(true);
  });

  it("passes a PlugError's code, reason and message on to the controller; a callback's bug is the provider's error", async () => {
    const client = await start();
    const p = await scripted('pyfail');
    await p.waitFor('registered');
    await serving(client, 'pyfail');
    const { instanceId } = await client.open('pyfail');
    const full = await expectStatus(client.preparePort(create(instanceId, 'plug-error-1')), Code.RESOURCE_EXHAUSTED, 'NO_FREE_VF');
    expect(full.detail).toBe('provider "pyfail": every VF of pf0 is taken; free one');
    const bug = await expectStatus(client.preparePort(create(instanceId, 'bug-1')), Code.INTERNAL, 'PROVIDER_ERROR');
    expect(bug.detail).toContain('ZeroDivisionError');
    // Neither failure takes the provider down.
    expect((await client.preparePort(create(instanceId, 'fine'))).plug).toBe(true);
  });

  it('told that registration is refused, says why and keeps trying while it serves', async () => {
    await start(['--registration', 'off']);
    const p = await scripted('pyrefused');
    const line = await p.waitFor(/^register-error /);
    expect(line).toBe('register-error PERMISSION_DENIED REGISTRATION_NOT_ALLOWED');
    await until('three attempts', () => p.lines.filter((l) => l.startsWith('register-error ')).length >= 3);
    expect(p.lines).not.toContain('registered');
  });
});
