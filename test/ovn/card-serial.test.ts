/**
 * vifplug-ovn --publish-card-serial against a real OVS database: the serial
 * vifplugd reads from the fake card's PCI VPD lands in
 * external_ids:ovn-cms-options as card-serial-number=<serial>, merged with
 * what is there, and is put back when the option is rewritten without it or
 * with another serial. The merge itself is checked on its own too.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { withCardSerial } from '../../src/ovn/card-serial';
import { connectxVpd, vpdBytes } from '../helpers/host/vpd';
import { World } from './harness';

describe('withCardSerial', () => {
  it('adds the entry, replaces a stale one where it is, and keeps every other entry as written', () => {
    expect(withCardSerial(undefined, 'S1')).toBe('card-serial-number=S1');
    expect(withCardSerial('', 'S1')).toBe('card-serial-number=S1');
    expect(withCardSerial('enable-chassis-as-gw,availability-zones=az0:az1', 'S1')).toBe('enable-chassis-as-gw,availability-zones=az0:az1,card-serial-number=S1');
    expect(withCardSerial('card-serial-number=OLD,enable-chassis-as-gw', 'S1')).toBe('card-serial-number=S1,enable-chassis-as-gw');
    expect(withCardSerial('a=1,card-serial-number=S1,b=2', 'S1')).toBeUndefined();
    // Two entries (a hand edit gone wrong) become one.
    expect(withCardSerial('card-serial-number=S1,x,card-serial-number=S2', 'S1')).toBe('card-serial-number=S1,x');
  });
});

const SERIAL = 'MT2203X00042';
let w: World;
beforeAll(async () => {
  w = await World.start({ vpd: vpdBytes(connectxVpd(SERIAL)), agentArgs: ['--publish-card-serial'] });
});
afterAll(() => w?.stop());

const cmsOptions = () => w.sandbox.ovsGet('Open_vSwitch', '.', 'external_ids:ovn-cms-options').catch(() => '');

async function waitCmsOptions(value: string): Promise<void> {
  let seen = '';
  await w.sandbox.waitFor(async () => (seen = await cmsOptions()) === `"${value}"` || seen === value, `ovn-cms-options to be ${value}`).catch((err: Error) => {
    throw new Error(`${err.message}; it is ${seen}\n${w.agentLog()}`);
  });
}

describe('vifplug-ovn --publish-card-serial', () => {
  it("publishes the card's serial from vifplugd, and logs which card and why", async () => {
    await waitCmsOptions(`card-serial-number=${SERIAL}`);
    await w.waitLog(new RegExp(`publishing card-serial-number=${SERIAL} in ovn-cms-options: card ${SERIAL} \\(PF 0000:07:00.0\\): the only card this host sees`));
  });

  it('merges it back when the option is rewritten without it, keeping the other entries', async () => {
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-cms-options="enable-chassis-as-gw,availability-zones=az0"');
    await waitCmsOptions(`enable-chassis-as-gw,availability-zones=az0,card-serial-number=${SERIAL}`);
  });

  it('replaces another serial where it stands', async () => {
    await w.sandbox.vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-cms-options="card-serial-number=WRONG,enable-chassis-as-gw"');
    await waitCmsOptions(`card-serial-number=${SERIAL},enable-chassis-as-gw`);
    // Other external_ids are not touched.
    expect(await w.sandbox.ovsGet('Open_vSwitch', '.', 'external_ids:system-id')).toBe('hv1');
  });
});
