/**
 * Never a wrong plug: each failure mode of representors.md §4 ("consolidated
 * known-bug list", items 1-13), and the layouts where a PF has to be inferred
 * (switch id, PCI function, sysfs placement), on hosts laid out as the kernel
 * lays out sysfs: PCI functions under their domain, VFs with physfn/virtfnN
 * links, representors under their PF's device (kernel 5.8+) or in
 * devices/virtual/net (before), phys_switch_id shared by every PF of a card.
 * A lookup either answers the representor that the hardware proves, or
 * refuses saying why; it never answers another PF's.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { DevlinkJson, DevlinkJsonPort } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { EOPNOTSUPP, type NetdevParent } from '../../helpers/host/sysfs-tree';
import { select, startProvider, type Harness } from './harness';

// Every host and provider a test starts is removed after it, also when it fails.
const started: { close(): unknown }[] = [];
afterEach(async () => {
  for (const item of started.splice(0).reverse()) await item.close();
});

function newHost(): FakeHost {
  const h = new FakeHost();
  started.push({ close: () => h.remove() });
  return h;
}

async function provider(h: FakeHost, options: Parameters<typeof startProvider>[1] = {}): Promise<Harness> {
  const harness = await startProvider(h, options);
  started.push(harness);
  return harness;
}

const SWITCH = 'b8cef60300a1b2c3';

interface PfSpec {
  readonly bdf: string;
  readonly uplink: string;
  readonly mac: string;
  /** phys_port_name of the uplink (default p0); undefined-able for a NIC that is not switchdev. */
  readonly physPortName?: string | null;
  readonly switchId?: string | null;
  /** VFs: PCI functions with physfn and the PF's virtfnN links. */
  readonly vfs?: number;
  /** Also a netdev on each VF (as in legacy SR-IOV, or on a host whose representors are elsewhere). */
  readonly vfNetdevs?: boolean;
  readonly permAddress?: string;
  readonly smartNicPfMac?: string;
}

/** The PCI address of VF `i` of `pf`: the next bus, as SR-IOV routing IDs usually land. */
function vfBdf(pf: string, i: number): string {
  const [domain, bus] = pf.split(':') as [string, string];
  return `${domain}:${(parseInt(bus, 16) + 1).toString(16).padStart(2, '0')}:${(i >> 3).toString(16).padStart(2, '0')}.${i & 7}`;
}

function addPf(h: FakeHost, spec: PfSpec): void {
  h.addPciDevice(spec.bdf);
  h.addNetdev({
    name: spec.uplink,
    parent: { pci: spec.bdf },
    address: spec.mac,
    ...(spec.physPortName === null ? {} : { physPortName: spec.physPortName ?? 'p0' }),
    ...(spec.switchId === null ? {} : { physSwitchId: spec.switchId ?? SWITCH }),
    ...(spec.permAddress === undefined ? {} : { permAddress: spec.permAddress }),
    ...(spec.smartNicPfMac === undefined ? {} : { smartNicPfMac: spec.smartNicPfMac }),
  });
  addVfs(h, spec.bdf, spec.vfs ?? 0);
  if (spec.vfNetdevs) for (let i = 0; i < (spec.vfs ?? 0); i++) h.addNetdev({ name: `${spec.uplink}v${i}`, parent: { pci: vfBdf(spec.bdf, i) } });
}

/** VFs as PCI functions with physfn and the PF's virtfnN links. */
function addVfs(h: FakeHost, pf: string, count: number): void {
  h.addPciDevice(pf);
  for (let i = 0; i < count; i++) h.addPciDevice(vfBdf(pf, i), { physfn: pf, vfIndex: i });
}

function addRep(h: FakeHost, name: string, physPortName: string, parent: NetdevParent = 'virtual', switchId = SWITCH): void {
  h.addNetdev({ name, parent, physPortName, physSwitchId: switchId });
}

/** A host with one PF and these representors, read without devlink. */
function onePf(spec: PfSpec, reps: readonly (readonly [name: string, physPortName: string, parent?: NetdevParent])[] = []): Promise<Harness> {
  const host = newHost();
  addPf(host, spec);
  for (const [name, physPortName, parent] of reps) addRep(host, name, physPortName, parent);
  return sysfsOnly(host);
}

