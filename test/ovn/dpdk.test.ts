/**
 * OVS-DOCA's shape in the real sandbox: br-int on the userspace datapath
 * (datapath_type=netdev, as ovn-controller sets it from
 * ovn-bridge-datapath-type), vifplugd with --representor-dpdk-devargs on the
 * fake ConnectX-6, and the agent writing the Interface rows. The sandbox's OVS
 * has no DPDK: it keeps the rows and reports in their error column that it
 * cannot open the port, which is all these tests need; what they assert is
 * what the agent wrote.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { World } from './harness';

let w: World;
beforeAll(async () => {
  w = await World.start({ vfs: [0, 1, 2, 3], vifplugdArgs: ['--representor-dpdk-devargs'] });
  await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-bridge-datapath-type=netdev');
  await w.sandbox.waitFor(async () => (await w.sandbox.ovsGet('Bridge', 'br-int', 'datapath_type')) === 'netdev', 'ovn-controller to set br-int datapath_type=netdev');
});
afterAll(() => w?.stop());

/** An Interface column as ovs-vsctl prints it. */
const column = (iface: string, name: string) => w.sandbox.ovsGet('Interface', iface, name);

describe('a netdev br-int (OVS-DOCA / OVS-DPDK)', () => {
  it('plugs the representor as type dpdk with the dpdk-devargs of its devlink port', async () => {
    await w.lspRepresentor('vm1', 1);
    await w.waitPlugged(['enp7s0f0_1']);
    expect(await column('enp7s0f0_1', 'type')).toBe('dpdk');
    expect(await column('enp7s0f0_1', 'options')).toBe('{dpdk-devargs="0000:07:00.0,representor=pf0vf1"}');
    const ids = await column('enp7s0f0_1', 'external_ids');
    expect(ids).toContain('iface-id=vm1');
    expect(ids).toContain('vifplug-plugged=representor');
    // This OVS has no DPDK: it keeps the row, cannot open the port, and says so.
    expect(await column('enp7s0f0_1', 'error')).toBe('"could not open network device enp7s0f0_1 (Address family not supported by protocol)"');
    expect(await column('enp7s0f0_1', 'ofport')).toBe('-1');
    await w.waitLportPlugged('vm1', 'enp7s0f0_1');
  });

  it('replugs on a vf-num change with the new port\'s devargs, and removes a stale dpdk-vf-mac (a maintained option)', async () => {
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'vm1', 'options:"vif-plug:representor:vf-num"=2');
    await w.waitPlugged(['enp7s0f0_2']);
    expect(await column('enp7s0f0_2', 'options')).toBe('{dpdk-devargs="0000:07:00.0,representor=pf0vf2"}');
    await w.sandbox.vsctl('set', 'Interface', 'enp7s0f0_2', 'options:dpdk-vf-mac=02:00:00:00:00:01', 'options:unrelated=kept');
    await w.sandbox.waitFor(async () => !(await column('enp7s0f0_2', 'options')).includes('dpdk-vf-mac'), 'the agent to remove dpdk-vf-mac');
    expect(await column('enp7s0f0_2', 'options')).toBe('{dpdk-devargs="0000:07:00.0,representor=pf0vf2", unrelated=kept}');
  });

  it('clears dpdk-devargs when br-int goes back to the kernel datapath (the answer carries none)', async () => {
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-bridge-datapath-type=system');
    await w.sandbox.vsctl('set', 'Bridge', 'br-int', 'datapath_type=system');
    await w.sandbox.waitFor(async () => !(await column('enp7s0f0_2', 'options')).includes('dpdk-devargs'), 'the agent to remove dpdk-devargs');
    expect(await column('enp7s0f0_2', 'options')).toBe('{unrelated=kept}');
  });
});
