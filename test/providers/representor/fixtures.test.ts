/**
 * One or more lookups per fixture that shows representors: the fake host is
 * laid out from the real devlink output (converted to the JSON that
 * `devlink -j port show` prints, served by the stand-in executable), and the
 * provider must answer with the netdev the hardware shows.
 */

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { devlinkJsonFromText, type DevlinkJson } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { EOPNOTSUPP } from '../../helpers/host/sysfs-tree';
import { macIn, select, startDaemon, startProvider, type LookupHarness } from './harness';

// Every lookup runs twice: against the provider in this process, and through a
// real vifplugd (--sysfs-root, --devlink-bin) with a real gRPC client.
const MODE = ['provider', 'daemon'] as const;

let host: FakeHost | undefined;
let harness: LookupHarness | undefined;
let mode: (typeof MODE)[number] = 'provider';

function start(h: FakeHost, options: { hostFs?: boolean } = {}): Promise<LookupHarness> {
  return mode === 'daemon' ? startDaemon(h) : startProvider(h, options);
}

afterEach(async () => {
  await harness?.close();
  host?.remove();
  harness = undefined;
  host = undefined;
});

async function hostFrom(json: DevlinkJson, layout: Parameters<typeof layOutDevlinkHost>[2]): Promise<LookupHarness> {
  host = new FakeHost();
  layOutDevlinkHost(host, json, layout);
  harness = await start(host);
  return harness;
}

