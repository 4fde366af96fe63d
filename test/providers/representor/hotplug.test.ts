/**
 * Hardware changing between calls: VFs added and removed, netdevs renamed,
 * PFs removed, sub-functions going through their life cycle (fixture 14),
 * and kernel names that udev is about to replace (fixture 16). No restart:
 * changes are seen after run(), or through the re-read a lookup miss makes.
 */

import { afterEach, describe, expect, it } from 'vitest';

import { devlinkJsonFromText, parseDevlinkText, type DevlinkJson } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { select, startProvider, type Harness } from './harness';

const PF_MAC = '10:70:fd:df:9c:3a';
const PF_BDF = '0000:07:00.0';

let host: FakeHost | undefined;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  host?.remove();
  harness = undefined;
  host = undefined;
});

/** Fixture 01 (extended) with VFs 0-3 only. */
async function cx6Host(options: Parameters<typeof startProvider>[1] = {}): Promise<{ h: Harness; json: DevlinkJson }> {
  host = new FakeHost();
  const json = devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt'));
  delete json.port[`pci/${PF_BDF}/5`];
  layOutDevlinkHost(host, json, { uplinks: { enp7s0f0: { address: PF_MAC } } });
  harness = await startProvider(host, options);
  return { h: harness, json };
}

function addVf(h: Harness, json: DevlinkJson, vf: number, netdev = `enp7s0f0_${vf}`): void {
  json.port[`pci/${PF_BDF}/${vf + 1}`] = {
    type: 'eth',
    netdev,
    flavour: 'pcivf',
    controller: 0,
    pfnum: 0,
    vfnum: vf,
    external: false,
    splittable: false,
  };
  h.host.addNetdev({ name: netdev, parent: { pci: PF_BDF }, physPortName: `pf0vf${vf}`, physSwitchId: 'c2cfc60003a1420c' });
  h.host.setDevlinkPorts(json);
}

describe('VFs added, removed and renamed', () => {
  it('sees a new VF after run(), which reports the change once', async () => {
    const { h, json } = await cx6Host();
    expect(await h.run()).toBe(false);
    addVf(h, json, 4);
    expect(await h.run()).toBe(true);
    expect(await h.run()).toBe(false);
    expect(await h.netdevFor(select(PF_MAC, { vf: 4 }))).toBe('enp7s0f0_4');
  });

  it('finds a VF created since the last read through the re-read a miss makes', async () => {
    const { h, json } = await cx6Host();
    const dumps = h.host.portDumps();
    addVf(h, json, 4);
    expect(await h.netdevFor(select(PF_MAC, { vf: 4 }))).toBe('enp7s0f0_4');
    expect(h.host.portDumps()).toBe(dumps + 1);
  });

  it('re-reads on misses at most once a second, concurrent misses sharing one read', async () => {
    const { h } = await cx6Host();
    const dumps = h.host.portDumps();
    const errors = await Promise.all([7, 8, 9, 7, 8].map((vf) => h.errorFor(select(PF_MAC, { vf }))));
    expect(errors.map((e) => e.reason)).toEqual(Array(5).fill('REPRESENTOR_NOT_FOUND'));
    expect(h.host.portDumps()).toBe(dumps + 1);
    h.clock.advance(500);
    await h.errorFor(select(PF_MAC, { vf: 7 }));
    expect(h.host.portDumps()).toBe(dumps + 1);
    h.clock.advance(600);
    await h.errorFor(select(PF_MAC, { vf: 7 }));
    expect(h.host.portDumps()).toBe(dumps + 2);
  });

  it('drops a removed VF', async () => {
    const { h, json } = await cx6Host();
    delete json.port[`pci/${PF_BDF}/3`];
    h.host.removeNetdev('enp7s0f0_2');
    h.host.setDevlinkPorts(json);
    expect(await h.run()).toBe(true);
    const error = await h.errorFor(select(PF_MAC, { vf: 2 }));
    expect(error.message).toMatch(/present: 0-1,3$/);
  });

  it('follows a representor renamed by a CNI or udev', async () => {
    const { h, json } = await cx6Host();
    json.port[`pci/${PF_BDF}/2`]!.netdev = 'vm-7f3a-1';
    h.host.renameNetdev('enp7s0f0_1', 'vm-7f3a-1');
    h.host.setDevlinkPorts(json);
    expect(await h.run()).toBe(true);
    expect(await h.netdevFor(select(PF_MAC, { vf: 1 }))).toBe('vm-7f3a-1');
    expect((await h.list()).some((r) => r.netdev === 'enp7s0f0_1')).toBe(false);
  });

  it('drops the VFs of a removed PF, and takes them back when it returns', async () => {
    const { h, json } = await cx6Host();
    const without: DevlinkJson = { port: {} };
    h.host.setDevlinkPorts(without);
    h.host.removeNetdev('enp7s0f0');
    expect(await h.run()).toBe(true);
    expect((await h.errorFor(select(PF_MAC, { vf: 1 }))).message).toContain(`no PF has MAC ${PF_MAC}`);
    // The VFs' devlink ports come back before the PF's uplink netdev: kept, then selectable.
    h.host.setDevlinkPorts(json);
    expect(await h.run()).toBe(true);
    expect((await h.list()).filter((r) => r.flavour === 'pcivf').every((r) => r.lportOptions.size === 0)).toBe(true);
    h.host.addNetdev({ name: 'enp7s0f0', parent: { pci: PF_BDF }, address: PF_MAC, physPortName: 'p0' });
    expect(await h.run()).toBe(true);
    expect(await h.netdevFor(select(PF_MAC, { vf: 1 }))).toBe('enp7s0f0_1');
  });

  it('gives the same index whatever order devlink lists ports in (a VF before its PF)', async () => {
    const { h, json } = await cx6Host();
    const before = await h.list();
    const reversed: DevlinkJson = { port: Object.fromEntries(Object.entries(json.port).reverse()) };
    h.host.setDevlinkPorts(reversed);
    expect(await h.run()).toBe(false);
    expect(await h.list()).toEqual(before);
  });
});

