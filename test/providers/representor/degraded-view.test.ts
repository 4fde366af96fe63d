/**
 * A degraded picture of the hardware, as an operator sees it from outside a
 * real daemon: the daemon's own health stays SERVING (a probe on "" must not
 * restart it), the entry "provider/representor" turns NOT_SERVING and back,
 * ListProviders says DEGRADED with since when and why, and the metrics carry
 * the same. The host is a DPU, where a sysfs-only picture would lose the host
 * PF's MAC: the answers must stay as devlink last gave them.
 */

import { join } from 'node:path';

import { credentials, makeGenericClientConstructor, type Client, type ClientReadableStream } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Code, ServingStatus, VifplugClient, VifplugError } from '../../../src/client/client';
import { HealthService, type HealthCheckRequest, type HealthCheckResponse } from '../../../src/gen/grpc/health/v1/health';
import { OpType, ProviderHealth } from '../../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../../helpers/daemon';
import { devlinkJsonFromText } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { PROCESS_WAIT } from '../../helpers/processes';
import { DPU_HOST_PF_MAC, dpuHost } from './harness';

const ENTRY = 'provider/representor';

let host: FakeHost | undefined;
let daemon: Daemon | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await daemon?.stop('SIGKILL');
  daemon = undefined;
  host?.remove();
  host = undefined;
});

async function start(h: FakeHost): Promise<{ client: VifplugClient; metrics: string; sock: string }> {
  const sock = `unix://${join(h.dir, 'v.sock')}`;
  daemon = await spawnDaemon(['--listen', sock, '--providers', 'representor', '--sysfs-root', h.sysfsRoot, '--devlink-bin', h.devlinkBin, '--ip-bin', h.ipBin, '--resync-interval', '0', '--metrics-listen', '127.0.0.1:0']);
  const client = new VifplugClient(sock, { maxAttempts: 1 });
  closers.push(() => client.close());
  return { client, metrics: daemon.logs.find((l) => l.msg === 'serving metrics')!.metrics as string, sock };
}

/** The series of `name` for provider "representor", as "labels value" lines. */
async function series(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes('provider="representor"'))
    .map((l) => l.slice(name.length));
}

type HealthClient = Client & { watch(req: HealthCheckRequest): ClientReadableStream<HealthCheckResponse> };

/** The statuses a health Watch of `service` hears, as they come. */
function watchHealth(target: string, service: string): ServingStatus[] {
  const Health = makeGenericClientConstructor(HealthService, 'Health') as unknown as new (target: string, creds: ReturnType<typeof credentials.createInsecure>) => HealthClient;
  const client = new Health(target, credentials.createInsecure());
  const heard: ServingStatus[] = [];
  const stream = client.watch({ service });
  stream.on('data', (r: HealthCheckResponse) => heard.push(r.status));
  stream.on('error', () => undefined);
  closers.push(() => {
    stream.cancel();
    client.close();
  });
  return heard;
}

async function representorInfo(client: VifplugClient) {
  return (await client.listProviders()).providers.find((p) => p.type === 'representor')!;
}

