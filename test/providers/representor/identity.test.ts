/**
 * Identify and ListCards through a real vifplugd on fake hosts: the host side
 * of a DPU (VFs on a PF that is a plain NIC, its card's VPD), the DPU side (a
 * BlueField whose eswitch manages the host's functions), and hosts whose VPD
 * is missing, broken or shared by several cards.
 */

import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../../src/client/client';
import { CardSelection } from '../../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../../helpers/expect-status';
import { spawnDaemon, type Daemon } from '../../helpers/daemon';
import { FakeHost } from '../../helpers/host/fake-host';
import { HYPERVISOR_PF_MAC as HOST_PF_MAC, layOutHypervisor } from '../../helpers/host/layouts';
import { BLUEFIELD_VPD, connectxVpd, vpdBytes } from '../../helpers/host/vpd';
import { DPU_HOST_PF_MAC, dpuHost } from './harness';

let host: FakeHost | undefined;
let daemon: Daemon | undefined;
let client: VifplugClient | undefined;

afterEach(async () => {
  client?.close();
  await daemon?.stop('SIGTERM');
  host?.remove();
  host = daemon = client = undefined;
});

async function serve(h: FakeHost, providers = 'representor,dummy'): Promise<VifplugClient> {
  host = h;
  daemon = await spawnDaemon(['--listen', `unix://${h.dir}/v.sock`, '--providers', providers, '--sysfs-root', h.sysfsRoot, '--devlink-bin', h.devlinkBin, '--ip-bin', h.ipBin, '--resync-interval', '0']);
  client = new VifplugClient(`unix://${h.dir}/v.sock`, { maxAttempts: 1 });
  return client;
}