describe('fixture 14: SF life cycle seen by devlink monitor', () => {
  it('answers NOT_READY, RENAME_PENDING, found, NOT_READY, NOT_FOUND along the way', async () => {
    const events = parseDevlinkText(readFixture('14-devlink-monitor-port-sf-lifecycle.txt'));
    expect(events.map((e) => e.event)).toEqual(['new', 'new', 'new', 'new', 'new', 'new', 'del']);
    host = new FakeHost();
    // The uplink of pci/0000:08:00.0 is not in the fixture; it is what selects the local SF.
    const uplink = { 'pci/0000:08:00.0/65535': { type: 'eth', netdev: 'enp8s0f0np0', flavour: 'physical', port: 0, splittable: false } };
    layOutDevlinkHost(host, { port: uplink }, { uplinks: { enp8s0f0np0: { address: '0c:42:a1:08:00:00' } } });
    const apply = (i: number): void => {
      const event = events[i]!;
      host!.setDevlinkPorts({ port: event.event === 'del' ? uplink : { ...uplink, [event.handle]: event.attrs } });
    };
    apply(0);
    harness = await startProvider(host, { settleMs: 3000 });
    const sf = select('0c:42:a1:08:00:00', { sf: 107 });
    const answers: string[] = [];
    const answer = async (): Promise<void> => {
      try {
        answers.push(`found ${await harness!.prepare(sf).then((r) => (r.plug ? r.out?.name : 'declined'))}`);
      } catch (err) {
        answers.push((err as { reason: string }).reason);
      }
    };
    await answer();
    for (let i = 1; i < events.length; i++) {
      apply(i);
      const netdev = events[i]!.attrs.netdev;
      if (netdev !== undefined && i === 2) host.addNetdev({ name: netdev, parent: { pci: '0000:08:00.0' }, physPortName: 'pf0sf107' });
      if (i === 4) host.removeNetdev('eth3');
      await harness.run();
      if (i === 3) {
        // The same eth3 a second time, after udev had its chance: plugged under that name.
        harness.clock.advance(3000);
      }
      await answer();
    }
    expect(answers).toEqual([
      'REPRESENTOR_NOT_READY',
      'REPRESENTOR_NOT_READY',
      'REPRESENTOR_RENAME_PENDING',
      'found eth3',
      'REPRESENTOR_NOT_READY',
      'REPRESENTOR_NOT_READY',
      'REPRESENTOR_NOT_FOUND',
    ]);
  });

  it('suggests when to retry', async () => {
    host = new FakeHost();
    const json: DevlinkJson = {
      port: {
        'pci/0000:08:00.0/65535': { type: 'eth', netdev: 'enp8s0f0np0', flavour: 'physical', port: 0 },
        'pci/0000:08:00.0/32768': { type: 'notset', flavour: 'pcisf', controller: 0, pfnum: 0, sfnum: 107, splittable: false },
      },
    };
    layOutDevlinkHost(host, json, { uplinks: { enp8s0f0np0: { address: '0c:42:a1:08:00:00' } } });
    harness = await startProvider(host);
    const error = await harness.errorFor(select('0c:42:a1:08:00:00', { sf: 107 }));
    expect([error.status, error.reason]).toEqual(['UNAVAILABLE', 'REPRESENTOR_NOT_READY']);
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.message).toContain('pci/0000:08:00.0/32768');
    expect(error.message).toContain('no netdev yet');
    const rep = (await harness.list()).find((r) => r.sfnum === 107);
    expect(rep?.netdev).toBe('');
    expect(Object.fromEntries(rep!.lportOptions)).toEqual(select('0c:42:a1:08:00:00', { sf: 107 }));
  });
});