/** The same host, read without devlink (a kernel or container without it). */
function sysfsOnly(h: FakeHost): Promise<Harness> {
  h.setDevlinkBehaviour('no-netlink');
  return provider(h);
}

const vf = (mac: string, n: number) => select(mac, { vf: n });

describe('§4.5 one switch id on several PFs: representors listed as virtual netdevs', () => {
  // A ConnectX Socket Direct card: two halves on two sockets, each a PCI function 0
  // of its own bus, one switch id; a kernel before 5.8 lists representors as
  // virtual netdevs; read from a container without devlink.
  const A = { bdf: '0000:3b:00.0', uplink: 'ens1f0np0', mac: '0c:42:a1:3b:00:00' };
  const B = { bdf: '0000:86:00.0', uplink: 'ens2f0np0', mac: '0c:42:a1:86:00:00' };

  function socketDirect(vfsA: number, vfsB: number): FakeHost {
    const h = newHost();
    addPf(h, { ...A, vfs: vfsA });
    addPf(h, { ...B, vfs: vfsB });
    for (let i = 0; i < vfsA; i++) addRep(h, `eth${10 + i}`, `pf0vf${i}`);
    for (let i = 0; i < vfsB; i++) addRep(h, `eth${20 + i}`, `pf0vf${i}`);
    return h;
  }

  it("never answers the other half's representor: a VF only one half has goes to that half, by its virtfn link", async () => {
    const h = await sysfsOnly(socketDirect(2, 4));
    // Half A has VFs 0-1: its VF 3 does not exist, and half B's pf0vf3 is not its.
    const missing = await h.errorFor(vf(A.mac, 3));
    expect([missing.status, missing.reason]).toEqual(['NOT_FOUND', 'REPRESENTOR_NOT_FOUND']);
    expect(missing.message).toContain('the PF has no VF 3 (virtfn links: 0-1)');
    expect(missing.message).not.toContain('eth23');
    // Half B alone has VF 3: eth23 is its, proven by virtfn3.
    expect(await h.netdevFor(vf(B.mac, 3))).toBe('eth23');
  });

  it('refuses a VF both halves have, naming both PFs, the candidates and what would tell them apart', async () => {
    const h = await sysfsOnly(socketDirect(2, 4));
    for (const mac of [A.mac, B.mac]) {
      const error = await h.errorFor(vf(mac, 1));
      expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'REPRESENTOR_AMBIGUOUS']);
      expect(error.message).toContain('ens1f0np0');
      expect(error.message).toContain('ens2f0np0');
      expect(error.message).toContain('eth11');
      expect(error.message).toContain('eth21');
      expect(error.message).toContain(`phys_switch_id ${SWITCH} and PF number 0`);
      expect(error.message).toContain('What would tell them apart: devlink, whose ports name their PF');
      expect(error.message).toContain('virtfn1');
      expect(error.metadata['pfs']).toContain('ens1f0np0');
    }
    // What cannot be decided is not offered in the listing either.
    const listed = (await h.list()).filter((r) => r.netdev === 'eth11' || r.netdev === 'eth21');
    expect(listed.map((r) => r.lportOptions.size)).toEqual([0, 0]);
    expect((await h.list()).find((r) => r.netdev === 'eth23')!.lportOptions.get('vif-plug:representor:pf-mac')).toBe(B.mac);
  });

  it('refuses rather than guesses when the VFs cannot be read (no virtfn links to prove anything)', async () => {
    const host = newHost();
    addPf(host, A);
    addPf(host, B);
    // Only one representor is visible: it still could be either half's.
    addRep(host, 'eth23', 'pf0vf3');
    const h = await sysfsOnly(host);
    const error = await h.errorFor(vf(A.mac, 3));
    expect(error.reason).toBe('REPRESENTOR_AMBIGUOUS');
    expect(error.message).toContain('eth23');
  });

  it('a dual-port card (functions 0 and 1) stays decidable: the PF numbers differ', async () => {
    const host = newHost();
    addPf(host, { bdf: '0000:3b:00.0', uplink: 'p0a', mac: '00:0a:f7:00:00:00', vfs: 2 });
    addPf(host, { bdf: '0000:3b:00.1', uplink: 'p1a', mac: '00:0a:f7:00:00:01', physPortName: 'p1', vfs: 2 });
    addRep(host, 'eth10', 'pf0vf1');
    addRep(host, 'eth11', 'pf1vf1');
    const h = await sysfsOnly(host);
    expect(await h.netdevFor(vf('00:0a:f7:00:00:00', 1))).toBe('eth10');
    expect(await h.netdevFor(vf('00:0a:f7:00:00:01', 1))).toBe('eth11');
  });
});

