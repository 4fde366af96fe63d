/**
 * The vifplug-ovn agent end to end, against real OVN and OVS (a stock
 * ovn-controller in a user-space sandbox), a real vifplugd on a fake
 * ConnectX-6 host, and the compiled agent, each driven as an operator or a
 * CMS would: NB commands in, OVS rows and Port_Binding state out.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { World } from './harness';

let w: World;
beforeAll(async () => {
  // VFs 0-3 exist; VF 4 appears during a test.
  w = await World.start({ vfs: [0, 1, 2, 3] });
});
afterAll(() => w?.stop());

async function sbColumn(lport: string, column: string): Promise<string> {
  return w.sandbox.sbctl('--bare', `--columns=${column}`, 'find', 'Port_Binding', `logical_port=${lport}`);
}

describe('vifplug-ovn with a stock ovn-controller', () => {
  it('plugs the representor an lport asks for; ovn-controller claims it and it comes up', async () => {
    await w.lspRepresentor('vm1', 1);
    await w.waitPlugged(['enp7s0f0_1']);
    await w.sandbox.waitLportUp('vm1');
    const ids = await w.sandbox.ovsGet('Interface', 'enp7s0f0_1', 'external_ids');
    expect(ids).toContain('iface-id=vm1');
    expect(ids).toContain('vifplug-plugged=representor');
    expect(ids).not.toContain('ovn-plugged');
    const chassis = await w.sandbox.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', 'name=hv1');
    expect(await sbColumn('vm1', 'chassis')).toBe(chassis);
    await w.waitLportPlugged('vm1', 'enp7s0f0_1');
  });

  it('replugs when vf-num changes (OVN refuses forever): the new VF in, the old one out', async () => {
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'vm1', 'options:"vif-plug:representor:vf-num"=2');
    await w.waitPlugged(['enp7s0f0_2']);
    await w.sandbox.waitLportUp('vm1');
    expect(await w.sandbox.bridgePorts()).not.toContain('enp7s0f0_1');
  });

  it('unplugs when the plug request is withdrawn (OVN keeps the port), and plugs again when it comes back', async () => {
    await w.sandbox.nbctl('remove', 'Logical_Switch_Port', 'vm1', 'options', 'vif-plug-type');
    await w.waitPlugged([]);
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'vm1', 'options:vif-plug-type=representor');
    await w.waitPlugged(['enp7s0f0_2']);
    await w.sandbox.waitLportUp('vm1');
  });

  it('unplugs when requested-chassis moves to another chassis, and when the lport is deleted', async () => {
    await w.sandbox.addRemoteChassis('hv2');
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'vm1', 'options:requested-chassis=hv2');
    await w.waitPlugged([]);
    expect(await sbColumn('vm1', 'chassis')).toBe('');
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'vm1', `options:requested-chassis=${w.sandbox.hostname}`);
    await w.waitPlugged(['enp7s0f0_2']);
    await w.sandbox.nbctl('lsp-del', 'vm1');
    await w.waitPlugged([]);
  });

  it('keeps a port requested before its VF exists pending, and plugs it when the VF appears, woken by vifplugd (no polling)', async () => {
    await w.lspRepresentor('vm4', 4);
    const pending = await w.waitPending('vm4', 'REPRESENTOR_NOT_FOUND');
    expect(pending).toMatchObject({ state: 'pending', type: 'representor' });
    expect(pending.message).toContain('vfnum 4');
    expect(pending.retryInMs).not.toBeNull();
    // What an operator runs: one line per lport, and why it waits.
    const table = await w.statusText();
    expect(table).toMatch(/^chassis hv1, bridge br-int, types representor,dummy; OVS connected, SB connected\n/);
    expect(table).toMatch(/^LPORT\s+TYPE\s+STATE\s+IFACE\s+REASON\s+FOR\s+TRIES\s+RETRY\s+MESSAGE$/m);
    expect(table).toMatch(/^vm4\s+representor\s+pending\s+-\s+REPRESENTOR_NOT_FOUND\s+\d+s\s+\d+\s+\d+s\s+no local pcivf port with vfnum 4/m);
    // Let the backoff grow so that the next timed retry is seconds away: a plug sooner than that can only
    // come from vifplugd's Watch event.
    await w.sandbox.waitFor(async () => ((await w.lportStatus('vm4'))?.attempts ?? 0) >= 3, 'three attempts', { timeoutMs: 15_000 });
    const retryIn = (await w.lportStatus('vm4'))!.retryInMs!;
    expect(retryIn).toBeGreaterThan(1000);
    const appeared = Date.now();
    w.addVf(4);
    await w.waitPlugged(['enp7s0f0_4'], retryIn - 500);
    expect(Date.now() - appeared).toBeLessThan(retryIn);
    await w.sandbox.waitLportUp('vm4');
    await w.waitLportPlugged('vm4');
  });

  it('surfaces bad input per lport and leaves every other port alone', async () => {
    const before = await w.pluggedIfaces();
    // Malformed provider options: the provider's own error, for that lport only.
    await w.lspRepresentor('bad-vf', '3abc');
    const badVf = await w.waitPending('bad-vf', 'INVALID_OPTION');
    expect(badVf.message).toContain('vf-num');
    expect(badVf.retryInMs).toBeNull();
    // An lport whose name cannot be an interface name (the dummy provider names ports after lports):
    // vifplugd refuses the provider's answer, naming the provider and the name.
    await w.lspAdd('has space/and-slash', 'dummy');
    const badName = (await w.waitPending('has space/and-slash', 'PROVIDER_ANSWER_INVALID')).message;
    expect(badName).toContain('provider "dummy"');
    expect(badName).toContain('has space/and-s');
    // A malformed MTU request.
    await w.lspAdd('bad-mtu', 'dummy', { 'vif-plug-mtu-request': '15x' });
    await w.waitPending('bad-mtu', 'INVALID_MTU_REQUEST');
    // Option values with quotes, a newline and "--" reach the provider intact, and the port plugs.
    const tricky = 'say "hi"\n-- --if-exists del-br br-int';
    await w.sandbox.run('ovn-nbctl', ['lsp-add', 'sw0', 'odd-opts', '--', 'lsp-set-options', 'odd-opts', `requested-chassis=${w.sandbox.hostname}`, 'vif-plug-type=dummy', `vif-plug:dummy:note=${tricky}`]);
    await w.sandbox.waitLportUp('odd-opts');
    expect(await w.sandbox.bridgePorts()).toContain('odd-opts');
    expect(await w.sandbox.run('ovn-sbctl', ['--bare', '--columns=options', 'find', 'Port_Binding', 'logical_port=odd-opts'])).toContain(`vif-plug:dummy:note=${tricky}`);
    const after = await w.pluggedIfaces();
    for (const [name, ids] of before) expect(after.get(name)).toBe(ids);
    expect(after.has('odd-opts')).toBe(true);
    await w.sandbox.nbctl('lsp-del', 'bad-vf', '--', 'lsp-del', 'has space/and-slash', '--', 'lsp-del', 'bad-mtu', '--', 'lsp-del', 'odd-opts');
    await w.waitPlugged([...before.keys()]);
  });

  it('never touches a port it did not create, even one carrying an lport it serves', async () => {
    await w.sandbox.vsctl('add-port', 'br-int', 'cms-port', '--', 'set', 'Interface', 'cms-port', 'external_ids:iface-id=by-cms');
    await w.lspAdd('by-cms', 'dummy');
    const pending = await w.waitPending('by-cms', 'PORT_NOT_OURS');
    expect(pending.message).toContain('cms-port');
    await w.sandbox.nbctl('lsp-del', 'by-cms');
    await w.sandbox.waitFor(async () => (await w.lportStatus('by-cms')) === undefined, 'by-cms to leave the status');
    expect(await w.sandbox.bridgePorts()).toContain('cms-port');
    await w.sandbox.vsctl('del-port', 'cms-port');
  });

  it('converges several of its interfaces carrying one lport to the one the provider answers, and keeps them all while it declines', async () => {
    const before = [...(await w.pluggedIfaces()).keys()];
    /** A copy of one of the agent's ports (an operator's, or an older agent's), marked as the agent marks its own. */
    const copy = (name: string, lport: string, type: string) =>
      w.sandbox.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, `external_ids:iface-id=${lport}`, `external_ids:vifplug-plugged=${type}`);
    await w.lspAdd('dup', 'dummy');
    await w.waitPlugged([...before, 'dup']);
    await copy('dup-copy', 'dup', 'dummy');
    await w.waitPlugged([...before, 'dup']);
    // The agent logs the unplug once its transaction is answered, which may be after the bridge shows it.
    await w.sandbox.waitFor(async () => w.agent!.logs.some((l) => l.msg === 'unplugged dup-copy (lport dup: duplicate)'), 'the unplug of dup-copy in the log');
    // The provider declines (no such VF): it cannot say which copy is right, so both stay, and the status says so.
    await w.lspRepresentor('dup2', 7);
    await w.waitPending('dup2', 'REPRESENTOR_NOT_FOUND');
    await copy('dup2-a', 'dup2', 'representor');
    await copy('dup2-b', 'dup2', 'representor');
    const pending = await w.waitPending('dup2', 'DUPLICATE_PORTS');
    expect(pending.message).toContain('(dup2-a, dup2-b)');
    expect(pending.message).toContain('REPRESENTOR_NOT_FOUND');
    expect(pending.retryInMs).not.toBeNull();
    expect([...(await w.pluggedIfaces()).keys()]).toEqual(expect.arrayContaining(['dup2-a', 'dup2-b']));
    // Once it answers, one interface carries the lport.
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'dup2', 'options:"vif-plug:representor:vf-num"=3');
    await w.waitPlugged([...before, 'dup', 'enp7s0f0_3']);
    await w.sandbox.waitLportUp('dup2');
    await w.sandbox.nbctl('lsp-del', 'dup', '--', 'lsp-del', 'dup2');
    await w.waitPlugged(before);
  });

  it('plugs hundreds of ports at once, and unplugs them all', async () => {
    const before = [...(await w.pluggedIfaces()).keys()];
    const names = Array.from({ length: 300 }, (_, i) => `many${i}`);
    const args = names.flatMap((n) => ['--', 'lsp-add', 'sw0', n, '--', 'lsp-set-options', n, `requested-chassis=${w.sandbox.hostname}`, 'vif-plug-type=dummy']);
    await w.sandbox.nbctl(...args.slice(1));
    await w.waitPlugged([...before, ...names], 30_000);
    await w.sandbox.waitFor(async () => (await w.sandbox.sbctl('--bare', '--columns=logical_port', 'find', 'Port_Binding', 'up=true')).split('\n').filter((l) => l.startsWith('many')).length === 300, '300 lports up', { timeoutMs: 30_000, intervalMs: 200 });
    await w.sandbox.nbctl(...names.flatMap((n) => ['--', 'lsp-del', n]).slice(1));
    await w.waitPlugged(before, 30_000);
  });
});