describe('fixture 16: a local SF appears as eth6, udev renames it', () => {
  const UPLINK_MAC = '98:03:9b:06:00:00';
  const fixtureJson = (): DevlinkJson => devlinkJsonFromText(readFixture('16-mlx5-local-sf-add-and-udev-name.txt'));

  async function start(): Promise<{ h: Harness; uplinkOnly: DevlinkJson; full: DevlinkJson }> {
    host = new FakeHost();
    const full = fixtureJson();
    const uplinkOnly: DevlinkJson = { port: { 'pci/0000:06:00.0/65535': full.port['pci/0000:06:00.0/65535']! } };
    layOutDevlinkHost(host, uplinkOnly, { uplinks: { ens2f0np0: { address: UPLINK_MAC } } });
    harness = await startProvider(host, { settleMs: 3000 });
    host.addNetdev({ name: 'eth6', parent: { pci: '0000:06:00.0' }, physPortName: 'pf0sf88' });
    host.setDevlinkPorts(full);
    return { h: harness, uplinkOnly, full };
  }

  it('refuses eth6 while a rename is likely, then answers with the udev name', async () => {
    const { h, full } = await start();
    expect(await h.run()).toBe(true);
    const pending = await h.errorFor(select(UPLINK_MAC, { sf: 88 }));
    expect([pending.status, pending.reason]).toEqual(['UNAVAILABLE', 'REPRESENTOR_RENAME_PENDING']);
    expect(pending.retryAfterMs).toBe(3000);
    expect(pending.message).toContain('eth6');
    h.clock.advance(1000);
    expect((await h.errorFor(select(UPLINK_MAC, { sf: 88 }))).retryAfterMs).toBe(2000);
    // udev's default policy prefers the slot name; the path name (enp6s0f0npf0sf88) is 16 bytes,
    // over IFNAMSIZ, and could not be applied at all.
    const udevName = /ID_NET_NAME_SLOT=(\S+)/.exec(readFixture('16-mlx5-local-sf-add-and-udev-name.txt'))![1]!;
    expect(udevName).toBe('ens2f0npf0sf88');
    h.host.renameNetdev('eth6', udevName);
    full.port['pci/0000:06:00.0/32768']!.netdev = udevName;
    h.host.setDevlinkPorts(full);
    expect(await h.run()).toBe(true);
    expect(await h.netdevFor(select(UPLINK_MAC, { sf: 88 }))).toBe('ens2f0npf0sf88');
  });

  it('accepts eth6 after the settle window when no rename comes (ovn-vif would refuse it forever)', async () => {
    // As with fixture 16's ID_NET_NAME_PATH, which is too long to be applied: the kernel name stays.
    const { h } = await start();
    expect(await h.run()).toBe(true);
    await h.errorFor(select(UPLINK_MAC, { sf: 88 }));
    h.clock.advance(2999);
    expect(await h.run()).toBe(false);
    expect((await h.errorFor(select(UPLINK_MAC, { sf: 88 }))).reason).toBe('REPRESENTOR_RENAME_PENDING');
    h.clock.advance(1);
    // The port became pluggable: a controller calling run() learns that something changed.
    expect(await h.run()).toBe(true);
    expect(await h.netdevFor(select(UPLINK_MAC, { sf: 88 }))).toBe('eth6');
  });

  it('trusts eth<N> names present at start-up', async () => {
    host = new FakeHost();
    layOutDevlinkHost(host, fixtureJson(), { uplinks: { ens2f0np0: { address: UPLINK_MAC } } });
    harness = await startProvider(host);
    expect(await harness.netdevFor(select(UPLINK_MAC, { sf: 88 }))).toBe('eth6');
  });
});
