/**
 * Everything converges on its own after a crash, with no state file and no
 * human: kill -9 of the agent, of vifplugd, of the Southbound ovsdb-server
 * and of the local one. And a fresh agent that cannot see the whole picture
 * yet unplugs nothing.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { World } from './harness';

let w: World;
beforeAll(async () => {
  // Under a type of its own, as beside an ovn-controller that has a representor provider.
  w = await World.start({ types: 'vifplug-representor=representor,dummy' });
  await w.lspRepresentor('vm0', 0);
  await w.lspAdd('d1', 'dummy');
  await w.waitPlugged(['enp7s0f0_0', 'd1']);
  // The mark names the lport's type, not the provider behind it.
  expect(await w.sandbox.ovsGet('Interface', 'enp7s0f0_0', 'external_ids')).toContain('vifplug-plugged=vifplug-representor');
});
afterAll(() => w?.stop());

describe('after kill -9', () => {
  it('of the agent: a new agent finds its ports by their marker and catches up with what changed meanwhile', async () => {
    await w.agent!.stop('SIGKILL');
    await w.sandbox.nbctl('lsp-del', 'd1');
    await w.lspAdd('d2', 'dummy');
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'vm0', 'options:"vif-plug:representor:vf-num"=1');
    // Nobody plugs or unplugs while the agent is away.
    expect([...(await w.pluggedIfaces()).keys()].sort()).toEqual(['d1', 'enp7s0f0_0']);
    await w.startAgent();
    await w.waitPlugged(['enp7s0f0_1', 'd2']);
    await w.sandbox.waitLportUp('vm0');
    await w.sandbox.waitLportUp('d2');
  });

  it('of vifplugd: ports stay, new ones wait (VIFPLUGD_UNAVAILABLE) and plug once it is back', async () => {
    await w.vifplugd!.stop('SIGKILL');
    await w.lspAdd('d3', 'dummy');
    const pending = await w.waitPending('d3', 'VIFPLUGD_UNAVAILABLE');
    expect(pending.retryInMs).not.toBeNull();
    expect([...(await w.pluggedIfaces()).keys()].sort()).toEqual(['d2', 'enp7s0f0_1']);
    await w.startVifplugd();
    await w.waitPlugged(['enp7s0f0_1', 'd2', 'd3']);
    await w.sandbox.waitLportUp('d3');
    await w.waitLportPlugged('d3');
  });

  it('of the Southbound ovsdb-server: nothing is unplugged while it is gone, and changes after its return are followed', async () => {
    await w.sandbox.kill('ovnsb_db');
    await w.sandbox.waitFor(async () => !(await w.status()).connected.sb, 'the agent to notice');
    expect((await w.status()).complete).toBe(false);
    expect([...(await w.pluggedIfaces()).keys()].sort()).toEqual(['d2', 'd3', 'enp7s0f0_1']);
    await w.sandbox.startDaemon('ovnsb_db');
    await w.sandbox.waitFor(async () => (await w.status()).complete, 'the agent to have the whole picture again', { timeoutMs: 15_000 });
    await w.sandbox.nbctl('lsp-del', 'd3');
    await w.lspAdd('d4', 'dummy');
    await w.waitPlugged(['enp7s0f0_1', 'd2', 'd4'], 15_000);
    await w.sandbox.waitLportUp('d4', 15_000);
  });

  it('of the local ovsdb-server: the agent reconnects and carries on', async () => {
    await w.sandbox.kill('ovsdb-server');
    await w.sandbox.waitFor(async () => !(await w.status()).connected.ovs, 'the agent to notice');
    await w.sandbox.startDaemon('ovsdb-server');
    await w.sandbox.waitFor(async () => (await w.status()).connected.ovs, 'the agent to reconnect', { timeoutMs: 15_000 });
    await w.lspAdd('d5', 'dummy');
    await w.sandbox.nbctl('lsp-del', 'd2');
    await w.waitPlugged(['enp7s0f0_1', 'd4', 'd5'], 15_000);
    await w.sandbox.waitLportUp('d5', 15_000);
  });
});

describe('an OVSDB server that goes away mid-transaction', () => {
  it('leaves the outcome unknown: ctxs are released, the port is retried on the fresh replica and plugged', async () => {
    const pid = w.sandbox.pid('ovsdb-server')!;
    process.kill(pid, 'SIGSTOP');
    const commits = () => w.agent!.logs.filter((l) => l.msg === 'committing a bridge change').length;
    const before = commits();
    await w.lspAdd('d6', 'dummy');
    await w.sandbox.waitFor(() => commits() > before, 'the agent to send its transaction');
    process.kill(pid, 'SIGKILL');
    await w.sandbox.kill('ovsdb-server');
    await w.sandbox.startDaemon('ovsdb-server');
    await w.waitPlugged(['enp7s0f0_1', 'd4', 'd5', 'd6'], 15_000);
    await w.sandbox.waitLportUp('d6', 15_000);
    expect(w.agent!.logs.some((l) => l.msg.startsWith('the bridge change did not commit'))).toBe(true);
  });
});

describe('start-up grace', () => {
  it('a fresh agent that cannot reach the Southbound DB unplugs nothing, then converges once it can', async () => {
    await w.agent!.stop('SIGTERM');
    await w.sandbox.stopDaemon('ovnsb_db');
    await w.startAgent();
    // It sees its ports in OVS and no Port_Binding at all: not a reason to unplug.
    await w.sandbox.waitFor(async () => (await w.status()).connected.ovs, 'the agent to read OVS');
    expect((await w.status()).complete).toBe(false);
    expect([...(await w.pluggedIfaces()).keys()].sort()).toEqual(['d4', 'd5', 'd6', 'enp7s0f0_1']);
    await w.sandbox.startDaemon('ovnsb_db');
    await w.sandbox.nbctl('lsp-del', 'd4', '--', 'lsp-del', 'd6');
    await w.waitPlugged(['enp7s0f0_1', 'd5'], 15_000);
  });

  it('SIGTERM stops the agent cleanly and leaves plugged ports in place', async () => {
    expect(await w.agent!.stop('SIGTERM')).toBe(0);
    expect(w.agent!.logs.some((l) => l.msg === 'vifplug-ovn stopped')).toBe(true);
    expect([...(await w.pluggedIfaces()).keys()].sort()).toEqual(['d5', 'enp7s0f0_1']);
    w.agent = undefined;
  });
});
