import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { OpType, ProviderHealth } from '../../src/gen/vifplug/v1/vifplug';
import { runDaemon, spawnDaemon, type Daemon } from '../helpers/daemon';
import { expectStatus } from '../helpers/expect-status';
import { spawnProvider, type ProviderProcess } from '../helpers/provider-process';
import { tempDir } from '../helpers/server';

// --provider-dir, kubelet's plugin watcher: a provider socket appearing in
// the directory is registered under the type its GetInfo names, one
// disappearing is unregistered, without anyone calling Register.

let dir: ReturnType<typeof tempDir>;
let daemon: Daemon | undefined;
let client: VifplugClient | undefined;
const providers: ProviderProcess[] = [];
afterEach(async () => {
  client?.close();
  for (const p of providers.splice(0)) await p.stop();
  await daemon?.stop('SIGKILL');
  daemon = undefined;
  dir?.remove();
});

async function start(): Promise<{ c: VifplugClient; providerDir: string }> {
  dir = tempDir('vifplug-d-');
  const providerDir = join(dir.path, 'providers');
  const socket = join(dir.path, 'vifplugd.sock');
  // Run-time registration off: the directory alone decides (its permissions are the control).
  daemon = await spawnDaemon(['--listen', `unix://${socket}`, '--providers', 'none', '--provider-dir', providerDir, '--provider-probe-interval', '0.2', '--registration', 'off']);
  client = new VifplugClient(`unix://${socket}`, { maxAttempts: 1 });
  return { c: client, providerDir };
}

async function serve(providerDir: string, name: string, type = name): Promise<ProviderProcess> {
  const p = await spawnProvider({ type, socket: join(providerDir, `${name}.sock`) });
  providers.push(p);
  return p;
}

/** ListProviders as [type, health, endpoint], once it matches `want` (or the last seen on timeout). */
async function listed(c: VifplugClient, want: (rows: [string, ProviderHealth, string][]) => boolean): Promise<[string, ProviderHealth, string][]> {
  let rows: [string, ProviderHealth, string][] = [];
  for (let i = 0; i < 160; i++) {
    rows = (await c.listProviders()).providers.map((p) => [p.type, p.health, p.endpoint]);
    if (want(rows)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return rows;
}

it('registers a socket that appears under the type it serves, ignores what is not a provider socket, unregisters one that goes', async () => {
  const { c, providerDir } = await start();
  mkdirSync(join(providerDir, 'sub.sock'));
  writeFileSync(join(providerDir, 'notes.sock'), 'not a socket');
  const hidden = await serve(providerDir, '.hidden', 'hidden');
  const p = await serve(providerDir, 'vendor-a', 'vendor');
  const endpoint = `unix://${join(providerDir, 'vendor-a.sock')}`;
  expect(await listed(c, (r) => r.length > 0)).toEqual([['vendor', ProviderHealth.PROVIDER_HEALTH_SERVING, endpoint]]);
  const { instanceId } = await c.open('vendor');
  const port = await c.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1' });
  await c.finishPorts([port.ctxId], true);
  await c.closeInstance(instanceId);
  // A provider stopping cleanly removes its socket.
  await p.stop('SIGTERM');
  expect(await listed(c, (r) => r.length === 0)).toEqual([]);
  expect(hidden.lines).toEqual(['serving']);
});

it('a provider whose socket goes while its instance is open stays, down, until it is back; it is unregistered once closed and gone', async () => {
  const { c, providerDir } = await start();
  let p = await serve(providerDir, 'vendor');
  await listed(c, (r) => r.length === 1);
  const { instanceId } = await c.open('vendor');
  await p.stop('SIGTERM');
  const down = await listed(c, (r) => r[0]?.[1] === ProviderHealth.PROVIDER_HEALTH_DOWN);
  expect(down).toHaveLength(1);
  await expectStatus(c.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1' }), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
  p = await serve(providerDir, 'vendor');
  await listed(c, (r) => r[0]?.[1] === ProviderHealth.PROVIDER_HEALTH_SERVING);
  expect((await c.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp2' })).plug).toBe(true);
  await p.waitFor(`open ${instanceId}`);
  await p.stop('SIGTERM');
  await listed(c, (r) => r[0]?.[1] === ProviderHealth.PROVIDER_HEALTH_DOWN);
  await c.closeInstance(instanceId);
  expect(await listed(c, (r) => r.length === 0)).toEqual([]);
});

it('a provider killed (its socket left behind) and started again is back in its new session', async () => {
  const { c, providerDir } = await start();
  const p = await serve(providerDir, 'vendor');
  await listed(c, (r) => r.length === 1);
  const { instanceId } = await c.open('vendor');
  await p.stop('SIGKILL');
  await listed(c, (r) => r[0]?.[1] === ProviderHealth.PROVIDER_HEALTH_DOWN);
  const again = await serve(providerDir, 'vendor');
  await listed(c, (r) => r[0]?.[1] === ProviderHealth.PROVIDER_HEALTH_SERVING);
  await again.waitFor(`open ${instanceId}`);
  expect(again.lines.slice(0, 3)).toEqual(['serving', 'init', `open ${instanceId}`]);
});

it('refuses to start on a directory others can write', async () => {
  dir = tempDir('vifplug-d-');
  const providerDir = join(dir.path, 'open');
  mkdirSync(providerDir);
  chmodSync(providerDir, 0o777);
  const run = await runDaemon(['--listen', `unix://${join(dir.path, 'd.sock')}`, '--providers', 'none', '--provider-dir', providerDir]);
  expect(run.code).toBe(1);
  expect(run.stdout).toContain(`--provider-dir ${providerDir} (mode 0777) is writable by users other than its owner`);
});

it('refuses bad remote-provider flags with exit code 2 and a hint', async () => {
  for (const [flags, words] of [
    [['--registration', 'maybe'], '--registration "maybe" is not unix, any or off'],
    [['--provider-tls-cert', 'c.pem', '--provider-tls-key', 'k.pem'], '--provider-tls-cert needs --provider-tls-ca'],
    [['--provider-tls-ca', 'ca.pem', '--provider-tls-key', 'k.pem'], '--provider-tls-cert and --provider-tls-key go together'],
    [['--provider-probe-interval', 'soon'], '--provider-probe-interval "soon" is not a number of seconds'],
  ] as const) {
    const run = await runDaemon([...flags]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(words);
  }
});
