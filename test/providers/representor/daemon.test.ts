/**
 * The representor provider as operators run it: a real vifplugd with
 * --sysfs-root and --devlink-bin pointing at a fake host, driven by a real
 * gRPC client. Hardware changes between calls are seen after Run, without a
 * restart; bad options are refused before anything is looked up.
 */

import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../../src/client/client';
import { OpType } from '../../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../../helpers/expect-status';
import { spawnDaemon, type Daemon } from '../../helpers/daemon';
import { devlinkJsonFromText, type DevlinkJson } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { select } from './harness';

const PF_MAC = '10:70:fd:df:9c:3a';
const PF_BDF = '0000:07:00.0';

let host: FakeHost;
let daemon: Daemon;
let client: VifplugClient;
let instanceId: string;
let json: DevlinkJson;

afterEach(async () => {
  client?.close();
  await daemon?.stop('SIGTERM');
  host?.remove();
});

/** Fixture 01 (VFs 0-3 of a ConnectX-6 host) behind a real daemon. */
async function serveCx6(): Promise<void> {
  host = new FakeHost();
  json = devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt'));
  delete json.port[`pci/${PF_BDF}/5`];
  layOutDevlinkHost(host, json, { uplinks: { enp7s0f0: { address: PF_MAC } } });
  daemon = await spawnDaemon(['--listen', `unix://${host.dir}/v.sock`, '--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin, '--resync-interval', '0']);
  client = new VifplugClient(`unix://${host.dir}/v.sock`, { maxAttempts: 1 });
  instanceId = (await client.open('representor')).instanceId;
}

const lookup = (options: Record<string, string>) =>
  client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1', lportOptions: new Map(Object.entries(options)) });

function setVf(vf: number, netdev: string | undefined): void {
  const handle = `pci/${PF_BDF}/${vf + 1}`;
  if (netdev === undefined) {
    const old = json.port[handle]?.netdev;
    delete json.port[handle];
    if (old) host.removeNetdev(old);
  } else {
    json.port[handle] = { type: 'eth', netdev, flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: vf, external: false, splittable: false };
    host.addNetdev({ name: netdev, parent: { pci: PF_BDF }, physPortName: `pf0vf${vf}`, physSwitchId: 'c2cfc60003a1420c' });
  }
  host.setDevlinkPorts(json);
}

describe('a daemon on a fake ConnectX-6 host', () => {
  it('answers with the representor, and follows VFs added, removed and renamed after Run', async () => {
    await serveCx6();
    const found = await lookup(select(PF_MAC, { vf: 3 }));
    expect(found).toMatchObject({ plug: true, name: 'enp7s0f0_3', type: '' });
    await client.destroyCtx(found.ctxId);

    expect(await client.run()).toEqual({ changed: false });
    setVf(4, 'enp7s0f0_4');
    expect(await client.run()).toEqual({ changed: true });
    expect((await lookup(select(PF_MAC, { vf: 4 }))).name).toBe('enp7s0f0_4');

    setVf(2, undefined);
    expect(await client.run()).toEqual({ changed: true });
    const gone = await expectStatus(lookup(select(PF_MAC, { vf: 2 })), Code.NOT_FOUND, 'REPRESENTOR_NOT_FOUND');
    expect(gone.status?.message).toMatch(/present: 0-1,3-4$/);

    host.renameNetdev('enp7s0f0_1', 'vm42-port');
    json.port[`pci/${PF_BDF}/2`]!.netdev = 'vm42-port';
    host.setDevlinkPorts(json);
    expect(await client.run(instanceId)).toEqual({ changed: true });
    expect((await lookup(select(PF_MAC, { vf: 1 }))).name).toBe('vm42-port');

    const listed = (await client.listRepresentors()).representors.filter((r) => r.flavour === 'pcivf');
    expect(listed.map((r) => [r.netdev, r.vfnum, r.pfMac])).toEqual([
      ['enp7s0f0_0', 0, PF_MAC],
      ['vm42-port', 1, PF_MAC],
      ['enp7s0f0_3', 3, PF_MAC],
      ['enp7s0f0_4', 4, PF_MAC],
    ]);
  });

  it('refuses malformed options with INVALID_ARGUMENT naming the option, before any lookup', async () => {
    await serveCx6();
    const dumps = host.portDumps();
    const cases: [Record<string, string>, string][] = [
      [{}, 'vif-plug:representor:pf-mac'],
      [select('10:70:fd:df:9c'), 'vif-plug:representor:pf-mac'],
      [select('10-70-fd-df-9c-3a'), 'vif-plug:representor:pf-mac'],
      [select('../../../etc/passwd'), 'vif-plug:representor:pf-mac'],
      ...['3abc', '-1', '70000', '0x1', ' 1', '$(reboot)', '; rm -rf /'].map(
        (vf) => [select(PF_MAC, { vf }), 'vif-plug:representor:vf-num'] as [Record<string, string>, string],
      ),
      [select(PF_MAC, { vf: 1, sf: 1 }), 'vif-plug:representor:sf-num'],
    ];
    for (const [options, option] of cases) {
      const e = await expectStatus(lookup(options), Code.INVALID_ARGUMENT, 'INVALID_OPTION');
      expect(e.metadata.get('option'), JSON.stringify(options)).toBe(option);
      expect(e.status?.message).toContain(option);
    }
    expect(host.portDumps()).toBe(dumps);
  });

  it('says FAILED_PRECONDITION naming both when two representors match', async () => {
    await serveCx6();
    json.port[`pci/${PF_BDF}/9`] = { ...json.port[`pci/${PF_BDF}/1`]!, netdev: 'twin0' };
    host.addNetdev({ name: 'twin0', parent: { pci: PF_BDF }, physPortName: 'pf0vf0', physSwitchId: 'c2cfc60003a1420c' });
    host.setDevlinkPorts(json);
    await client.run();
    const e = await expectStatus(lookup(select(PF_MAC, { vf: 0 })), Code.FAILED_PRECONDITION, 'REPRESENTOR_AMBIGUOUS');
    expect(e.status?.message).toContain('enp7s0f0_0');
    expect(e.status?.message).toContain('twin0');
  });

  it('follows a sub-function through its life cycle (fixture 14) without a restart', async () => {
    await serveCx6();
    const sf = { type: 'notset', flavour: 'pcisf', controller: 0, pfnum: 0, sfnum: 107, splittable: false, function: { hw_addr: '00:00:00:00:00:00', state: 'inactive', opstate: 'detached' } };
    const handle = `pci/${PF_BDF}/32768`;
    json.port[handle] = sf;
    host.setDevlinkPorts(json);
    await client.run();
    const notReady = await expectStatus(lookup(select(PF_MAC, { sf: 107 })), Code.UNAVAILABLE, 'REPRESENTOR_NOT_READY');
    expect(notReady.status?.retryInfo?.retryDelay).toBeDefined();

    json.port[handle] = { ...sf, type: 'eth', netdev: 'en7pf0sf107' };
    host.addNetdev({ name: 'en7pf0sf107', parent: { pci: PF_BDF }, physPortName: 'pf0sf107', physSwitchId: 'c2cfc60003a1420c' });
    host.setDevlinkPorts(json);
    expect(await client.run()).toEqual({ changed: true });
    expect((await lookup(select(PF_MAC, { sf: 107 }))).name).toBe('en7pf0sf107');

    delete json.port[handle];
    host.removeNetdev('en7pf0sf107');
    host.setDevlinkPorts(json);
    expect(await client.run()).toEqual({ changed: true });
    await expectStatus(lookup(select(PF_MAC, { sf: 107 })), Code.NOT_FOUND, 'REPRESENTOR_NOT_FOUND');
  });
});
