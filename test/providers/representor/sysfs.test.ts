import { mkdtempSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { parseSmartNicConfig, SysfsReader, SysfsRootError } from '../../../src/providers/representor/sysfs';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { EOPNOTSUPP } from '../../helpers/host/sysfs-tree';

let host: FakeHost | undefined;
afterEach(() => {
  host?.remove();
  host = undefined;
});

describe('the fake sysfs tree', () => {
  it('is laid out with the kernel\'s symlinks', () => {
    host = new FakeHost();
    host.addPciDevice('0000:07:00.2', { physfn: '0000:07:00.0', vfIndex: 0 });
    host.addNetdev({ name: 'enp7s0f0', parent: { pci: '0000:07:00.0' }, physPortName: 'p0' });
    host.addNetdev({ name: 'enp3s0f0s0', parent: { pci: '0000:03:00.0', aux: 'mlx5_core.sf.2' } });
    host.addNetdev({ name: 'veth0', parent: 'virtual' });
    expect(host.linkTarget('class', 'net', 'enp7s0f0')).toBe('../../devices/pci0000:00/0000:07:00.0/net/enp7s0f0');
    expect(host.linkTarget('class', 'net', 'enp7s0f0', 'device')).toBe('../../../0000:07:00.0');
    expect(host.linkTarget('bus', 'pci', 'devices', '0000:07:00.0')).toBe('../../../devices/pci0000:00/0000:07:00.0');
    expect(host.linkTarget('bus', 'pci', 'devices', '0000:07:00.0', 'virtfn0')).toBe('../0000:07:00.2');
    expect(host.linkTarget('bus', 'pci', 'devices', '0000:07:00.2', 'physfn')).toBe('../0000:07:00.0');
    expect(host.linkTarget('class', 'net', 'enp3s0f0s0', 'device')).toBe('../../../mlx5_core.sf.2');
    expect(host.linkTarget('class', 'net', 'veth0')).toBe('../../devices/virtual/net/veth0');
  });
});

describe('SysfsReader', () => {
  it('reads attributes through the class/net links, trimmed', async () => {
    host = new FakeHost();
    host.addNetdev({ name: 'enp8s0f0np0', parent: { pci: '0000:08:00.0' }, address: '40:A6:B7:18:DD:68', ifindex: 12, physPortName: 'p0', physSwitchId: 'c2cfc60003a1420c' });
    const sysfs = new SysfsReader(host.sysfsRoot, host.fs());
    expect(await sysfs.netdevNames()).toEqual(['enp8s0f0np0']);
    expect(await sysfs.address('enp8s0f0np0')).toBe('40:a6:b7:18:dd:68');
    expect(await sysfs.ifindex('enp8s0f0np0')).toBe(12);
    expect(await sysfs.attribute('enp8s0f0np0', 'phys_port_name')).toBe('p0');
    expect(await sysfs.attribute('enp8s0f0np0', 'phys_switch_id')).toBe('c2cfc60003a1420c');
    expect(await sysfs.deviceName('enp8s0f0np0')).toBe('0000:08:00.0');
    expect(await sysfs.isOnVirtualFunction('enp8s0f0np0')).toBe(false);
  });

  it('treats EOPNOTSUPP, missing files and missing links as "no value" (fixture 20)', async () => {
    expect(readFixture('20-no-devlink-virtio-sysfs-local.txt')).toContain('phys_port_name: Operation not supported');
    host = new FakeHost();
    host.addNetdev({ name: 'eth0', parent: { pci: '0000:00:03.0', child: 'virtio2' }, physPortName: EOPNOTSUPP });
    host.addNetdev({ name: 'lo', parent: 'virtual' });
    const sysfs = new SysfsReader(host.sysfsRoot, host.fs());
    await expect(host.fs().read(join(host.sysfsRoot, 'class', 'net', 'eth0', 'phys_port_name'), 100)).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    expect(await sysfs.attribute('eth0', 'phys_port_name')).toBeUndefined();
    expect(await sysfs.attribute('eth0', 'phys_switch_id')).toBeUndefined();
    expect(await sysfs.deviceName('eth0')).toBe('virtio2');
    expect(await sysfs.deviceName('lo')).toBeUndefined();
    expect(await sysfs.smartNicPfMac('eth0')).toBeUndefined();
  });

  it('recognises a VF by its physfn link', async () => {
    host = new FakeHost();
    host.addPciDevice('0000:07:00.2', { physfn: '0000:07:00.0' });
    host.addNetdev({ name: 'enp7s0f0v0', parent: { pci: '0000:07:00.2' }, physPortName: 'p0' });
    expect(await new SysfsReader(host.sysfsRoot).isOnVirtualFunction('enp7s0f0v0')).toBe(true);
  });

  it('reads at most a page per attribute, and ignores a file that fills it', async () => {
    host = new FakeHost();
    host.addNetdev({ name: 'big', parent: 'virtual' });
    host.setAttribute('big', 'phys_port_name', 'p'.repeat(1024 * 1024));
    let largest = 0;
    const real = host.fs();
    const counting = { ...real, read: (path: string, max: number) => ((largest = Math.max(largest, max)), real.read(path, max)) };
    expect(await new SysfsReader(host.sysfsRoot, counting).attribute('big', 'phys_port_name')).toBeUndefined();
    expect(largest).toBe(4096);
  });

  it('refuses to build a path from a name that is not a netdev name', async () => {
    host = new FakeHost();
    const sysfs = new SysfsReader(host.sysfsRoot);
    for (const name of ['..', '../../etc', 'a/b', 'eth0 ', 'x'.repeat(16)]) {
      await expect(sysfs.attribute(name, 'address')).rejects.toThrow(/refusing to build a sysfs path/);
    }
  });

  it('skips class/net entries that are not netdev names', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vifplug-sys-'));
    try {
      mkdirSync(join(root, 'class', 'net'), { recursive: true });
      writeFileSync(join(root, 'class', 'net', 'bonding_masters'), 'bond0\n');
      symlinkSync('/etc', join(root, 'class', 'net', 'a:b'));
      expect(await new SysfsReader(root).netdevNames()).toEqual(['bonding_masters']);
      expect(await new SysfsReader(root).attribute('bonding_masters', 'address')).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails with advice when the root has no class/net', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vifplug-sys-'));
    try {
      await expect(new SysfsReader(root).netdevNames()).rejects.toThrow(SysfsRootError);
      await expect(new SysfsReader(root).netdevNames()).rejects.toThrow(/--sysfs-root/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('parseSmartNicConfig', () => {
  it('reads the MAC line of fixture 19', () => {
    const text = readFixture('19-bluefield-smart_nic-pf-config.txt').split('\n').filter((l) => !l.startsWith('#') && !l.startsWith('$')).join('\n');
    expect(parseSmartNicConfig(text)).toBe('e4:8b:01:a5:79:5e');
  });

  it('finds nothing in other text', () => {
    expect(parseSmartNicConfig('MaxTxRate  : 0\nState      : Follow\n')).toBeUndefined();
    expect(parseSmartNicConfig('MAC        : not-a-mac\n')).toBeUndefined();
  });
});