describe('§4.6 PF number is not the PCI function (BlueField-4: uplinks are function 0 of separate domains)', () => {
  const P0 = { bdf: '0000:03:00.0', uplink: 'p0', mac: '0c:42:a1:00:00:00' };
  const P1 = { bdf: '0001:03:00.0', uplink: 'p1', mac: '0c:42:a1:00:00:01', physPortName: 'p1' };

  it('placement decides when representors sit under their PF (kernel 5.8+), whatever their pf number', async () => {
    const host = newHost();
    addPf(host, P0);
    addPf(host, P1);
    addRep(host, 'pf0vf0', 'pf0vf0', { pci: P0.bdf });
    addRep(host, 'pf1vf0', 'pf1vf0', { pci: P1.bdf });
    const h = await sysfsOnly(host);
    expect(await h.netdevFor(vf(P0.mac, 0))).toBe('pf0vf0');
    expect(await h.netdevFor(vf(P1.mac, 0))).toBe('pf1vf0');
  });

  it('without placement, the PCI function points both uplinks at pf0: refused, not given to one of them', async () => {
    const host = newHost();
    addPf(host, P0);
    addPf(host, P1);
    addRep(host, 'eth5', 'pf0vf0');
    addRep(host, 'eth6', 'pf1vf0');
    const h = await sysfsOnly(host);
    for (const mac of [P0.mac, P1.mac]) expect((await h.errorFor(vf(mac, 0))).reason).toBe('REPRESENTOR_AMBIGUOUS');
  });

  it('devlink decides: its pcivf ports sit on their own PF device with their pfnum', async () => {
    const host = newHost();
    const json: DevlinkJson = {
      port: {
        'pci/0000:03:00.0/65535': { type: 'eth', netdev: 'p0', flavour: 'physical', port: 0 },
        'pci/0001:03:00.0/131071': { type: 'eth', netdev: 'p1', flavour: 'physical', port: 1 },
        'pci/0000:03:00.0/1': { type: 'eth', netdev: 'eth5', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 0, external: false },
        'pci/0001:03:00.0/1': { type: 'eth', netdev: 'eth6', flavour: 'pcivf', controller: 0, pfnum: 1, vfnum: 0, external: false },
      },
    };
    layOutDevlinkHost(host, json, { uplinks: { p0: { address: P0.mac }, p1: { address: P1.mac } } });
    const harness = await provider(host);
    expect(await harness.netdevFor(vf(P0.mac, 0))).toBe('eth5');
    expect(await harness.netdevFor(vf(P1.mac, 0))).toBe('eth6');
  });
});

