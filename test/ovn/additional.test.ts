/**
 * Plug where OVN says, and only there: two real chassis (each its own OVS,
 * ovn-controller, vifplugd and agent) on one OVN, and lports whose
 * requested-chassis lists both, as a CMS asks for a live migration
 * ("src,dst": the first is the main chassis, the others additional ones).
 * ovn-controller plugs only on the main chassis and unplugs on neither; the
 * agent does the same, and with --plug-additional also plugs on an
 * additional chassis, so that a migration's destination has its port before
 * the VM arrives.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { World } from './harness';

let hv1: World;
let hv2: World;
beforeAll(async () => {
  hv1 = await World.start({ types: 'dummy' });
  hv2 = await World.start({ types: 'dummy', chassis: 'hv2', join: hv1 });
}, 60_000);
afterAll(async () => {
  await hv2?.stop();
  await hv1?.stop();
});

async function chassisUuid(name: string): Promise<string> {
  return hv1.sandbox.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', `name=${name}`);
}

/** The Port_Binding's chassis and additional_chassis, by chassis name. */
async function boundTo(lport: string): Promise<{ chassis: string; additional: string }> {
  const names = new Map([[await chassisUuid('hv1'), 'hv1'], [await chassisUuid('hv2'), 'hv2']]);
  const read = async (column: string) =>
    (await hv1.sandbox.sbctl('--bare', `--columns=${column}`, 'find', 'Port_Binding', `logical_port=${lport}`))
      .split(/\s+/)
      .filter(Boolean)
      .map((u) => names.get(u) ?? u)
      .join(',');
  return { chassis: await read('chassis'), additional: await read('additional_chassis') };
}

async function waitBound(lport: string, want: { chassis: string; additional: string }): Promise<void> {
  let seen: { chassis: string; additional: string } | undefined;
  await hv1.sandbox
    .waitFor(async () => {
      seen = await boundTo(lport);
      return seen.chassis === want.chassis && seen.additional === want.additional;
    }, `${lport} bound to ${JSON.stringify(want)}`)
    .catch((err: Error) => {
      throw new Error(`${err.message}; it is bound to ${JSON.stringify(seen)}`);
    });
}

describe('an lport requested to two chassis', () => {
  it('is plugged on the main chassis only, and stays there when that chassis becomes an additional one', async () => {
    await hv1.lspAdd('m1', 'dummy', { 'requested-chassis': 'hv1,hv2' });
    await hv1.waitPlugged(['m1']);
    await hv1.sandbox.waitLportUp('m1');
    await waitBound('m1', { chassis: 'hv1', additional: '' });
    const plugged = await hv1.sandbox.ovsGet('Interface', 'm1', '_uuid');
    // hv2 is an additional chassis: without --plug-additional its agent plugs nothing.
    await hv2.waitStatus((s) => s.complete, "hv2's agent to have the whole picture");
    expect([...(await hv2.pluggedIfaces()).keys()]).toEqual([]);

    // The CMS swaps them, as at the end of a live migration: hv2 becomes the main chassis, hv1 an additional one.
    await hv1.sandbox.nbctl('set', 'Logical_Switch_Port', 'm1', 'options:requested-chassis="hv2,hv1"');
    await hv2.waitPlugged(['m1']);
    await waitBound('m1', { chassis: 'hv2', additional: 'hv1' });
    // hv1's port stays, untouched: ovn-controller there keeps it bound as an additional chassis.
    expect(await hv1.sandbox.ovsGet('Interface', 'm1', '_uuid')).toBe(plugged);
    expect(hv1.agent!.logs.some((l) => /^unplugged m1\b/.test(l.msg))).toBe(false);

    // The migration is over: hv1 is no longer requested, its port goes; hv2's stays.
    await hv1.sandbox.nbctl('set', 'Logical_Switch_Port', 'm1', 'options:requested-chassis=hv2');
    await hv1.waitPlugged([]);
    await waitBound('m1', { chassis: 'hv2', additional: '' });
    expect([...(await hv2.pluggedIfaces()).keys()]).toEqual(['m1']);
  });

  it('with --plug-additional, is plugged on the additional chassis too, before the VM arrives, and stays plugged when it becomes the main one', async () => {
    await hv2.agent!.stop('SIGTERM');
    await hv2.startAgent(['--plug-additional']);
    await hv1.lspAdd('m2', 'dummy', { 'requested-chassis': 'hv1,hv2' });
    await hv1.waitPlugged(['m2']);
    await hv2.waitPlugged(['m1', 'm2']);
    // ovn-controller binds it on both: hv1 as the main chassis, hv2 as an additional one.
    await waitBound('m2', { chassis: 'hv1', additional: 'hv2' });
    await hv1.sandbox.waitLportUp('m2');
    const atDestination = await hv2.sandbox.ovsGet('Interface', 'm2', '_uuid');

    // Activation: only hv2 is requested now. hv1 unplugs; hv2 keeps the very port it plugged in advance.
    await hv1.sandbox.nbctl('set', 'Logical_Switch_Port', 'm2', 'options:requested-chassis=hv2');
    await hv1.waitPlugged([]);
    await waitBound('m2', { chassis: 'hv2', additional: '' });
    expect(await hv2.sandbox.ovsGet('Interface', 'm2', '_uuid')).toBe(atDestination);
    await hv2.waitLportPlugged('m2', 'm2');
  });

  it('is not unplugged while its chassis is not registered (ovn-controller stopped for good), nor just after it registers anew', async () => {
    await hv1.sandbox.nbctl('set', 'Logical_Switch_Port', 'm2', 'options:requested-chassis="hv1,hv2"');
    await hv1.waitPlugged(['m2']);
    await waitBound('m2', { chassis: 'hv1', additional: 'hv2' });
    const before = await hv2.sandbox.ovsGet('Interface', 'm2', '_uuid');
    // `exit` without --restart deletes the Chassis row: northd can no longer name hv2 in requested_additional_chassis,
    // and "hv1,hv2" matches no condition by name: the lport is out of hv2's view, which is therefore incomplete.
    await hv2.sandbox.appctl('ovn-controller', 'exit');
    await hv2.waitStatus((s) => s.waiting.some((c) => c.reason === 'CHASSIS_NOT_REGISTERED') && !s.complete, 'CHASSIS_NOT_REGISTERED');
    await hv2.sandbox.startDaemon('ovn-controller');
    await hv2.waitStatus((s) => s.complete, 'the new registration to settle', 15_000);
    await waitBound('m2', { chassis: 'hv1', additional: 'hv2' });
    expect(await hv2.sandbox.ovsGet('Interface', 'm2', '_uuid')).toBe(before);
    expect(hv2.agent!.logs.some((l) => /^unplugged m2\b/.test(l.msg))).toBe(false);
  });
});
