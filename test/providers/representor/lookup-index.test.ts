/**
 * The pure core: snapshot -> inventory -> index -> lookup, without I/O.
 * Snapshots are built by hand here; the fixture-driven cases that go through
 * the stand-in devlink and a fake sysfs are in fixtures.test.ts.
 */

import { describe, expect, it } from 'vitest';

import type { DevlinkPort } from '../../../src/providers/representor/devlink-ports';
import { parseDevlinkPortsJson } from '../../../src/providers/representor/devlink-ports';
import { DevlinkError } from '../../../src/providers/representor/devlink';
import { buildInventory } from '../../../src/providers/representor/inventory';
import { LookupIndex } from '../../../src/providers/representor/lookup-index';
import { capList, summariseNumbers } from '../../../src/providers/representor/messages';
import type { LookupRequest } from '../../../src/providers/representor/options';
import type { NetdevFacts, Snapshot } from '../../../src/providers/representor/snapshot';
import { devlinkJsonFromText } from '../../helpers/host/devlink-text';

function snapshot(devlink: DevlinkPort[] | 'unavailable', netdevs: NetdevFacts[]): Snapshot {
  return {
    devlink:
      devlink === 'unavailable'
        ? { ok: false, error: new DevlinkError('no-devlink', 'the kernel offers no devlink interface') }
        : { ok: true, ports: devlink, warnings: [] },
    netdevs: new Map(netdevs.map((n) => [n.name, n])),
    warnings: [],
    pciDrivers: new Map(),
  };
}

function ports(text: string): DevlinkPort[] {
  return parseDevlinkPortsJson(JSON.stringify(devlinkJsonFromText(text))).ports;
}

function index(s: Snapshot): LookupIndex {
  return LookupIndex.build(buildInventory(s));
}

function answer(idx: LookupIndex, request: LookupRequest): string {
  const outcome = idx.lookup(request, 0);
  return outcome.found ? outcome.entry.netdev : `${outcome.error.reason}: ${outcome.error.message}`;
}

const vf = (pfMac: string, num: number): LookupRequest => ({ pfMac, fn: { kind: 'vf', num } });

describe('sysfs only: representors not linked to the PF device (kernels before 5.8, old bnxt)', () => {
  // Two PFs of one card share a switch id; their representors sit in devices/virtual/net.
  const uplinks: NetdevFacts[] = [
    { name: 'ens1f0np0', address: '00:0a:f7:00:00:00', physPortName: 'p0', physSwitchId: 'aa01', deviceName: '0000:3b:00.0' },
    { name: 'ens1f1np1', address: '00:0a:f7:00:00:01', physPortName: 'p1', physSwitchId: 'aa01', deviceName: '0000:3b:00.1' },
  ];
  const reps: NetdevFacts[] = [
    { name: 'eth10', physPortName: 'pf0vf0', physSwitchId: 'aa01', ifindex: 10 },
    { name: 'eth11', physPortName: 'pf1vf0', physSwitchId: 'aa01', ifindex: 11 },
    { name: 'eth12', physPortName: 'pf1vf1', physSwitchId: 'aa01', ifindex: 12 },
    // Another card's representor with the same numbers.
    { name: 'eth20', physPortName: 'pf1vf0', physSwitchId: 'bb02', ifindex: 20 },
  ];

  it('matches on the switch id AND the PF number (a switch id spans both PFs)', () => {
    const idx = index(snapshot('unavailable', [...uplinks, ...reps]));
    expect(answer(idx, vf('00:0a:f7:00:00:00', 0))).toBe('eth10');
    expect(answer(idx, vf('00:0a:f7:00:00:01', 0))).toBe('eth11');
    expect(answer(idx, vf('00:0a:f7:00:00:01', 1))).toBe('eth12');
    expect(answer(idx, vf('00:0a:f7:00:00:00', 1))).toMatch(/^REPRESENTOR_NOT_FOUND: .*present: 0$/);
  });

  it('prefers the representors linked to the PF device when there are any', () => {
    const linked: NetdevFacts = { name: 'ens1f1_0', physPortName: 'pf1vf0', physSwitchId: 'aa01', deviceName: '0000:3b:00.1' };
    const idx = index(snapshot('unavailable', [...uplinks, ...reps, linked]));
    expect(answer(idx, vf('00:0a:f7:00:00:01', 0))).toBe('ens1f1_0');
  });
});

