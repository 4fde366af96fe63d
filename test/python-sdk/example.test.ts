import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { OpType, ProviderHealth, ProviderKind } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { expectStatus } from '../helpers/expect-status';
import { runProvider, type ProviderProcess } from '../helpers/provider-process';
import { tempDir } from '../helpers/server';

// examples/python/provider.py on the SDK as pip installs it (a wheel built
// from python/, with Debian's python3-grpcio and python3-protobuf), against a
// real vifplugd: it registers itself, plugs and declines, its PreparePorts
// travel on the PortStream vifplugd opens because it announces one (its
// --verbose log says which path each call took), it registers again by
// itself whenever vifplugd comes back, and SIGTERM stops it cleanly.

const ROOT = join(__dirname, '..', '..');
const PYTHON = '/usr/bin/python3';
const TYPE = 'onebased-py';
const OPTION = `vif-plug:${TYPE}:vf-num`;

let dir: ReturnType<typeof tempDir>;
let daemon: Daemon;
let client: VifplugClient;
let provider: ProviderProcess;
let site: string;

const vifplugdSocket = () => join(dir.path, 'vifplugd.sock');
const providerSocket = () => join(dir.path, 'onebased-py.sock');

async function startDaemon(): Promise<void> {
  daemon = await spawnDaemon(['--listen', `unix://${vifplugdSocket()}`, '--providers', 'dummy', '--provider-probe-interval', '0.2']);
  client = new VifplugClient(`unix://${vifplugdSocket()}`, { maxAttempts: 1 });
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; provider stderr:\n${provider?.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const info = async () => (await client.listProviders()).providers.find((p) => p.type === TYPE);
const serving = () => until(`${TYPE} serving`, async () => ((await info())?.health === ProviderHealth.PROVIDER_HEALTH_SERVING ? true : undefined));
const registrations = () => provider.stderr().split('\n').filter((l) => l.startsWith(`INFO registered "${TYPE}" with vifplugd at unix://`)).length;

/** A port plugged and released as a controller does it, then a decline and a refusal. */
async function plugs(lport: string): Promise<void> {
  const { instanceId } = await client.open(TYPE);
  const port = await client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: lport, lportOptions: new Map([[OPTION, '3']]) });
  expect(port).toMatchObject({ plug: true, name: 'pf0vf2', type: '', ifaceOptions: new Map() });
  await client.finishPort(port.ctxId);
  await client.destroyCtx(port.ctxId);
  const declined = await client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: `${lport}-bare` });
  expect(declined).toMatchObject({ plug: false, ctxId: '', declineReason: 'NO_VF_NUM', declineMessage: `lport ${lport}-bare has no ${OPTION} option; set it to the 1-based VF number` });
  const bad = await expectStatus(
    client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: `${lport}-bad`, lportOptions: new Map([[OPTION, '0']]) }),
    Code.INVALID_ARGUMENT,
    'INVALID_OPTION',
  );
  expect(bad.detail).toBe(`provider "${TYPE}": ${OPTION}="0" is not a VF number from 1 to 65536`);
  expect(bad.metadata.get('option')).toBe(OPTION);
  await client.closeInstance(instanceId);
}

