import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { OpType, ProviderHealth, ProviderKind } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { expectStatus } from '../helpers/expect-status';
import { runProvider, type ProviderProcess } from '../helpers/provider-process';
import { tempDir } from '../helpers/server';

// The two example providers under examples/, each run as its own process on
// its own socket, plugging ports that a controller asks vifplugd for: the
// TypeScript one registers itself, the Python one is found in --provider-dir
// (test/python-sdk/example.test.ts runs it registering itself).

const ROOT = join(__dirname, '..', '..');
const PYTHON = '/usr/bin/python3';

let dir: ReturnType<typeof tempDir>;
let daemon: Daemon;
let client: VifplugClient;
const providers: ProviderProcess[] = [];

beforeAll(async () => {
  dir = tempDir('vifplug-ex-');
  mkdirSync(join(dir.path, 'providers'));
  daemon = await spawnDaemon([
    '--listen', `unix://${join(dir.path, 'vifplugd.sock')}`,
    '--providers', 'dummy',
    '--provider-dir', join(dir.path, 'providers'),
    '--provider-probe-interval', '0.2',
  ]);
  client = new VifplugClient(`unix://${join(dir.path, 'vifplugd.sock')}`, { maxAttempts: 1 });
});

afterAll(async () => {
  client.close();
  for (const p of providers) await p.stop('SIGTERM');
  await daemon.stop();
  dir.remove();
});

async function serving(type: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const info = (await client.listProviders()).providers.find((p) => p.type === type);
    if (info?.health === ProviderHealth.PROVIDER_HEALTH_SERVING) {
      expect(info.kind).toBe(ProviderKind.PROVIDER_KIND_REMOTE);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${type} never served: ${JSON.stringify(daemon.logs.slice(-5))}`);
}

/** What a controller does with a one-based provider of `type`, and what it must get. */
async function portCycle(type: string): Promise<void> {
  const option = `vif-plug:${type}:vf-num`;
  const { instanceId } = await client.open(type);
  const port = (lportName: string, options: Record<string, string>) =>
    client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName, lportOptions: new Map(Object.entries(options)) });

  const plugged = await port('lsp1', { 'vif-plug-type': type, [option]: '3' });
  expect(plugged).toMatchObject({ plug: true, name: 'pf0vf2', type: '', ifaceOptions: new Map() });
  await client.finishPort(plugged.ctxId);
  await client.destroyCtx(plugged.ctxId);

  expect(await port('lsp2', {})).toMatchObject({ plug: false, ctxId: '', declineReason: 'NO_VF_NUM' });
  const bad = await expectStatus(port('lsp3', { [option]: '0' }), Code.INVALID_ARGUMENT, 'INVALID_OPTION');
  expect(bad.detail).toBe(`provider "${type}": ${option}="0" is not a VF number from 1 to 65536`);

  const removed = await client.preparePort({ instanceId, opType: OpType.OP_TYPE_REMOVE, lportName: 'lsp1', ifaceName: 'pf0vf2' });
  expect(removed.plug).toBe(true);
  await client.finishPort(removed.ctxId);
  await client.closeInstance(instanceId);
}

describe('examples/typescript', () => {
  it('registers itself with vifplugd and plugs ports', async () => {
    providers.push(
      await runProvider(
        process.execPath,
        [join(ROOT, 'examples', 'typescript', 'dist', 'provider.js'), '--socket', join(dir.path, 'ts.sock'), '--register', `unix://${join(dir.path, 'vifplugd.sock')}`],
        /^serving/,
      ),
    );
    await serving('onebased');
    await portCycle('onebased');
  });
});

describe('vifplugctl', () => {
  it('registers a provider by its endpoint, lists it with kind, health and endpoint, and unregisters it', async () => {
    const socket = join(dir.path, 'ctl.sock');
    providers.push(await runProvider(process.execPath, [join(ROOT, 'examples', 'typescript', 'dist', 'provider.js'), '--socket', socket, '--type', 'viactl'], /^serving/));
    const ctl = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'dist', 'cli', 'vifplugctl.js'), '--socket', join(dir.path, 'vifplugd.sock'), ...args], { encoding: 'utf8' });
    const registered = ctl('register', 'viactl', '--endpoint', `unix://${socket}`);
    expect(registered.stdout).toBe(`registered viactl (remote at unix://${socket})\n`);
    expect(ctl('providers').stdout).toMatch(new RegExp(`^viactl\\s+remote\\s+serving\\s+no\\s+-\\s+unix://${socket}\\s+-$`, 'm'));
    const refused = ctl('register', 'viactl', '--endpoint', 'unix://relative.sock');
    // Refused before it is sent, by the API's own endpoint rule (the daemon would answer INVALID_ENDPOINT).
    expect([refused.status, refused.stderr]).toEqual([2, expect.stringContaining('--endpoint: endpoint "unix://relative.sock" is not usable')]);
    expect(ctl('unregister', 'viactl').status).toBe(0);
  });
});

describe('examples/python', () => {
  it('on the SDK from python/ (Debian\'s python3-grpcio), is found in --provider-dir and plugs ports', async () => {
    providers.push(
      await runProvider(PYTHON, [join(ROOT, 'examples', 'python', 'provider.py'), '--socket', join(dir.path, 'providers', 'onebased-py.sock')], /^serving/, {
        PYTHONPATH: join(ROOT, 'python'),
        PYTHONDONTWRITEBYTECODE: '1',
      }),
    );
    await serving('onebased-py');
    await portCycle('onebased-py');
  });
});