describe('sysfs only: names that are not a local VF', () => {
  it('ignores controller-prefixed (external) and legacy numeric names for a host PF', () => {
    const idx = index(
      snapshot('unavailable', [
        { name: 'p0', address: '0c:42:a1:00:00:00', physPortName: 'p0', deviceName: '0000:03:00.0' },
        { name: 'c1rep', physPortName: 'c1pf0vf3', deviceName: '0000:03:00.0' },
        { name: 'oldrep', physPortName: '3', deviceName: '0000:03:00.0' },
        { name: 'hostpf', physPortName: 'pf0vf-1', deviceName: '0000:03:00.0' },
      ]),
    );
    expect(answer(idx, vf('0c:42:a1:00:00:00', 3))).toMatch(/^REPRESENTOR_NOT_FOUND: no netdev with phys_port_name pf<N>vf3 under pci\/0000:03:00.0/);
    expect(idx.records.map((r) => r.netdev).sort()).toEqual(['c1rep', 'p0']);
  });

  it('does not take a VF netdev whose phys_port_name looks like an uplink for a PF', () => {
    const idx = index(
      snapshot('unavailable', [{ name: 'enp7s0f0v0', address: '02:00:00:00:00:07', physPortName: 'p0', deviceName: '0000:07:00.2', onVirtualFunction: true }]),
    );
    expect(answer(idx, vf('02:00:00:00:00:07', 0))).toMatch(/^REPRESENTOR_NOT_FOUND: no PF has MAC/);
  });
});

describe('DPU before host: one MAC on a pcipf port and on a local uplink', () => {
  it('answers from the pcipf port (representors.md §6.1: DPU path first), without calling it ambiguous', () => {
    const idx = index(
      snapshot(
        ports(
          [
            'pci/0000:08:00.0/65535: type eth netdev enp8s0f0np0 flavour physical port 0',
            'pci/0000:08:00.0/1: type eth netdev pf0hpf flavour pcipf controller 0 pfnum 0 external false',
            '  function:',
            '    hw_addr 0c:42:a1:08:00:00',
            'pci/0000:08:00.0/2: type eth netdev pf0vf0 flavour pcivf controller 0 pfnum 0 vfnum 0 external false',
          ].join('\n'),
        ),
        [{ name: 'enp8s0f0np0', address: '0c:42:a1:08:00:00', deviceName: '0000:08:00.0', physPortName: 'p0' }],
      ),
    );
    expect(answer(idx, vf('0c:42:a1:08:00:00', 0))).toBe('pf0vf0');
    expect(answer(idx, { pfMac: '0c:42:a1:08:00:00', fn: { kind: 'pf' } })).toBe('pf0hpf');
  });
});

describe('the listing', () => {
  it('gives each selectable port exactly the options that look it up', () => {
    const idx = index(
      snapshot(
        ports(
          [
            'pci/0000:03:00.0/65535: type eth netdev p0 flavour physical port 0',
            'pci/0000:03:00.0/196608: type eth netdev pf0hpf flavour pcipf controller 1 pfnum 0 external true',
            '  function:',
            '    hw_addr b8:3f:d2:e1:8f:dc',
            'pci/0000:03:00.0/196609: type eth netdev pf0vf0 flavour pcivf controller 1 pfnum 0 vfnum 0 external true',
            'pci/0000:03:00.0/229376: type eth netdev pf0sf5 flavour pcisf controller 1 pfnum 0 sfnum 5',
            'pci/0000:03:00.0/32768: type eth netdev en3f0pf0sf0 flavour pcisf controller 0 pfnum 0 sfnum 0',
          ].join('\n'),
        ),
        [{ name: 'p0', address: 'b8:3f:d2:e1:8f:00', deviceName: '0000:03:00.0', physPortName: 'p0' }],
      ),
    );
    const byNetdev = new Map(idx.records.map((r) => [r.netdev, r]));
    expect(Object.fromEntries(byNetdev.get('pf0hpf')!.lportOptions)).toEqual({ 'vif-plug:representor:pf-mac': 'b8:3f:d2:e1:8f:dc' });
    expect(Object.fromEntries(byNetdev.get('pf0vf0')!.lportOptions)).toEqual({
      'vif-plug:representor:pf-mac': 'b8:3f:d2:e1:8f:dc',
      'vif-plug:representor:vf-num': '0',
    });
    // An SF without the external attribute but with controller 1 belongs to the host PF, not to the DPU's uplink.
    expect(Object.fromEntries(byNetdev.get('pf0sf5')!.lportOptions)).toEqual({
      'vif-plug:representor:pf-mac': 'b8:3f:d2:e1:8f:dc',
      'vif-plug:representor:sf-num': '5',
    });
    expect(Object.fromEntries(byNetdev.get('en3f0pf0sf0')!.lportOptions)).toEqual({
      'vif-plug:representor:pf-mac': 'b8:3f:d2:e1:8f:00',
      'vif-plug:representor:sf-num': '0',
    });
    expect(byNetdev.get('p0')!.lportOptions.size).toBe(0);
    for (const record of idx.records) {
      if (record.lportOptions.size === 0) continue;
      const options = record.lportOptions;
      const fn = options.has('vif-plug:representor:vf-num')
        ? { kind: 'vf' as const, num: Number(options.get('vif-plug:representor:vf-num')) }
        : options.has('vif-plug:representor:sf-num')
          ? { kind: 'sf' as const, num: Number(options.get('vif-plug:representor:sf-num')) }
          : { kind: 'pf' as const };
      expect(answer(idx, { pfMac: record.pfMac, fn })).toBe(record.netdev);
    }
    expect(idx.records.map((r) => r.portIndex)).toEqual([32768, 65535, 196608, 196609, 229376]);
  });
});