describe('a degraded hardware view', () => {
  it('is shown by the provider health entry, ListProviders and metrics, while the daemon stays SERVING and answers as before', async () => {
    host = dpuHost().host;
    const { client, metrics, sock } = await start(host);
    const { instanceId } = await client.open('representor');
    const vf0 = { instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'vm0', lportOptions: new Map([['vif-plug:representor:pf-mac', DPU_HOST_PF_MAC], ['vif-plug:representor:vf-num', '0']]) };
    expect(await client.health(ENTRY)).toBe(ServingStatus.SERVING);
    expect(await representorInfo(client)).toMatchObject({ health: ProviderHealth.PROVIDER_HEALTH_SERVING, healthReason: '', healthMessage: '' });
    expect(await series(metrics, 'vifplug_inventory_degraded')).toEqual(['{provider="representor",cause=""} 0']);
    expect(await series(metrics, 'vifplug_inventory_stale')).toEqual(['{provider="representor"} 0']);
    expect(await series(metrics, 'vifplug_inventory_degraded_since_timestamp_seconds')).toEqual([]);
    const [lastGood] = await series(metrics, 'vifplug_inventory_last_success_timestamp_seconds');
    expect(Number(lastGood!.split(' ')[1]) * 1000).toBeGreaterThan(Date.now() - 60_000);
    const heard = watchHealth(sock, ENTRY);
    await vi.waitFor(() => expect(heard).toEqual([ServingStatus.SERVING]), PROCESS_WAIT);

    const failedAt = Date.now();
    host.setDevlinkBehaviour('fail');
    await client.run(instanceId);
    expect(await client.health('')).toBe(ServingStatus.SERVING);
    expect(await client.health('vifplug.v1.VifPlug')).toBe(ServingStatus.SERVING);
    expect(await client.health(ENTRY)).toBe(ServingStatus.NOT_SERVING);
    await vi.waitFor(() => expect(heard).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]), PROCESS_WAIT);
    const degraded = await representorInfo(client);
    expect(degraded).toMatchObject({ health: ProviderHealth.PROVIDER_HEALTH_DEGRADED, healthReason: 'HARDWARE_VIEW_STALE' });
    expect(degraded.healthMessage).toMatch(/^re-reading the hardware fails since \d{4}-\d\d-\d\dT[\d:.]+Z \(.*Invalid argument.*\); answers come from the reading of \d{4}-/);
    expect(await series(metrics, 'vifplug_inventory_degraded')).toEqual(['{provider="representor",cause="devlink failed"} 1']);
    expect(await series(metrics, 'vifplug_inventory_stale')).toEqual(['{provider="representor"} 1']);
    const [since] = await series(metrics, 'vifplug_inventory_degraded_since_timestamp_seconds');
    expect(Number(since!.split(' ')[1]) * 1000).toBeGreaterThanOrEqual(failedAt - 1_000);
    // The answer is the one devlink gave last, not a sysfs-only NOT_FOUND.
    const answer = await client.preparePort(vf0);
    expect(answer.name).toBe('pf0vf0');
    await client.destroyCtx(answer.ctxId);

    // devlink answers again: the next retry (backoff from 1 s) makes the picture whole.
    host.setDevlinkBehaviour('ok');
    await vi.waitFor(
      async () => {
        await client.run(instanceId);
        expect(await client.health(ENTRY)).toBe(ServingStatus.SERVING);
      },
      { timeout: 15_000, interval: 500 },
    );
    await vi.waitFor(() => expect(heard).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]), PROCESS_WAIT);
    expect(await representorInfo(client)).toMatchObject({ health: ProviderHealth.PROVIDER_HEALTH_SERVING, healthReason: '' });
    expect(await series(metrics, 'vifplug_inventory_degraded')).toEqual(['{provider="representor",cause=""} 0']);
    expect(await series(metrics, 'vifplug_inventory_degraded_since_timestamp_seconds')).toEqual([]);
    expect(daemon!.logs.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^representor refresh works again/));

    // The entry goes with the class, and comes back with it.
    await client.closeInstance(instanceId);
    await client.unregister('representor');
    await vi.waitFor(() => expect(heard.at(-1)).toBe(ServingStatus.SERVICE_UNKNOWN), PROCESS_WAIT);
    const gone = await client.health(ENTRY).catch((err: unknown) => err);
    expect(gone).toBeInstanceOf(VifplugError);
    expect(gone).toMatchObject({ code: Code.NOT_FOUND, reason: 'SERVICE_UNKNOWN' });
    await client.register('representor');
    expect(await client.health(ENTRY)).toBe(ServingStatus.SERVING);
  });

  it('is not degraded on a host that has no devlink at all: sysfs is its whole picture', async () => {
    host = new FakeHost();
    layOutDevlinkHost(host, devlinkJsonFromText('pci/0000:08:00.0/65535: type eth netdev enp8s0f0np0 flavour physical port 0 splittable false'));
    host.setDevlinkBehaviour('no-netlink');
    const { client, metrics } = await start(host);
    expect(await client.health(ENTRY)).toBe(ServingStatus.SERVING);
    expect(await representorInfo(client)).toMatchObject({ health: ProviderHealth.PROVIDER_HEALTH_SERVING, healthReason: '' });
    expect(await series(metrics, 'vifplug_inventory_degraded')).toEqual(['{provider="representor",cause=""} 0']);
  });
});
