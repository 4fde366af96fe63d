/**
 * A hardware change reaches a Watch client by itself: a VF created while a
 * controller waits for it is announced by the daemon within a second, without
 * Run or any other call (the representor provider's monitors see it).
 */

import { afterEach, expect, it } from 'vitest';

import { VifplugClient } from '../../../src/client/client';
import { ChangeKind, OpType, type WatchResponse } from '../../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../../helpers/daemon';
import { devlinkJsonFromText } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { layOutDevlinkHost } from '../../helpers/host/layouts';

const PF_MAC = '10:70:fd:df:9c:3a';
const PF_BDF = '0000:07:00.0';

let host: FakeHost | undefined;
let daemon: Daemon | undefined;
let client: VifplugClient | undefined;
afterEach(async () => {
  client?.close();
  await daemon?.stop();
  host?.remove();
  host = daemon = client = undefined;
});

it('announces a VF that appears by itself, so that a port waiting for it plugs without polling', async () => {
  host = new FakeHost();
  const json = devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt'));
  delete json.port[`pci/${PF_BDF}/5`];
  layOutDevlinkHost(host, json, { uplinks: { enp7s0f0: { address: PF_MAC } } });
  const socket = `${host.dir}/vifplug.sock`;
  daemon = await spawnDaemon(['--listen', `unix://${socket}`, '--providers', 'representor', '--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin, '--resync-interval', '0']);
  client = new VifplugClient(`unix://${socket}`);
  const { instanceId } = await client.open('representor');
  const lportOptions = new Map([
    ['vif-plug:representor:pf-mac', PF_MAC],
    ['vif-plug:representor:vf-num', '4'],
  ]);
  const prepare = () => client!.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'vm1', lportOptions });
  await expect(prepare()).rejects.toMatchObject({ reason: 'REPRESENTOR_NOT_FOUND' });

  const events: WatchResponse[] = [];
  const stream = client.watch(['representor']);
  let notify: () => void = () => undefined;
  void (async () => {
    for await (const e of stream) {
      events.push(e);
      notify();
    }
  })().catch(() => undefined);
  const next = (pred: (e: WatchResponse) => boolean) =>
    new Promise<WatchResponse>((resolve) => {
      const check = () => {
        const found = events.find(pred);
        if (found) resolve(found);
      };
      notify = check;
      check();
    });
  await next((e) => e.kind === ChangeKind.CHANGE_KIND_RESYNC);
  await waitForMonitors(host);

  // The VF appears: sysfs and devlink change, the kernel sends a devlink event.
  json.port[`pci/${PF_BDF}/5`] = { type: 'eth', netdev: 'enp7s0f0_4', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 4, external: false, splittable: false };
  host.addNetdev({ name: 'enp7s0f0_4', parent: { pci: PF_BDF }, physPortName: 'pf0vf4', physSwitchId: 'c2cfc60003a1420c' });
  host.setDevlinkPorts(json);
  const appeared = Date.now();
  host.emitDevlinkEvent(`[port,new] pci/${PF_BDF}/5: type eth netdev enp7s0f0_4 flavour pcivf controller 0 pfnum 0 vfnum 4 external false splittable false`);

  const event = await next((e) => e.kind === ChangeKind.CHANGE_KIND_VIEW_CHANGED);
  expect(event).toMatchObject({ type: 'representor', instanceId });
  const answer = await prepare();
  // Nothing else could have told the client: no Run, no resync (--resync-interval 0), no polling. The
  // bound is loose on purpose (a loaded 2-core machine); it is ~300 ms when idle (debounce 200 ms + a re-read).
  expect(Date.now() - appeared).toBeLessThan(5000);
  expect(answer).toMatchObject({ plug: true, name: 'enp7s0f0_4' });
  await client.destroyCtx(answer.ctxId);
  stream.cancel();
});

async function waitForMonitors(h: FakeHost): Promise<void> {
  const deadline = Date.now() + 5000;
  while (h.monitorPids('devlink').length === 0) {
    if (Date.now() > deadline) throw new Error('the devlink monitor did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
}