describe('whether a refresh changed the records (sameRecords)', () => {
  const dpu = (changes: { pfMac?: string; vf0?: string; vf1Ifindex?: number; withSf?: boolean } = {}): LookupIndex =>
    index(
      snapshot(
        ports(
          [
            'pci/0000:03:00.0/65535: type eth netdev p0 flavour physical port 0',
            'pci/0000:03:00.0/196608: type eth netdev pf0hpf flavour pcipf controller 1 pfnum 0 external true',
            '  function:',
            `    hw_addr ${changes.pfMac ?? 'b8:3f:d2:e1:8f:dc'}`,
            `pci/0000:03:00.0/196609: type eth netdev ${changes.vf0 ?? 'pf0vf0'} flavour pcivf controller 1 pfnum 0 vfnum 0 external true`,
            'pci/0000:03:00.0/196610: type eth netdev pf0vf1 flavour pcivf controller 1 pfnum 0 vfnum 1 external true',
            ...(changes.withSf === true ? ['pci/0000:03:00.0/229376: type eth netdev pf0sf5 flavour pcisf controller 1 pfnum 0 sfnum 5'] : []),
          ].join('\n'),
        ),
        [
          { name: 'p0', address: 'b8:3f:d2:e1:8f:00', deviceName: '0000:03:00.0', physPortName: 'p0' },
          { name: 'pf0vf1', physPortName: 'c1pf0vf1', ifindex: changes.vf1Ifindex ?? 12 },
        ],
      ),
    );

  it('holds for two reads of the same hardware (built apart: no object shared)', () => {
    const a = dpu();
    const b = dpu();
    expect(a.records).not.toBe(b.records);
    expect(a.sameRecords(b)).toBe(true);
    expect(b.sameRecords(a)).toBe(true);
  });

  it('fails when a netdev, an ifindex, a port or only the lport options differ', () => {
    const base = dpu();
    for (const changed of [dpu({ vf0: 'renamed0' }), dpu({ vf1Ifindex: 13 }), dpu({ withSf: true }), dpu({ pfMac: 'b8:3f:d2:e1:8f:dd' })]) {
      expect(base.sameRecords(changed)).toBe(false);
      expect(changed.sameRecords(base)).toBe(false);
    }
    // The host PF's new MAC changes the VFs' pf-mac option, nothing else of theirs.
    const remac = dpu({ pfMac: 'b8:3f:d2:e1:8f:dd' });
    const vf1 = (idx: LookupIndex) => idx.records.find((r) => r.netdev === 'pf0vf1')!;
    expect(vf1(remac).lportOptions.get('vif-plug:representor:pf-mac')).toBe('b8:3f:d2:e1:8f:dd');
    expect({ ...vf1(remac), lportOptions: undefined, pfMac: '' }).toEqual({ ...vf1(base), lportOptions: undefined, pfMac: '' });
  });
});

describe('messages stay short', () => {
  it('summarises numbers as ranges', () => {
    expect(summariseNumbers([3, 1, 2, 0, 7, 9, 10, 11, 12])).toBe('0-3,7,9-12');
    expect(summariseNumbers([])).toBe('none');
    expect(summariseNumbers([5])).toBe('5');
    const sparse = summariseNumbers(Array.from({ length: 1000 }, (_, i) => i * 2));
    expect(sparse).toMatch(/,\.\.\. \(1000 in all\)$/);
    expect(sparse.length).toBeLessThan(100);
  });

  it('caps lists', () => {
    expect(capList(['a', 'b'])).toBe('a, b');
    expect(capList(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])).toBe('a, b, c, d, e, f and 2 more');
  });

  it('bounds a NOT_FOUND on a host with a thousand PFs', () => {
    const facts: NetdevFacts[] = Array.from({ length: 1000 }, (_, i) => ({
      name: `up${i}`,
      address: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
      physPortName: 'p0',
      deviceName: `0000:${(i >> 3).toString(16).padStart(2, '0')}:00.${i & 7}`,
    }));
    const outcome = index(snapshot('unavailable', facts)).lookup(vf('02:ff:ff:ff:ff:ff', 0), 0);
    expect(outcome.found).toBe(false);
    if (!outcome.found) {
      expect(outcome.error.message).toContain('and 994 more');
      expect(outcome.error.message.length).toBeLessThan(1000);
    }
  });
});