describe('smart_nic-era BlueField (no devlink, host PF MAC in smart_nic/pf/config, representors as virtual netdevs)', () => {
  function bluefield(p1Port = 'p1'): FakeHost {
    const h = newHost();
    addPf(h, { bdf: '0000:03:00.0', uplink: 'p0', mac: '0c:42:a1:58:ac:28', smartNicPfMac: 'e4:8b:01:a5:79:5e' });
    addPf(h, { bdf: '0000:03:00.1', uplink: 'p1', mac: '0c:42:a1:58:ac:29', physPortName: p1Port, smartNicPfMac: 'e4:8b:01:a5:79:5f' });
    // Kernels before 5.10 print no controller prefix; before 5.8 the netdevs are not linked to the PF.
    addRep(h, 'pf0hpf', 'pf0');
    addRep(h, 'pf1hpf', 'pf1');
    for (const [pf, n] of [[0, 0], [0, 1], [1, 0]] as const) addRep(h, `pf${pf}vf${n}`, `pf${pf}vf${n}`);
    return h;
  }

  it('finds the host PF representors and VFs by the compat MAC and the uplink port number', async () => {
    const h = await sysfsOnly(bluefield());
    expect(await h.netdevFor(vf('e4:8b:01:a5:79:5e', 1))).toBe('pf0vf1');
    expect(await h.netdevFor(vf('e4:8b:01:a5:79:5f', 0))).toBe('pf1vf0');
    expect(await h.netdevFor(select('e4:8b:01:a5:79:5e'))).toBe('pf0hpf');
    expect(await h.netdevFor(select('e4:8b:01:a5:79:5f'))).toBe('pf1hpf');
    const miss = await h.errorFor(vf('e4:8b:01:a5:79:5f', 1));
    expect(miss.reason).toBe('REPRESENTOR_NOT_FOUND');
  });

  it('refuses when two uplinks of the switch have the same port number', async () => {
    const h = await sysfsOnly(bluefield('p0'));
    const error = await h.errorFor(vf('e4:8b:01:a5:79:5e', 1));
    expect(error.reason).toBe('REPRESENTOR_AMBIGUOUS');
    expect(error.message).toContain('port number p0');
    expect((await h.errorFor(select('e4:8b:01:a5:79:5f'))).reason).toBe('REPRESENTOR_AMBIGUOUS');
  });
});

describe('§4.1 representors share the PF net dir with the uplink (kernel 5.8+)', () => {
  it('takes the uplink by phys_port_name p<N>, whatever sorts first, and never a representor for a PF', async () => {
    const host = newHost();
    addPf(host, { bdf: '0000:07:00.0', uplink: 'zz_uplink', mac: '10:70:fd:df:9c:3a', vfs: 2 });
    host.addNetdev({ name: 'a_rep0', parent: { pci: '0000:07:00.0' }, address: '2a:00:00:00:00:00', physPortName: 'pf0vf0', physSwitchId: SWITCH });
    host.addNetdev({ name: 'a_rep1', parent: { pci: '0000:07:00.0' }, address: '2a:00:00:00:00:01', physPortName: 'pf0vf1', physSwitchId: SWITCH });
    const h = await sysfsOnly(host);
    expect(await h.netdevFor(vf('10:70:fd:df:9c:3a', 1))).toBe('a_rep1');
    expect((await h.errorFor(vf('2a:00:00:00:00:00', 1))).reason).toBe('REPRESENTOR_NOT_FOUND');
  });
});

describe('§4.2 phys_port_name missing, unreadable (EOPNOTSUPP) or hidden', () => {
  it('treats each as "not a switchdev port" and still answers from the others', async () => {
    const host = newHost();
    addPf(host, { bdf: '0000:07:00.0', uplink: 'enp7s0f0', mac: '10:70:fd:df:9c:3a', vfs: 2 });
    addRep(host, 'rep0', 'pf0vf0', { pci: '0000:07:00.0' });
    host.addNetdev({ name: 'rep1', parent: { pci: '0000:07:00.0' }, physPortName: EOPNOTSUPP, physSwitchId: SWITCH });
    host.addNetdev({ name: 'eth0', parent: { pci: '0000:00:03.0', child: 'virtio2' }, physPortName: EOPNOTSUPP });
    host.addNetdev({ name: 'rep2', parent: { pci: '0000:07:00.0' } });
    host.setDevlinkBehaviour('no-netlink');
    const harness = await provider(host, { hostFs: true });
    expect(await harness.netdevFor(vf('10:70:fd:df:9c:3a', 0))).toBe('rep0');
    expect((await harness.errorFor(vf('10:70:fd:df:9c:3a', 1))).reason).toBe('REPRESENTOR_NOT_FOUND');
  });
});

