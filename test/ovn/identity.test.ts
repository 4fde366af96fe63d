/**
 * The agent follows the chassis configuration in the local Open_vSwitch
 * record while it runs, as ovn-controller does: it waits for it when it
 * starts first (a DaemonSet's start order), moves its ports when ovn-bridge
 * changes, tells providers use_dpdk from the bridge's datapath, follows a
 * new system-id and a new ovn-remote. Real OVN and OVS throughout.
 */

import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runProvider, type ProviderProcess } from '../helpers/provider-process';
import { World } from './harness';

let w: World;
let vhost: ProviderProcess | undefined;
beforeAll(async () => {
  w = await World.start({ types: 'dummy,vhost', sandbox: { unconfigured: true }, metrics: true });
});
afterAll(async () => {
  await vhost?.stop();
  await w?.stop();
});

/** Names of the ports of `bridge`, sorted. */
async function ports(bridge: string): Promise<string[]> {
  return (await w.sandbox.bridgePorts(bridge)).sort();
}

describe('the chassis configuration, followed at run time', () => {
  it('waits for system-id and ovn-remote when it starts first, says so, and plugs once they are set', async () => {
    const waiting = await w.waitStatus((s) => s.waiting.some((c) => c.reason === 'CHASSIS_NOT_CONFIGURED'), 'CHASSIS_NOT_CONFIGURED');
    expect(waiting.chassis).toBe('');
    expect(waiting.connected).toEqual({ ovs: true, sb: false });
    const text = await w.statusText();
    expect(text).toMatch(/^chassis not configured, types dummy,vhost; OVS connected, SB DISCONNECTED/);
    expect(text).toMatch(/^waiting: CHASSIS_NOT_CONFIGURED: external_ids:system-id is not set/m);
    const before = await w.scrape();
    expect(before).toMatch(/^vifplug_ovn_waiting\{reason="CHASSIS_NOT_CONFIGURED"\} 1$/m);
    expect(before).toMatch(/^vifplug_ovn_database_connected\{database="sb"\} 0$/m);
    await w.sandbox.configureChassis();
    await w.lspAdd('d1', 'dummy');
    await w.waitPlugged(['d1']);
    await w.sandbox.waitLportUp('d1');
    // Complete once ovn-controller's registration has settled (northd names the chassis in requested-chassis lists meanwhile).
    await w.waitStatus((s) => s.chassis === 'hv1' && s.bridge === 'br-int' && s.complete && s.waiting.length === 0, 'the whole picture');
    expect(w.agent!.logs.some((l) => l.msg === 'chassis hv1, integration bridge br-int')).toBe(true);
    const after = await w.waitScrape((text) => /^vifplug_ovn_lports_plugged\{type="dummy"\} 1$/m.test(text), 'the metrics to count d1 plugged');
    expect(after).not.toMatch(/^vifplug_ovn_waiting\{/m);
    expect(after).toMatch(/^vifplug_ovn_lports_plugged\{type="dummy"\} 1$/m);
    expect(after).toMatch(/^vifplug_ovn_database_connected\{database="sb"\} 1$/m);
    expect(Number(/^vifplug_ovn_reconcile_passes_total\{outcome="committed"\} (\d+)$/m.exec(after)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^vifplug_ovn_reconcile_pass_seconds_count (\d+)$/m.exec(after)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('moves its ports to a new ovn-bridge (ovn-controller binds them there), leaving the old bridge its other ports', async () => {
    await w.sandbox.vsctl('add-port', 'br-int', 'by-hand');
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-bridge=br-alt');
    await w.waitLog(/^integration bridge changed from br-int to br-alt; moving the agent's ports$/);
    await w.sandbox.waitFor(async () => (await ports('br-alt').catch((): string[] => [])).includes('d1'), 'd1 to move to br-alt');
    expect(await ports('br-int')).toEqual(['by-hand']);
    await w.sandbox.waitFor(async () => (await w.sandbox.ovsGet('Interface', 'd1', 'external_ids')).includes('ovn-installed='), 'ovn-controller to bind d1 on br-alt');
    expect(await w.status()).toMatchObject({ bridge: 'br-alt', waiting: [] });
    expect(w.agent!.logs.some((l) => l.msg === 'unplugged d1 (lport d1: moved)')).toBe(true);
  });

  it("tells providers use_dpdk when the integration bridge runs OVS's userspace datapath", async () => {
    // Asked for before its provider is there: pending, and counted so.
    await w.lspAdd('v1', 'vhost');
    await w.waitPending('v1', 'PROVIDER_NOT_REGISTERED');
    expect(await w.scrape()).toMatch(/^vifplug_ovn_lports_pending\{reason="PROVIDER_NOT_REGISTERED"\} 1$/m);
    vhost = await runProvider(process.execPath, [join(__dirname, 'vhost-provider.js'), join(w.sandbox.dir, 'vhost.sock'), `unix://${w.vifplugSocket}`], /^serving$/);
    await w.waitPlugged(['d1', 'v1']);
    expect(await w.sandbox.ovsGet('Interface', 'v1', 'type')).toBe('internal');
    // What an operator sets for a DPDK chassis; ovn-controller applies it to the integration bridge.
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-bridge-datapath-type=netdev');
    await w.sandbox.waitFor(async () => (await w.sandbox.ovsGet('Interface', 'v1', 'type')) === 'dpdkvhostuserclient', 'v1 to become a vhost-user port');
    expect(await w.sandbox.ovsGet('Bridge', 'br-alt', 'datapath_type')).toBe('netdev');
    expect(await w.sandbox.ovsGet('Interface', 'v1', 'options')).toBe('{vhost-server-path="/run/vhost/v1.sock"}');
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-bridge-datapath-type=system');
    await w.sandbox.waitFor(async () => (await w.sandbox.ovsGet('Interface', 'v1', 'type')) === 'internal', 'v1 to be an internal port again');
    expect(await w.sandbox.ovsGet('Interface', 'v1', 'options')).toBe('{}');
  });

  it('follows a new system-id: lports requested to it plug, those requested to the old one unplug', async () => {
    await w.lspAdd('old1', 'dummy', { 'requested-chassis': 'hv1' });
    await w.waitPlugged(['d1', 'v1', 'old1']);
    // ovn-controller registers the new name once the old Chassis row (with the same encap) is gone.
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:system-id=hv2', 'external_ids:hostname=hv2.sandbox');
    await w.sandbox.sbctl('chassis-del', 'hv1');
    await w.waitLog(/^chassis identity changed from hv1 \(hv1\.sandbox\) to hv2 \(hv2\.sandbox\); following it$/);
    await w.lspAdd('new1', 'dummy', { 'requested-chassis': 'hv2' });
    // d1 and v1 were requested by hv1's hostname: they went with it.
    await w.waitPlugged(['new1']);
    await w.sandbox.waitLportUp('new1');
    expect(await w.status()).toMatchObject({ chassis: 'hv2', complete: true, waiting: [] });
  });

  it('follows a new ovn-remote, and waits (ports in place) while there is none', async () => {
    const alt = `unix:${w.sandbox.dir}/sb-alt.sock`;
    await w.sandbox.appctl('ovnsb_db', 'ovsdb-server/add-remote', `p${alt}`);
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', `external_ids:ovn-remote=${alt}`);
    await w.waitLog(/^the Southbound DB changed from unix:.*\/sb\.sock to unix:.*\/sb-alt\.sock; reconnecting$/);
    await w.waitStatus((s) => s.remotes.sb === alt && s.complete, 'the agent to read the Southbound DB through the new remote');
    await w.lspAdd('new2', 'dummy', { 'requested-chassis': 'hv2' });
    await w.waitPlugged(['new1', 'new2']);
    await w.sandbox.vsctl('remove', 'Open_vSwitch', '.', 'external_ids', 'ovn-remote');
    const none = await w.waitStatus((s) => s.waiting.some((c) => c.reason === 'SB_REMOTE_NOT_CONFIGURED'), 'SB_REMOTE_NOT_CONFIGURED');
    expect(none.complete).toBe(false);
    await w.sandbox.nbctl('lsp-del', 'new1');
    expect([...(await w.pluggedIfaces()).keys()].sort()).toEqual(['new1', 'new2']);
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', `external_ids:ovn-remote=${alt}`);
    await w.waitPlugged(['new2']);
    expect((await w.status()).waiting).toEqual([]);
  });
});