describe.each(MODE)('through the %s', (m) => {
  beforeAll(() => {
    mode = m;
  });

  describe('fixture 01: ConnectX-6 host switchdev (OVN issue #169)', () => {
    const PF_MAC = '10:70:fd:df:9c:3a';

    it('answers pf-mac 10:70:fd:df:9c:3a vf-num 4 with enp7s0f0_4 (listing extended to VFs 0-4)', async () => {
      const h = await hostFrom(devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt')), {
        uplinks: { enp7s0f0: { address: PF_MAC } },
      });
      expect(await h.netdevFor(select(PF_MAC, { vf: 4 }))).toBe('enp7s0f0_4');
      expect(await h.netdevFor(select(PF_MAC.toUpperCase(), { vf: 0 }))).toBe('enp7s0f0_0');
    });

    it('explains the miss with what exists when only VFs 0-3 exist', async () => {
      const json = devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt'));
      delete json.port['pci/0000:07:00.0/5'];
      const h = await hostFrom(json, { uplinks: { enp7s0f0: { address: PF_MAC } } });
      const error = await h.errorFor(select(PF_MAC, { vf: 4 }));
      expect([error.status, error.reason]).toEqual(['NOT_FOUND', 'REPRESENTOR_NOT_FOUND']);
      expect(error.message).toContain('vfnum 4 under pci/0000:07:00.0');
      expect(error.message).toContain('PF enp7s0f0');
      expect(error.message).toContain(PF_MAC);
      expect(error.message).toMatch(/present: 0-3$/);
      expect(error.metadata).toMatchObject({ pf_mac: PF_MAC, vf_num: '4', device: 'pci/0000:07:00.0' });
    });

    it('finds VF 0 from the verbatim (truncated) listing', async () => {
      const h = await hostFrom(devlinkJsonFromText(readFixture('01-mlx5-cx6-host-switchdev-devlink-port.txt')), {
        uplinks: { enp7s0f0: { address: PF_MAC } },
      });
      expect(await h.netdevFor(select(PF_MAC, { vf: 0 }))).toBe('enp7s0f0_0');
    });

    it('answers a PF representor request on a host with NOT_FOUND naming the uplink (no pcipf port on a plain mlx5 host)', async () => {
      const h = await hostFrom(devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt')), {
        uplinks: { enp7s0f0: { address: PF_MAC } },
      });
      const error = await h.errorFor(select(PF_MAC));
      expect([error.status, error.reason]).toEqual(['NOT_FOUND', 'REPRESENTOR_NOT_FOUND']);
      expect(error.message).toContain('no separate PF representor');
      expect(error.message).toContain('enp7s0f0');
    });
  });

  describe('fixtures 02 + 03: Intel ice E810', () => {
    it('maps PF enp8s0f0np0 (MAC from ip link) and VF N to enp8s0f0npf0vfN, whatever the port index order', async () => {
      const pfMac = macIn(readFixture('03-ice-e810-ip-link-show-pf-vfs.txt'), /link\/ether ([0-9a-f:]{17})/);
      expect(pfMac).toBe('40:a6:b7:18:dd:68');
      const h = await hostFrom(devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt')), {
        uplinks: { enp8s0f0np0: { address: pfMac }, enp8s0f1np1: { address: '40:a6:b7:18:dd:69' } },
      });
      for (const vf of [0, 1, 2, 3]) expect(await h.netdevFor(select(pfMac, { vf }))).toBe(`enp8s0f0npf0vf${vf}`);
      // The second PF has its own (empty) set of VFs, though its physical port index is also 0.
      const error = await h.errorFor(select('40:a6:b7:18:dd:69', { vf: 0 }));
      expect(error.message).toContain('under pci/0000:08:00.1');
      expect(error.message).toMatch(/present: none$/);
    });

    it('lists the four VF representors with the options that select them', async () => {
      const h = await hostFrom(devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt')), {
        uplinks: { enp8s0f0np0: { address: '40:a6:b7:18:dd:68' }, enp8s0f1np1: { address: '40:a6:b7:18:dd:69' } },
      });
      const reps = (await h.list()).filter((r) => r.flavour === 'pcivf');
      expect(reps.map((r) => [r.netdev, r.vfnum, r.portIndex])).toEqual([
        ['enp8s0f0npf0vf0', 0, 2],
        ['enp8s0f0npf0vf3', 3, 3],
        ['enp8s0f0npf0vf1', 1, 4],
        ['enp8s0f0npf0vf2', 2, 5],
      ]);
      for (const rep of reps) {
        expect(rep.pfMac).toBe('40:a6:b7:18:dd:68');
        expect(Object.fromEntries(rep.lportOptions)).toEqual(select('40:a6:b7:18:dd:68', { vf: rep.vfnum }));
        expect(await h.netdevFor(Object.fromEntries(rep.lportOptions))).toBe(rep.netdev);
      }
      const uplinks = (await h.list()).filter((r) => r.flavour === 'physical');
      expect(uplinks.map((r) => [r.netdev, r.lportOptions.size])).toEqual([
        ['enp8s0f0np0', 0],
        ['enp8s0f1np1', 0],
      ]);
    });
  });

  describe('fixture 04: ice with <pf>_<n> representor names', () => {
    it('keys on vfnum, not on names or port indexes', async () => {
      const h = await hostFrom(devlinkJsonFromText(readFixture('04-ice-e810-4vf-underscore-rep-names.txt')), {
        uplinks: { ens785f0np0: { address: 'b4:96:91:aa:bb:01' } },
      });
      expect(await h.netdevFor(select('b4:96:91:aa:bb:01', { vf: 1 }))).toBe('ens785f0np0_1');
      expect(await h.netdevFor(select('b4:96:91:aa:bb:01', { vf: 3 }))).toBe('ens785f0np0_3');
    });
  });

  describe('fixtures 05 / 06: external controller VF c1pf0vf1', () => {
    it('does not hand an external (host) VF to a local lookup of the same PF', async () => {
      const json = devlinkJsonFromText(readFixture('05-mlx5-external-controller-vf-text.txt'));
      json.port['pci/0000:06:00.0/65535'] = { type: 'eth', netdev: 'ens2f0np0', flavour: 'physical', port: 0, splittable: false };
      const h = await hostFrom(json, { uplinks: { ens2f0np0: { address: '98:03:9b:00:00:01' } } });
      const error = await h.errorFor(select('98:03:9b:00:00:01', { vf: 1 }));
      expect(error.reason).toBe('REPRESENTOR_NOT_FOUND');
      const rep = (await h.list()).find((r) => r.netdev === 'ens2f0c1pf0vf1');
      expect(rep).toMatchObject({ flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 1, external: true, physPortName: 'c1pf0vf1' });
      // No pcipf port shows the host PF's MAC, so nothing selects it.
      expect(rep?.lportOptions.size).toBe(0);
    });

    it('selects it through the host PF once a pcipf port carries the host MAC (JSON fixture 06)', async () => {
      const json = JSON.parse(readFixture('06-mlx5-external-controller-vf-json.txt').split('\n').slice(1).join('\n')) as DevlinkJson;
      json.port['pci/0000:06:00.0/1'] = {
        type: 'eth',
        netdev: 'ens2f0c1pf0',
        flavour: 'pcipf',
        controller: 1,
        pfnum: 0,
        external: true,
        splittable: false,
        function: { hw_addr: '0c:42:a1:11:22:33' },
      };
      const h = await hostFrom(json, {});
      expect(await h.netdevFor(select('0c:42:a1:11:22:33', { vf: 1 }))).toBe('ens2f0c1pf0vf1');
      expect(await h.netdevFor(select('0c:42:a1:11:22:33'))).toBe('ens2f0c1pf0');
    });
  });

  describe('fixture 07: BlueField ECPF with an external SF', () => {
    const json = (): DevlinkJson => {
      const j = devlinkJsonFromText(readFixture('07-bluefield-arm-sf-external-controller.txt'));
      // The host PF's MAC as devlink shows it once set (fixture 07 predates that).
      j.port['pci/0033:01:00.0/131072']!.function = { hw_addr: 'b8:3f:d2:aa:bb:cc' };
      return j;
    };

    it('answers SF 77 of the host PF and the PF representor', async () => {
      const h = await hostFrom(json(), { uplinks: { enP51p1s0f0np0: { address: 'b8:3f:d2:00:00:01' } } });
      expect(await h.netdevFor(select('b8:3f:d2:aa:bb:cc', { sf: 77 }))).toBe('eth1');
      expect(await h.netdevFor(select('b8:3f:d2:aa:bb:cc'))).toBe('eth0');
      const error = await h.errorFor(select('b8:3f:d2:aa:bb:cc', { vf: 0 }));
      expect(error.message).toContain('pcivf port with controller 1 pfnum 0 vfnum 0 under pci/0033:01:00.0');
    });

    it('does not treat the external SF as a local one of the DPU uplink', async () => {
      const h = await hostFrom(json(), { uplinks: { enP51p1s0f0np0: { address: 'b8:3f:d2:00:00:01' } } });
      expect((await h.errorFor(select('b8:3f:d2:00:00:01', { sf: 77 }))).reason).toBe('REPRESENTOR_NOT_FOUND');
    });

    it('as printed (zero hw_addr, no compat file): the PF selects nothing and the miss says why', async () => {
      const h = await hostFrom(devlinkJsonFromText(readFixture('07-bluefield-arm-sf-external-controller.txt')), {
        uplinks: { enP51p1s0f0np0: { address: 'b8:3f:d2:00:00:01' } },
      });
      const error = await h.errorFor(select('b8:3f:d2:aa:bb:cc', { sf: 77 }));
      expect(error.message).toContain('pcipf ports without a MAC');
      expect(error.message).toContain('pci/0033:01:00.0/131072');
    });
  });

  describe('fixtures 07 + 19: host PF MAC from the smart_nic compat file', () => {
    it('uses the compat MAC of the physical port whose number is the pcipf pfnum', async () => {
      const compatMac = macIn(readFixture('19-bluefield-smart_nic-pf-config.txt'), /MAC\s*:\s*([0-9a-f:]{17})/);
      const h = await hostFrom(devlinkJsonFromText(readFixture('07-bluefield-arm-sf-external-controller.txt')), {
        uplinks: { enP51p1s0f0np0: { address: 'b8:3f:d2:00:00:01', smartNicPfMac: compatMac.toUpperCase() } },
      });
      expect(await h.netdevFor(select(compatMac, { sf: 77 }))).toBe('eth1');
      expect(await h.netdevFor(select(compatMac))).toBe('eth0');
      const pf = (await h.list()).find((r) => r.flavour === 'pcipf');
      expect(pf?.pfMac).toBe(compatMac);
    });
  });

  describe('DPU (representors.md §3, fixture 08 facts): host PF MAC in the pcipf function hw_addr', () => {
    // Constructed from the facts the reference states (fixture 08 itself is withheld):
    // host PF MAC b8:3f:d2:e1:8f:dc -> ECPF 0000:03:00.0, controller 1, pfnum 0; reps pf0hpf / pf0vfN.
    const listing = [
      'pci/0000:03:00.0/65535: type eth netdev p0 flavour physical port 0 splittable false',
      'pci/0000:03:00.0/196608: type eth netdev pf0hpf flavour pcipf controller 1 pfnum 0 external true splittable false',
      '  function:',
      '    hw_addr b8:3f:d2:e1:8f:dc',
      ...[0, 1, 2, 3].flatMap((vf) => [
        `pci/0000:03:00.0/${196609 + vf}: type eth netdev pf0vf${vf} flavour pcivf controller 1 pfnum 0 vfnum ${vf} external true splittable false`,
        '  function:',
        `    hw_addr 00:00:00:00:00:00`,
      ]),
      // A local (Arm-side) VF with the same vfnum must not be confused with the host's.
      'pci/0000:03:00.0/1: type eth netdev arm0vf2 flavour pcivf controller 0 pfnum 0 vfnum 2 external false splittable false',
    ].join('\n');

    it('answers pf0vfN and pf0hpf', async () => {
      const h = await hostFrom(devlinkJsonFromText(listing), { uplinks: { p0: { address: 'b8:3f:d2:e1:8f:00' } } });
      expect(await h.netdevFor(select('b8:3f:d2:e1:8f:dc', { vf: 2 }))).toBe('pf0vf2');
      expect(await h.netdevFor(select('B8:3F:D2:E1:8F:DC', { vf: 0 }))).toBe('pf0vf0');
      expect(await h.netdevFor(select('b8:3f:d2:e1:8f:dc'))).toBe('pf0hpf');
      // The DPU's own uplink MAC selects the local VF.
      expect(await h.netdevFor(select('b8:3f:d2:e1:8f:00', { vf: 2 }))).toBe('arm0vf2');
    });

    it('keeps two hosts (controllers) with the same pfnum apart', async () => {
      const json = devlinkJsonFromText(listing);
      json.port['pci/0000:03:00.0/262144'] = { type: 'eth', netdev: 'c2pf0hpf', flavour: 'pcipf', controller: 2, pfnum: 0, external: true, function: { hw_addr: 'b8:3f:d2:e1:8f:ee' } };
      json.port['pci/0000:03:00.0/262147'] = { type: 'eth', netdev: 'c2pf0vf2', flavour: 'pcivf', controller: 2, pfnum: 0, vfnum: 2, external: true };
      const h = await hostFrom(json, { uplinks: { p0: { address: 'b8:3f:d2:e1:8f:00' } } });
      expect(await h.netdevFor(select('b8:3f:d2:e1:8f:dc', { vf: 2 }))).toBe('pf0vf2');
      expect(await h.netdevFor(select('b8:3f:d2:e1:8f:ee', { vf: 2 }))).toBe('c2pf0vf2');
    });
  });

  describe('legacy DPU (representors.md §3, fixture 09b facts): no controller attribute', () => {
    // Constructed from the stated facts: ECPF 0000:03:00.0 pfnum 0 vf 2 -> pf0vf2, ECPF 0000:03:00.1
    // pfnum 1 vf 3 -> pf1vf3; an old kernel/iproute2 prints no controller/external/splittable and no
    // function block, so the host PF MACs come from the smart_nic compat files of p0 / p1.
    const listing = [
      'pci/0000:03:00.0/65535: type eth netdev p0 flavour physical port 0',
      'pci/0000:03:00.0/4096: type eth netdev pf0hpf flavour pcipf pfnum 0',
      ...[0, 1, 2, 3].map((vf) => `pci/0000:03:00.0/${4097 + vf}: type eth netdev pf0vf${vf} flavour pcivf pfnum 0 vfnum ${vf}`),
      'pci/0000:03:00.1/131071: type eth netdev p1 flavour physical port 1',
      'pci/0000:03:00.1/135168: type eth netdev pf1hpf flavour pcipf pfnum 1',
      ...[0, 1, 2, 3].map((vf) => `pci/0000:03:00.1/${135169 + vf}: type eth netdev pf1vf${vf} flavour pcivf pfnum 1 vfnum ${vf}`),
    ].join('\n');

    it('answers pf0vf2 and pf1vf3 through the compat MACs', async () => {
      const h = await hostFrom(devlinkJsonFromText(listing), {
        uplinks: {
          p0: { address: 'b8:3f:d2:00:00:10', smartNicPfMac: 'b8:3f:d2:00:00:a0' },
          p1: { address: 'b8:3f:d2:00:00:11', smartNicPfMac: 'b8:3f:d2:00:00:a1' },
        },
      });
      expect(await h.netdevFor(select('b8:3f:d2:00:00:a0', { vf: 2 }))).toBe('pf0vf2');
      expect(await h.netdevFor(select('b8:3f:d2:00:00:a1', { vf: 3 }))).toBe('pf1vf3');
      expect(await h.netdevFor(select('b8:3f:d2:00:00:a1'))).toBe('pf1hpf');
    });

    it('answers the same without devlink, from phys_port_name and the compat files', async () => {
      host = new FakeHost();
      layOutDevlinkHost(host, devlinkJsonFromText(listing), {
        uplinks: {
          p0: { address: 'b8:3f:d2:00:00:10', smartNicPfMac: 'b8:3f:d2:00:00:a0' },
          p1: { address: 'b8:3f:d2:00:00:11', smartNicPfMac: 'b8:3f:d2:00:00:a1' },
        },
      });
      host.setDevlinkBehaviour('no-netlink');
      harness = await start(host);
      expect(await harness.netdevFor(select('b8:3f:d2:00:00:a0', { vf: 2 }))).toBe('pf0vf2');
      expect(await harness.netdevFor(select('b8:3f:d2:00:00:a1', { vf: 3 }))).toBe('pf1vf3');
      expect(await harness.netdevFor(select('b8:3f:d2:00:00:a0'))).toBe('pf0hpf');
      expect((await harness.list()).every((r) => r.source === 'sysfs')).toBe(true);
    });
  });

  describe('fixture 09a: hypervisor side of a SmartNIC (flavour virtual)', () => {
    it('has nothing pluggable and says where to plug instead', async () => {
      const h = await hostFrom(devlinkJsonFromText(readFixture('09a-hypervisor-side-vf-virtual-flavour.txt')), {
        uplinks: { enp5s0f0: { address: '0c:42:a1:05:00:00' }, enp5s0f1: { address: '0c:42:a1:05:00:01' } },
        physfn: {
          '0000:05:02.3': '0000:05:00.1',
          '0000:05:02.4': '0000:05:00.1',
          '0000:05:02.5': '0000:05:00.1',
          '0000:05:02.6': '0000:05:00.1',
          '0000:05:00.3': '0000:05:00.0',
          '0000:05:00.4': '0000:05:00.0',
          '0000:05:00.5': '0000:05:00.0',
          '0000:05:00.6': '0000:05:00.0',
        },
      });
      const list = await h.list();
      expect(list.filter((r) => r.flavour === 'virtual')).toHaveLength(8);
      expect(list.every((r) => r.lportOptions.size === 0)).toBe(true);
      const error = await h.errorFor(select('0c:42:a1:05:00:01', { vf: 0 }));
      expect(error.message).toMatch(/present: none$/);
      const unknown = await h.errorFor(select('0c:42:a1:ff:ff:ff', { vf: 0 }));
      expect(unknown.message).toContain('flavour virtual');
    });
  });

  describe('fixture 12: mlx5 uplink devlink port on pci/ (6.1) or auxiliary/ (6.5)', () => {
    const vfs = (bdf: string, pf: number): string =>
      [0, 1, 2].map((vf) => `pci/${bdf}/${pf * 65536 + vf + 1}: type eth netdev ${pf ? 'enp3s0f1' : 'enp3s0f0'}_${vf} flavour pcivf controller 0 pfnum ${pf} vfnum ${vf} external false splittable false`).join('\n');

    it('6.5: maps the auxiliary uplink to its PCI function through sysfs', async () => {
      const text = readFixture('12-mlx5-uplink-port-pci-vs-auxiliary-6.1-vs-6.5.txt').split('Linux 6.5:')[1]!;
      const json = devlinkJsonFromText(`${text}\n${vfs('0000:03:00.0', 0)}\n${vfs('0000:03:00.1', 1)}`);
      expect(Object.keys(json.port).filter((k) => k.startsWith('auxiliary/'))).toHaveLength(2);
      const h = await hostFrom(json, {
        uplinks: {
          enp3s0f0np0: { address: '0c:42:a1:03:00:00', pci: '0000:03:00.0' },
          enp3s0f1np1: { address: '0c:42:a1:03:00:01', pci: '0000:03:00.1' },
        },
      });
      expect(await h.netdevFor(select('0c:42:a1:03:00:00', { vf: 2 }))).toBe('enp3s0f0_2');
      expect(await h.netdevFor(select('0c:42:a1:03:00:01', { vf: 2 }))).toBe('enp3s0f1_2');
    });

    it('6.1: the uplink is on the PCI device itself', async () => {
      const text = readFixture('12-mlx5-uplink-port-pci-vs-auxiliary-6.1-vs-6.5.txt').split('Linux 6.5:')[0]!;
      const json = devlinkJsonFromText(`${text}\n${vfs('0000:98:00.0', 0)}`);
      const h = await hostFrom(json, { uplinks: { ens3f0np0: { address: '0c:42:a1:98:00:00' }, ens3f1np1: { address: '0c:42:a1:98:00:01' } } });
      expect(await h.netdevFor(select('0c:42:a1:98:00:00', { vf: 1 }))).toBe('enp3s0f0_1');
    });
  });

  describe('fixtures 15a / 15b: netdevsim (bus "netdevsim", no controller/external)', () => {
    for (const [fixture, uplink] of [
      ['15a-netdevsim-devlink-port-before-fix.txt', 'eni10np1'],
      ['15b-netdevsim-devlink-port-after-fix.txt', 'eni10np0'],
    ] as const) {
      it(`${fixture}: VF N -> eni10npf0vfN`, async () => {
        const h = await hostFrom(devlinkJsonFromText(readFixture(fixture)), { uplinks: { [uplink]: { address: '02:aa:bb:cc:dd:10' } } });
        for (const vf of [0, 3]) expect(await h.netdevFor(select('02:aa:bb:cc:dd:10', { vf }))).toBe(`eni10npf0vf${vf}`);
        const rep = (await h.list()).find((r) => r.netdev === 'eni10npf0vf3');
        expect(rep).toMatchObject({ device: 'netdevsim/netdevsim10', portIndex: 131, vfnum: 3, source: 'devlink' });
        expect(rep?.controller).toBeUndefined();
        expect(rep?.external).toBeUndefined();
      });
    }
  });

  describe('fixture 20: no devlink (virtio VM), sysfs only', () => {
    it('serves from sysfs, treats the EOPNOTSUPP phys_port_name as no value, and logs devlink once', async () => {
      const text = readFixture('20-no-devlink-virtio-sysfs-local.txt');
      expect(text).toContain('Failed to connect to devlink Netlink');
      host = new FakeHost();
      host.setDevlinkBehaviour('no-netlink');
      // eth0 as the fixture shows it: under 0000:00:03.0/virtio2, phys_port_name unreadable.
      host.addNetdev({ name: 'eth0', parent: { pci: '0000:00:03.0', child: 'virtio2' }, address: '52:54:00:12:34:56', physPortName: EOPNOTSUPP });
      // A switchdev NIC without devlink ports on the same machine (bnxt-like, reps linked to the PF).
      host.addNetdev({ name: 'ens1f0np0', parent: { pci: '0000:3b:00.0' }, address: '00:0a:f7:00:00:01', physPortName: 'p0', physSwitchId: '0a0bf70000' });
      for (const vf of [0, 1]) {
        host.addNetdev({ name: `eth${vf + 1}`, parent: { pci: '0000:3b:00.0' }, physPortName: `pf0vf${vf}`, physSwitchId: '0a0bf70000' });
      }
      harness = await start(host, { hostFs: true });
      expect(await harness.netdevFor(select('00:0a:f7:00:00:01', { vf: 1 }))).toBe('eth2');
      const list = await harness.list();
      expect(list.map((r) => r.netdev).sort()).toEqual(['ens1f0np0', 'eth1', 'eth2']);
      expect(list.every((r) => r.source === 'sysfs' && r.ifindex > 0)).toBe(true);
      const miss = await harness.errorFor(select('52:54:00:12:34:56', { vf: 0 }));
      expect(miss.message).toContain('sysfs only');
      expect(miss.message).toContain('Failed to connect to devlink Netlink');
      await harness.run();
      await harness.run();
      expect(harness.logs.filter((l) => l.msg.includes('devlink unavailable'))).toHaveLength(1);
    });
  });
});