describe('§4.3 legacy names: numeric ("3") and host PF "pf0vf-1"', () => {
  it('neither is taken for VF 3 or for a PF representor', async () => {
    const h = await onePf({ bdf: '0000:03:00.0', uplink: 'p0', mac: '0c:42:a1:00:00:00', vfs: 4 }, [['oldrep', '3', { pci: '0000:03:00.0' }], ['hostpf', 'pf0vf-1', { pci: '0000:03:00.0' }]]);
    expect((await h.errorFor(vf('0c:42:a1:00:00:00', 3))).reason).toBe('REPRESENTOR_NOT_FOUND');
    expect((await h.errorFor(select('0c:42:a1:00:00:00'))).message).toContain('no separate PF representor');
  });
});

describe('§4.4 local and external representors on one DPU device', () => {
  it('gives the host PF the c1 ones and the DPU uplink the local ones, with and without devlink', async () => {
    for (const withDevlink of [false, true]) {
      const host = newHost();
      addPf(host, { bdf: '0000:03:00.0', uplink: 'p0', mac: '0c:42:a1:58:ac:28', smartNicPfMac: 'e4:8b:01:a5:79:5e', vfs: 1 });
      addRep(host, 'pf0vf0', 'c1pf0vf0', { pci: '0000:03:00.0' });
      addRep(host, 'lvf0', 'pf0vf0', { pci: '0000:03:00.0' });
      if (withDevlink) {
        host.setDevlinkPorts({
          port: {
            'pci/0000:03:00.0/65535': { type: 'eth', netdev: 'p0', flavour: 'physical', port: 0 },
            'pci/0000:03:00.0/1': { type: 'eth', netdev: 'lvf0', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 0, external: false },
            'pci/0000:03:00.0/196608': { type: 'eth', netdev: 'pf0hpf', flavour: 'pcipf', controller: 1, pfnum: 0, external: true, function: { hw_addr: 'e4:8b:01:a5:79:5e' } },
            'pci/0000:03:00.0/196609': { type: 'eth', netdev: 'pf0vf0', flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 0, external: true },
          },
        });
        host.addNetdev({ name: 'pf0hpf', parent: { pci: '0000:03:00.0' }, physPortName: 'c1pf0', physSwitchId: SWITCH });
      }
      const h = withDevlink ? await provider(host) : await sysfsOnly(host);
      expect(await h.netdevFor(vf('e4:8b:01:a5:79:5e', 0))).toBe('pf0vf0');
      expect(await h.netdevFor(vf('0c:42:a1:58:ac:28', 0))).toBe('lvf0');
    }
  });

  it('2026 local representors with a non-zero controller: devlink (external false) says local; sysfs alone refuses rather than guesses', async () => {
    const host = newHost();
    addPf(host, { bdf: '0000:08:00.0', uplink: 'p0', mac: '0c:42:a1:08:00:00', vfs: 4 });
    addRep(host, 'sat3', 'c2pf0vf3', { pci: '0000:08:00.0' });
    host.setDevlinkPorts({
      port: {
        'pci/0000:08:00.0/65535': { type: 'eth', netdev: 'p0', flavour: 'physical', port: 0 },
        'pci/0000:08:00.0/4': { type: 'eth', netdev: 'sat3', flavour: 'pcivf', controller: 2, pfnum: 0, vfnum: 3, external: false },
      },
    });
    const withDevlink = await provider(host);
    expect(await withDevlink.netdevFor(vf('0c:42:a1:08:00:00', 3))).toBe('sat3');
    await withDevlink.close();
    const sysfs = await sysfsOnly(host);
    expect((await sysfs.errorFor(vf('0c:42:a1:08:00:00', 3))).reason).toBe('REPRESENTOR_NOT_FOUND');
  });
});

describe('§4.7 the uplink devlink port on auxiliary/mlx5_core.eth.N', () => {
  it('reaches the PCI device through the uplink netdev', async () => {
    const host = newHost();
    const json: DevlinkJson = {
      port: {
        'auxiliary/mlx5_core.eth.0/65535': { type: 'eth', netdev: 'enp8s0f0np0', flavour: 'physical', port: 0 },
        'pci/0000:08:00.0/1': { type: 'eth', netdev: 'enp8s0f0npf0vf0', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 0, external: false },
      },
    };
    layOutDevlinkHost(host, json, { uplinks: { enp8s0f0np0: { address: '0c:42:a1:08:00:00', pci: '0000:08:00.0' } } });
    const harness = await provider(host);
    expect(await harness.netdevFor(vf('0c:42:a1:08:00:00', 0))).toBe('enp8s0f0npf0vf0');
  });
});