beforeAll(async () => {
  dir = tempDir('vifplug-pyex-');
  // pip builds and installs the SDK as a user would, from a copy (a build leaves files behind).
  cpSync(join(ROOT, 'python'), join(dir.path, 'src'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  const pip = (...args: string[]) => spawnSync(PYTHON, ['-m', 'pip', ...args], { cwd: dir.path, encoding: 'utf8', env: { PATH: process.env.PATH, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
  const wheel = pip('wheel', '--no-deps', '--no-build-isolation', '--no-index', '-w', 'wheels', './src');
  expect(wheel.status, wheel.stderr).toBe(0);
  site = join(dir.path, 'site');
  const install = pip('install', '--no-deps', '--no-index', '--target', site, join(dir.path, 'wheels', readdirSync(join(dir.path, 'wheels'))[0]!));
  expect(install.status, install.stderr).toBe(0);
  await startDaemon();
  provider = await runProvider(
    PYTHON,
    [join(ROOT, 'examples', 'python', 'provider.py'), '--socket', providerSocket(), '--register', `unix://${vifplugdSocket()}`, '--verbose'],
    /^serving/,
    { PYTHONPATH: site, PYTHONDONTWRITEBYTECODE: '1' },
  );
}, 60_000);

afterAll(async () => {
  client?.close();
  await provider?.stop('SIGKILL');
  await daemon?.stop('SIGKILL');
  dir?.remove();
});

describe('examples/python', () => {
  it('runs on the SDK pip installed, with its generated code inside the package', () => {
    const where = spawnSync(PYTHON, ['-c', 'import vifplug_provider, vifplug_provider._gen.provider_pb2 as pb, grpc; print(vifplug_provider.__file__, pb.__name__, grpc.__file__)'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, PYTHONPATH: site, PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(where.status, where.stderr).toBe(0);
    const [sdk, module, grpc] = where.stdout.trim().split(' ');
    expect(sdk).toBe(join(site, 'vifplug_provider', '__init__.py'));
    expect(module).toBe('vifplug_provider._gen.provider_pb2');
    // Nothing of the SDK's shadows the grpc package.
    expect(grpc).toBe('/usr/lib/python3/dist-packages/grpc/__init__.py');
    expect(existsSync(join(site, 'vifplug_provider', 'py.typed'))).toBe(true);
  });

  it('registers itself and plugs ports, declines with a reason, refuses a bad option with its ErrorInfo', async () => {
    expect(provider.lines[0]).toBe(`serving provider "${TYPE}" at unix://${providerSocket()}`);
    await serving();
    expect(await info()).toMatchObject({ kind: ProviderKind.PROVIDER_KIND_REMOTE, endpoint: `unix://${providerSocket()}` });
    expect(registrations()).toBe(1);
    await plugs('vm1-port');
  });

  it('answers single ports on the PortStream vifplugd opens, since it announces one', async () => {
    const log = provider.stderr();
    expect(log).toMatch(/^DEBUG PortStream call \d+: PreparePort vm1-port: plug pf0vf2$/m);
    expect(log).toMatch(/^DEBUG PortStream call \d+: PreparePort vm1-port-bare: declined NO_VF_NUM$/m);
    expect(log).toMatch(/^DEBUG PortStream call \d+: PreparePort vm1-port-bad: INVALID_ARGUMENT \(INVALID_OPTION\): /m);
    // Not one went as a PreparePort call of its own.
    expect(log).not.toMatch(/^DEBUG PreparePort /m);
  });

  it('registers again by itself after vifplugd restarts, killed or stopped, and plugs again', async () => {
    for (const [round, signal] of [[2, 'SIGKILL'], [3, 'SIGTERM']] as const) {
      client.close();
      await daemon.stop(signal);
      await startDaemon();
      await until(`registration ${round}`, () => (registrations() >= round ? true : undefined));
      await serving();
      await plugs(`vm${round}-port`);
    }
    expect(registrations()).toBe(3);
    expect(provider.stderr()).toMatch(/^INFO lost vifplugd at unix:\/\/.*; registering again once it is back$/m);
  });

  it('exits 0 on SIGTERM, its socket removed, and vifplugd shows it down', async () => {
    expect(await provider.stop('SIGTERM')).toBe(0);
    expect(existsSync(providerSocket())).toBe(false);
    expect(provider.stderr()).toMatch(/^INFO stopped serving at unix:\/\/.*onebased-py\.sock$/m);
    expect(readdirSync(dir.path).filter((f) => f.startsWith('.'))).toEqual([]);
    await until(`${TYPE} down`, async () => ((await info())?.health === ProviderHealth.PROVIDER_HEALTH_DOWN ? true : undefined));
  });
});
