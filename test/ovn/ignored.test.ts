/**
 * What the agent says about lports it does not plug, against real OVN and
 * OVS: lports requested to this chassis with a vif-plug-type it does not
 * serve (a typo, or ovn-controller's own type) are listed by `vifplug-ovn
 * status` in a section of their own and logged once per lport and type; and
 * while vifplugd is away, the lports that wait for it are said once, with a
 * count, rather than once each.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { World, runAgentCli } from './harness';

let w: World;
beforeAll(async () => {
  w = await World.start({ types: 'dummy' });
});
afterAll(() => w?.stop());

const ignoredLines = (lport: string) => w.agent!.logs.filter((l) => l.msg.includes(`lport ${lport} is requested to this chassis with vif-plug-type`));

describe('lports whose vif-plug-type the agent does not serve', () => {
  it('are listed by status in their own section, neither pending nor plugged, and logged once', async () => {
    await w.lspAdd('typo1', 'dumy');
    await w.lspAdd('mine1', 'dummy');
    // Requested elsewhere, or with no vif-plug-type at all: not this agent's business, not listed.
    await w.sandbox.addRemoteChassis('hv2');
    await w.lspAdd('elsewhere1', 'dumy', { 'requested-chassis': 'hv2' });
    await w.sandbox.nbctl('lsp-add', 'sw0', 'cms1', '--', 'lsp-set-options', 'cms1', `requested-chassis=${w.sandbox.hostname}`);
    const status = await w.waitStatus((s) => s.ignored.some((l) => l.lport === 'typo1') && s.lports.some((l) => l.lport === 'mine1' && l.state === 'plugged'), 'typo1 ignored and mine1 plugged');
    expect(status.ignored).toEqual([{ lport: 'typo1', type: 'dumy' }]);
    expect(status.lports.map((l) => l.lport)).toEqual(['mine1']);

    const text = await w.statusText();
    expect(text).toMatch(/^mine1\s+dummy\s+plugged\s+mine1\s/m);
    expect(text).toContain(
      '\nRequested to this chassis, vif-plug-type not served by this agent (ovn-controller plugs these if it has a provider of the type; otherwise check the type):\n',
    );
    expect(text).toMatch(/^LPORT\s+VIF-PLUG-TYPE\ntypo1\s+dumy\n$/m);
    const json = await runAgentCli(['status', '--json', '--status-socket', w.statusSocket]);
    expect(JSON.parse(json.out)).toMatchObject({ ignored: [{ lport: 'typo1', type: 'dumy' }] });

    await w.waitLog(/^lport typo1 is requested to this chassis with vif-plug-type dumy, not served by this agent \(--types dummy\); /);
    expect(ignoredLines('typo1')[0]).toMatchObject({ level: 'info', type: 'dumy', lports: ['typo1'] });
    // Later passes (another lport's change) do not say it again.
    await w.lspAdd('mine2', 'dummy');
    await w.waitLportPlugged('mine2');
    expect(ignoredLines('typo1')).toHaveLength(1);
  });

  it('are logged again when the type changes, and leave the section once the type is served', async () => {
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'typo1', 'options:vif-plug-type=dumm');
    await w.waitLog(/^lport typo1 is requested to this chassis with vif-plug-type dumm,/);
    expect(ignoredLines('typo1')).toHaveLength(2);
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'typo1', 'options:vif-plug-type=dummy');
    const status = await w.waitStatus((s) => s.lports.some((l) => l.lport === 'typo1' && l.state === 'plugged'), 'typo1 plugged once its type is fixed');
    expect(status.ignored).toEqual([]);
    expect(await w.statusText()).not.toContain('not served by this agent');
  });
});

describe('while vifplugd is away', () => {
  it('says once that it is unreachable and how many lports wait, with what was tried, then that none waits any more', async () => {
    const before = w.agent!.logs.length;
    await w.vifplugd!.stop('SIGTERM');
    for (const lport of ['wait1', 'wait2', 'wait3']) await w.lspAdd(lport, 'dummy');
    const status = await w.waitStatus(
      (s) => ['wait1', 'wait2', 'wait3'].every((l) => s.lports.some((p) => p.lport === l && p.reason === 'VIFPLUGD_UNAVAILABLE')),
      'three lports waiting for vifplugd',
    );
    const message = status.lports.find((l) => l.lport === 'wait1')!.message;
    expect(message).toBe(
      `no socket at ${w.vifplugSocket}; is vifplugd running (systemctl status vifplugd), and does it serve this socket (its --listen; here --socket PATH or VIFPLUG_OVN_SOCKET)?; retrying`,
    );
    const logs = () => w.agent!.logs.slice(before);
    const counted = logs().filter((l) => /^vifplugd unreachable: \d lports? waiting \(no socket at /.test(l.msg));
    expect(counted, w.agentLog()).toHaveLength(1);
    expect(counted[0]).toMatchObject({ level: 'warn', reason: 'VIFPLUGD_UNAVAILABLE' });
    // Not once per lport.
    expect(logs().filter((l) => /^lport wait\d pending/.test(l.msg))).toEqual([]);

    await w.startVifplugd();
    await w.waitPlugged(['mine1', 'mine2', 'typo1', 'wait1', 'wait2', 'wait3'], 20_000);
    await w.waitLog(/^vifplugd unreachable: no lport waits for it any more \(\d lports? did\)$/, 20_000);
  });
});