describe('§4.8 a devlink port without a netdev (being created, or in another netns)', () => {
  it('is UNAVAILABLE with a retry delay, not another port', async () => {
    const host = newHost();
    layOutDevlinkHost(
      host,
      {
        port: {
          'pci/0000:08:00.0/65535': { type: 'eth', netdev: 'p0', flavour: 'physical', port: 0 },
          'pci/0000:08:00.0/32768': { type: 'notset', flavour: 'pcisf', controller: 0, pfnum: 0, sfnum: 88 },
        },
      },
      { uplinks: { p0: { address: '0c:42:a1:08:00:00' } } },
    );
    const harness = await provider(host);
    const error = await harness.errorFor(select('0c:42:a1:08:00:00', { sf: 88 }));
    expect([error.status, error.reason]).toEqual(['UNAVAILABLE', 'REPRESENTOR_NOT_READY']);
  });
});

describe('§4.9 a representor renamed between discovery and use', () => {
  it('is answered under its new name after a re-read, with the rename window in whole milliseconds', async () => {
    const h = await onePf({ bdf: '0000:07:00.0', uplink: 'p0', mac: '10:70:fd:df:9c:3a', vfs: 2 });
    h.host.addNetdev({ name: 'eth7', parent: { pci: '0000:07:00.0' }, physPortName: 'pf0vf1', physSwitchId: SWITCH });
    await h.run();
    h.clock.advance(0.4771);
    const pending = await h.errorFor(vf('10:70:fd:df:9c:3a', 1));
    expect(pending.reason).toBe('REPRESENTOR_RENAME_PENDING');
    expect(pending.message).toMatch(/retry in \d+ ms$/);
    h.host.renameNetdev('eth7', 'enp7s0f0_1');
    await h.run();
    expect(await h.netdevFor(vf('10:70:fd:df:9c:3a', 1))).toBe('enp7s0f0_1');
  });
});

describe('§4.10 a vfnum the PF does not have (mlx5 "adjacent" functions before 2025)', () => {
  it('is not selectable by that number, and the refusal says why; the real VFs still are', async () => {
    const host = newHost();
    addVfs(host, '0000:08:00.0', 2);
    const port = (netdev: string, vfnum: number): DevlinkJsonPort => ({ type: 'eth', netdev, flavour: 'pcivf', controller: 0, pfnum: 0, vfnum, external: false });
    layOutDevlinkHost(host, {
      port: {
        'pci/0000:08:00.0/65535': { type: 'eth', netdev: 'p0', flavour: 'physical', port: 0 },
        'pci/0000:08:00.0/1': port('pf0vf0', 0),
        'pci/0000:08:00.0/2': port('pf0vf1', 1),
        'pci/0000:08:00.0/3': port('eth0', 49152),
      },
    }, { uplinks: { p0: { address: '0c:42:a1:08:00:00' } } });
    const harness = await provider(host);
    const error = await harness.errorFor(vf('0c:42:a1:08:00:00', 49152));
    expect(error.reason).toBe('REPRESENTOR_NOT_FOUND');
    expect(error.message).toContain('claims VF 49152, which the PF does not have (its virtfn links: 0-1)');
    expect(await harness.netdevFor(vf('0c:42:a1:08:00:00', 1))).toBe('pf0vf1');
    expect((await harness.list()).find((r) => r.netdev === 'eth0')!.lportOptions.size).toBe(0);
  });
});