describe('Identify on the host side of a DPU', () => {
  it('answers the PF MAC (its current address), the VF number, the card serial and the options to use', async () => {
    const c = await serve(layOutHypervisor(new FakeHost()));
    const id = await c.identify('0000:05:00.5');
    expect(id).toEqual({
      vfPciAddress: '0000:05:00.5',
      pfPciAddress: '0000:05:00.0',
      pfNetdev: 'enp5s0f0',
      pfMacAddress: HOST_PF_MAC,
      vfNum: 2,
      cardSerialNumber: 'MT2113X00001',
      cardSerialProblem: undefined,
      lportOptions: new Map([
        ['vif-plug:representor:pf-mac', HOST_PF_MAC],
        ['vif-plug:representor:vf-num', '2'],
      ]),
      warnings: [],
    });
  });

  it("reports the PF netdev's current address, not its permanent one, and warns for a bond slave", async () => {
    const h = layOutHypervisor(new FakeHost());
    h.removeNetdev('enp5s0f0');
    h.addNetdev({ name: 'enp5s0f0', parent: { pci: '0000:05:00.0' }, address: '02:aa:bb:cc:dd:ee', permAddress: HOST_PF_MAC });
    const c = await serve(h);
    const id = await c.identify('0000:05:00.3');
    expect(id.pfMacAddress).toBe('02:aa:bb:cc:dd:ee');
    expect(id.warnings[0]).toContain('PF enp5s0f0 is a bond slave');
    expect(id.warnings[0]).toContain(`permanent MAC is ${HOST_PF_MAC}`);
  });

  it('still answers when the card serial cannot be read, and says why', async () => {
    const h = layOutHypervisor(new FakeHost());
    h.setVpd('0000:05:00.0', vpdBytes(BLUEFIELD_VPD).subarray(0, 160));
    const c = await serve(h);
    const id = await c.identify('0000:05:00.4');
    expect(id.vfNum).toBe(1);
    expect(id.cardSerialNumber).toBe('');
    expect(id.cardSerialProblem?.reason).toBe('VPD_MALFORMED');
    expect(id.cardSerialProblem?.message).toMatch(/^PF 0000:05:00.0: its VPD is not valid: item 0x90 at offset \d+ declares/);
  });

  it('refuses a malformed address, an unknown device, a PF, and a provider that reads no hardware', async () => {
    const c = await serve(layOutHypervisor(new FakeHost()));
    await expectStatus(c.identify('05:00.3'), Code.INVALID_ARGUMENT, 'INVALID_FIELD');
    await expectStatus(c.identify(''), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    const missing = await expectStatus(c.identify('0000:99:00.1'), Code.NOT_FOUND, 'PCI_DEVICE_NOT_FOUND');
    expect(missing.detail).toContain('no PCI device 0000:99:00.1');
    const pf = await expectStatus(c.identify('0000:05:00.0'), Code.FAILED_PRECONDITION, 'NOT_A_VF');
    expect(pf.detail).toContain('give the PCI address of the VF');
    await expectStatus(c.identify('0000:05:00.3', 'dummy'), Code.UNIMPLEMENTED, 'IDENTIFY_UNSUPPORTED');
    await expectStatus(c.identify('0000:05:00.3', 'nosuch'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
  });
});

describe('ListCards', () => {
  it("on a BlueField: picks its own card, the one whose eswitch manages the host's functions, over another card", async () => {
    const { host: h } = dpuHost();
    h.setVpd('0000:03:00.0', vpdBytes(BLUEFIELD_VPD));
    // Another card in the same machine, not managing any host.
    h.addNetdev({ name: 'enp8s0f0', parent: { pci: '0000:08:00.0' }, address: '0c:42:a1:08:00:00' });
    h.setVpd('0000:08:00.0', vpdBytes(connectxVpd('MT2203X99999')));
    const c = await serve(h);
    const cards = await c.listCards();
    expect(cards.chassisCardSerialNumber).toBe('MT2113X00001');
    expect(cards.selection).toBe(CardSelection.CARD_SELECTION_EXTERNAL_HOST_MANAGER);
    expect(cards.selectionMessage).toContain("card MT2113X00001 (PF 0000:03:00.0): its eswitch manages an external host's functions");
    expect(cards.cards.map((x) => [x.serialNumber, x.pfPciAddresses, x.managesExternalHost, x.selected])).toEqual([
      ['MT2113X00001', ['0000:03:00.0'], true, true],
      ['MT2203X99999', ['0000:08:00.0'], false, false],
    ]);
    expect(cards.cards[0]).toMatchObject({ partNumber: 'MBF2H332A-AEEOT', engineeringChange: 'A5', productName: BLUEFIELD_VPD.id });
    expect(DPU_HOST_PF_MAC).toBe(HOST_PF_MAC);
  });

  it('on a host with one card (its two PFs report one serial): that card', async () => {
    const h = layOutHypervisor(new FakeHost());
    h.addNetdev({ name: 'enp5s0f1', parent: { pci: '0000:05:00.1' }, address: 'b8:3f:d2:e1:8f:dd' });
    h.setVpd('0000:05:00.1', vpdBytes(BLUEFIELD_VPD));
    const cards = await (await serve(h)).listCards();
    expect(cards.selection).toBe(CardSelection.CARD_SELECTION_ONLY_CARD);
    expect(cards.chassisCardSerialNumber).toBe('MT2113X00001');
    expect(cards.cards[0]?.pfPciAddresses).toEqual(['0000:05:00.0', '0000:05:00.1']);
  });

  it('picks none, saying why, with two cards and no DPU, or when a PF gives no serial', async () => {
    const h = layOutHypervisor(new FakeHost());
    h.addNetdev({ name: 'enp8s0f0', parent: { pci: '0000:08:00.0' }, address: '0c:42:a1:08:00:00' });
    h.setVpd('0000:08:00.0', vpdBytes(connectxVpd('MT2203X99999')));
    let cards = await (await serve(h)).listCards();
    expect(cards.selection).toBe(CardSelection.CARD_SELECTION_CARDS_AMBIGUOUS);
    expect(cards.chassisCardSerialNumber).toBe('');
    expect(cards.selectionMessage).toContain('this host sees 2 cards');
    client!.close();
    await daemon!.stop('SIGTERM');

    h.setVpd('0000:08:00.0', vpdBytes({ id: 'NIC', readOnly: [['PN', 'X']] }));
    cards = await (await serve(h)).listCards();
    expect(cards.selection).toBe(CardSelection.CARD_SELECTION_VPD_UNREADABLE);
    expect(cards.problems).toEqual([{ pciAddress: '0000:08:00.0', reason: 'VPD_NO_SERIAL', message: 'PF 0000:08:00.0: its VPD gives no serial number: the read-only section has no SN keyword (keywords: PN, RV)' }]);
    expect(cards.selectionMessage).toContain('may be another');
  });
});