describe('§4.10 one devlink device carrying several PFs\' functions (a separate representor device, as Marvell RVU has)', () => {
  const port = (netdev: string, pfnum: number, vfnum: number): DevlinkJsonPort => ({ type: 'eth', netdev, flavour: 'pcivf', controller: 0, pfnum, vfnum, external: false });
  function repDevice(secondPort: number): FakeHost {
    const h = newHost();
    layOutDevlinkHost(
      h,
      {
        port: {
          'pci/0002:1c:00.0/0': { type: 'eth', netdev: 'pf1vf0rep', flavour: 'physical', port: 1 },
          'pci/0002:1c:00.0/1': { type: 'eth', netdev: 'pf2vf0rep', flavour: 'physical', port: secondPort },
          'pci/0002:1c:00.0/2': port('pf1vf1rep', 1, 1),
          'pci/0002:1c:00.0/3': port('pf1vf3rep', 1, 3),
          'pci/0002:1c:00.0/4': port('pf2vf1rep', 2, 1),
        },
      },
      { uplinks: { pf1vf0rep: { address: '02:00:00:00:01:00' }, pf2vf0rep: { address: '02:00:00:00:02:00' } } },
    );
    return h;
  }

  it("gives each physical port the functions whose pfnum is its port number, never the other PF's", async () => {
    const host = repDevice(2);
    const harness = await provider(host);
    expect(await harness.netdevFor(vf('02:00:00:00:01:00', 3))).toBe('pf1vf3rep');
    expect(await harness.netdevFor(vf('02:00:00:00:02:00', 1))).toBe('pf2vf1rep');
    expect((await harness.errorFor(vf('02:00:00:00:02:00', 3))).reason).toBe('REPRESENTOR_NOT_FOUND');
  });

  it('refuses when port numbers do not single out a PF number', async () => {
    const host = repDevice(1);
    const harness = await provider(host);
    const error = await harness.errorFor(vf('02:00:00:00:02:00', 3));
    expect(error.reason).toBe('REPRESENTOR_AMBIGUOUS');
    expect(error.message).toContain('which carries the functions of PF numbers 1, 2');
  });
});

describe('§4.11 nested function attributes', () => {
  it('reads the host PF MAC from function.hw_addr among other function attributes', async () => {
    const host = newHost();
    layOutDevlinkHost(host, {
      port: {
        'pci/0000:03:00.0/196608': {
          type: 'eth',
          netdev: 'pf0hpf',
          flavour: 'pcipf',
          controller: 1,
          pfnum: 0,
          external: true,
          function: { hw_addr: 'b8:3f:d2:e1:8f:dc', state: 'active', opstate: 'attached', roce: 'enable' },
        },
        'pci/0000:03:00.0/196609': { type: 'eth', netdev: 'pf0vf0', flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 0, external: true, function: { hw_addr: '00:00:00:00:00:00' } },
      },
    });
    const harness = await provider(host);
    expect(await harness.netdevFor(vf('b8:3f:d2:e1:8f:dc', 0))).toBe('pf0vf0');
  });
});

describe('§4.12 drivers without devlink VF ports (bnxt, nfp)', () => {
  it('finds the representors through sysfs while devlink shows only the uplink', async () => {
    const host = newHost();
    addPf(host, { bdf: '0000:5e:00.0', uplink: 'ens5f0np0', mac: '00:0a:f7:5e:00:00', vfs: 2 });
    addRep(host, 'ens5f0npf0vf1', 'pf0vf1', { pci: '0000:5e:00.0' });
    host.setDevlinkPorts({ port: { 'pci/0000:5e:00.0/0': { type: 'eth', netdev: 'ens5f0np0', flavour: 'physical', port: 0 } } });
    const harness = await provider(host);
    expect(await harness.netdevFor(vf('00:0a:f7:5e:00:00', 1))).toBe('ens5f0npf0vf1');
  });
});

describe('§4.13 two ports match', () => {
  it('is an error naming both, never the first', async () => {
    const h = await onePf({ bdf: '0000:07:00.0', uplink: 'p0', mac: '10:70:fd:df:9c:3a', vfs: 2 }, [['repA', 'pf0vf1', { pci: '0000:07:00.0' }], ['repB', 'pf0vf1', { pci: '0000:07:00.0' }]]);
    const error = await h.errorFor(vf('10:70:fd:df:9c:3a', 1));
    expect(error.reason).toBe('REPRESENTOR_AMBIGUOUS');
    expect(error.message).toContain('repA');
    expect(error.message).toContain('repB');
  });
});

describe('bond slaves share the bond MAC: only a permanent MAC of one PF alone tells them apart', () => {
  function bonded(bondMac: string): FakeHost {
    const h = newHost();
    addPf(h, { bdf: '0000:07:00.0', uplink: 'enp7s0f0', mac: bondMac, permAddress: '10:70:fd:df:9c:3a', vfs: 1 });
    addPf(h, { bdf: '0000:07:00.1', uplink: 'enp7s0f1', mac: bondMac, physPortName: 'p1', permAddress: '10:70:fd:df:9c:3b', vfs: 1 });
    addRep(h, 'enp7s0f0_0', 'pf0vf0', { pci: '0000:07:00.0' });
    addRep(h, 'enp7s0f1_0', 'pf1vf0', { pci: '0000:07:00.1' });
    return h;
  }

  it("selects a slave by a permanent MAC of its own, and refuses the bond's MAC even where it is PF0's permanent MAC (VF-LAG)", async () => {
    const h = await sysfsOnly(bonded('10:70:fd:df:9c:3a'));
    expect(await h.netdevFor(vf('10:70:fd:df:9c:3b', 0))).toBe('enp7s0f1_0');
    // Nova reports the current address for the VFs of both slaves: this MAC does not say which PF.
    const error = await h.errorFor(vf('10:70:fd:df:9c:3a', 0));
    expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'REPRESENTOR_AMBIGUOUS']);
    expect(error.message).toContain('enp7s0f0');
    expect(error.message).toContain('enp7s0f1');
    expect(error.message).toContain('enp7s0f1 by 10:70:fd:df:9c:3b');
    expect(error.message).toContain('enp7s0f0 cannot be singled out');
    expect(error.metadata.candidates).toContain('enp7s0f0');
  });

  it("refuses a bond MAC that is neither slave's, telling to give the permanent MAC", async () => {
    const h = await sysfsOnly(bonded('02:11:22:33:44:55'));
    const error = await h.errorFor(vf('02:11:22:33:44:55', 0));
    expect(error.reason).toBe('REPRESENTOR_AMBIGUOUS');
    expect(error.message).toContain('permanent MAC 10:70:fd:df:9c:3b');
    expect(error.message).toContain('permaddr');
  });
});

describe("refusals worded for the host's shape", () => {
  it('legacy SR-IOV: the PF has VFs but no switchdev port; says so, and how to switch, not "present: none"', async () => {
    const h = await onePf({ bdf: '0000:81:00.0', uplink: 'ens1f0', mac: '0c:42:a1:81:00:00', physPortName: null, switchId: null, vfs: 4, vfNetdevs: true });
    const error = await h.errorFor(vf('0c:42:a1:81:00:00', 0));
    expect(error.reason).toBe('REPRESENTOR_NOT_FOUND');
    expect(error.message).toContain('ens1f0 on pci/0000:81:00.0, a PF with 4 VF(s)');
    expect(error.message).toContain('not in switchdev mode');
    expect(error.message).toContain('devlink dev eswitch set pci/0000:81:00.0 mode switchdev');
    // A VF's MAC given as pf-mac.
    const vfMac = await h.errorFor(vf(addressOf(h.host, 'ens1f0v2'), 0));
    expect(vfMac.message).toContain('a VF, not a PF');
  });

  it('a switchdev uplink whose VFs have no representor at all: the eswitch is not in switchdev mode', async () => {
    const h = await onePf({ bdf: '0000:81:00.0', uplink: 'ens1f0np0', mac: '0c:42:a1:81:00:00', vfs: 2 });
    const error = await h.errorFor(vf('0c:42:a1:81:00:00', 1));
    expect(error.message).toContain('the PF has 2 VF(s) (virtfn 0-1) but not one representor');
    expect(error.message).toMatch(/present: none$/);
  });

  it('a PF without VFs says to create them', async () => {
    const h = await onePf({ bdf: '0000:81:00.0', uplink: 'ens1f0np0', mac: '0c:42:a1:81:00:00' });
    expect((await h.errorFor(vf('0c:42:a1:81:00:00', 0))).message).toContain('the PF has no VFs and no representors');
  });
});

function addressOf(h: FakeHost, netdev: string): string {
  return readFileSync(join(h.sysfsRoot, 'class', 'net', netdev, 'address'), 'utf8').trim();
}
