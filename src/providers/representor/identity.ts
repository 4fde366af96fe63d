/**
 * The chassis identity a CMS needs, read from sysfs: on the host side, what
 * Nova reports for a remote-managed port's VF (Identify: the PF netdev's
 * current MAC, the VF number, the card serial); on either side, the cards
 * whose PFs the host sees and the one whose serial identifies this chassis
 * (ListCards, published by vifplug-ovn --publish-card-serial as
 * ovn-cms-options card-serial-number). The card serial is the SN keyword of
 * the PF's PCI VPD (vpd.ts). The reading is I/O; the choice of card is pure
 * (chooseCard).
 */

import { PlugError } from '../../registry/errors';
import type { CardInfo, CardListing, CardProblem, FunctionIdentity } from '../../registry/provider';
import { capList } from './messages';
import { isPciAddress } from './names';
import { optionsFor } from './options';
import { parsePhysPortName } from './phys-port-name';
import type { SysfsReader } from './sysfs';
import { VPD_MAX_BYTES, VpdError, cardFacts, parseVpd, type CardFacts } from './vpd';

/** A PF's VPD read: its card's facts, or why there are none. */
export type PfCard = { readonly pf: string; readonly facts: CardFacts } | { readonly pf: string; readonly problem: CardProblem };

/** The card facts of a PF, from its VPD; never throws. */
export async function readPfCard(sysfs: SysfsReader, pf: string): Promise<PfCard> {
  const problem = (reason: string, message: string): PfCard => ({ pf, problem: { pciAddress: pf, reason, message: `PF ${pf}: ${message}` } });
  let bytes: Buffer | undefined;
  try {
    bytes = await sysfs.pciVpd(pf, VPD_MAX_BYTES);
  } catch (err) {
    return problem('VPD_UNREADABLE', `reading its vpd file failed (${(err as Error).message})`);
  }
  if (bytes === undefined) return problem('VPD_MISSING', 'it has no vpd file (the device has no VPD, or the kernel does not show it)');
  try {
    return { pf, facts: cardFacts(parseVpd(bytes)) };
  } catch (err) {
    if (!(err instanceof VpdError)) throw err;
    const reason = err.problem === 'no-serial' ? 'VPD_NO_SERIAL' : err.problem === 'checksum' ? 'VPD_CHECKSUM' : 'VPD_MALFORMED';
    return problem(reason, `its VPD ${err.problem === 'no-serial' ? 'gives no serial number' : 'is not valid'}: ${err.message}`);
  }
}

/** Identify: what a CMS reports for the VF at `vf`. */
export async function identifyVf(sysfs: SysfsReader, vf: string): Promise<FunctionIdentity> {
  if (!isPciAddress(vf)) throw new PlugError('INVALID_ARGUMENT', 'INVALID_FIELD', `vf_pci_address ${JSON.stringify(vf)} is not a PCI address`, { metadata: { field: 'vf_pci_address' } });
  if (!(await sysfs.pciDeviceExists(vf))) {
    throw new PlugError('NOT_FOUND', 'PCI_DEVICE_NOT_FOUND', `no PCI device ${vf} under ${sysfs.root}/bus/pci/devices; check the address (lspci -D) and --sysfs-root`, { metadata: { pci_address: vf } });
  }
  const pf = await sysfs.physfn(vf);
  if (pf === undefined || !isPciAddress(pf)) {
    throw new PlugError('FAILED_PRECONDITION', 'NOT_A_VF', `${vf} is not a VF (it has no physfn link): give the PCI address of the VF the VM uses, not its PF's`, { metadata: { pci_address: vf } });
  }
  const vfNum = await sysfs.vfIndexOf(pf, vf);
  if (vfNum === undefined) {
    throw new PlugError('FAILED_PRECONDITION', 'VF_NUMBER_UNKNOWN', `${vf} is a VF of ${pf}, but none of ${pf}'s virtfnN links points at it, so its VF number is unknown`, { metadata: { pci_address: vf, pf_pci_address: pf } });
  }
  const netdevs = await pfNetdevs(sysfs, pf);
  if (netdevs.length === 0) {
    throw new PlugError('FAILED_PRECONDITION', 'PF_NETDEV_NOT_FOUND', `PF ${pf} of ${vf} has no netdev (no driver bound, or not a NIC), so its MAC is unknown`, { metadata: { pf_pci_address: pf } });
  }
  if (netdevs.length > 1) {
    throw new PlugError('FAILED_PRECONDITION', 'PF_NETDEV_AMBIGUOUS', `PF ${pf} of ${vf} carries several netdevs that are not representors (${capList(netdevs)}); which one's MAC a CMS reports is not clear`, {
      metadata: { pf_pci_address: pf, netdevs: capList(netdevs) },
    });
  }
  const pfNetdev = netdevs[0]!;
  const [pfMac, permanent] = await Promise.all([sysfs.address(pfNetdev), sysfs.permanentAddress(pfNetdev)]);
  if (pfMac === undefined) {
    throw new PlugError('FAILED_PRECONDITION', 'PF_NETDEV_NOT_FOUND', `PF netdev ${pfNetdev} of ${vf} shows no MAC address`, { metadata: { pf_pci_address: pf, pf_netdev: pfNetdev } });
  }
  const warnings: string[] = [];
  if (permanent !== undefined) {
    warnings.push(
      `PF ${pfNetdev} is a bond slave: its address ${pfMac} is the bond's (its permanent MAC is ${permanent}); ` +
        'every slave carries it, so the DPU cannot tell from it which PF the VF belongs to and refuses it as ambiguous (VF-LAG)',
    );
  }
  const card = await readPfCard(sysfs, pf);
  return {
    vfPciAddress: vf,
    pfPciAddress: pf,
    pfNetdev,
    pfMac,
    vfNum,
    cardSerial: 'facts' in card ? card.facts.serialNumber : '',
    ...('problem' in card ? { cardSerialProblem: card.problem } : {}),
    lportOptions: optionsFor(pfMac, { kind: 'vf', num: vfNum }),
    warnings,
  };
}

/** A PF's own netdevs: those of its PCI device that are not representors (kernel 5.8+ links representors there too). */
async function pfNetdevs(sysfs: SysfsReader, pf: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await sysfs.pciNetdevs(pf)) {
    const ppn = await sysfs.attribute(name, 'phys_port_name').catch(() => undefined);
    const parsed = ppn === undefined ? undefined : parsePhysPortName(ppn);
    if (parsed === undefined || parsed.kind === 'uplink') out.push(name);
  }
  return out;
}

/** The PCI PFs that carry this host's netdevs: the functions of its cards. */
export async function hostPfs(sysfs: SysfsReader): Promise<string[]> {
  const pfs = new Set<string>();
  await Promise.all(
    (await sysfs.netdevNames()).map(async (name) => {
      const [device, onVf] = await Promise.all([sysfs.deviceName(name).catch(() => undefined), sysfs.isOnVirtualFunction(name).catch(() => false)]);
      if (device !== undefined && isPciAddress(device) && !onVf) pfs.add(device);
    }),
  );
  return [...pfs].sort();
}

/** ListCards: every PF's card, grouped by serial, and the chassis's pick. */
export async function listCards(sysfs: SysfsReader, externalManagers: ReadonlySet<string>): Promise<CardListing> {
  const pfs = await hostPfs(sysfs);
  const reads = await Promise.all(pfs.map((pf) => readPfCard(sysfs, pf)));
  return chooseCard(reads, externalManagers);
}

/**
 * Which card identifies the chassis. A DPU sees its own card's PFs (and
 * perhaps other cards'); the one whose eswitch manages an external host's
 * functions is the card the host's VFs live on, so its serial is what Nova
 * reports for them. Without such a card, the only card the host has. Never
 * a guess: several candidates, or a candidate PF whose VPD gives no serial
 * (it may be another card), pick none.
 */
export function chooseCard(reads: readonly PfCard[], externalManagers: ReadonlySet<string>): CardListing {
  const bySerial = new Map<string, { facts: CardFacts; pfs: string[] }>();
  const problems: CardProblem[] = [];
  for (const read of reads) {
    if ('problem' in read) {
      problems.push(read.problem);
      continue;
    }
    const card = bySerial.get(read.facts.serialNumber);
    if (card === undefined) bySerial.set(read.facts.serialNumber, { facts: read.facts, pfs: [read.pf] });
    else card.pfs.push(read.pf);
  }
  const managers = [...bySerial.entries()].filter(([, c]) => c.pfs.some((pf) => externalManagers.has(pf))).map(([serial]) => serial);
  const failedManagers = problems.filter((p) => externalManagers.has(p.pciAddress));
  const all = [...bySerial.keys()];
  let chosen: string | undefined;
  let selection: CardListing['selection'];
  let message: string;
  const describe = (serial: string) => `${serial} (PF ${bySerial.get(serial)!.pfs.join(', ')})`;
  if (managers.length > 0 || failedManagers.length > 0) {
    if (failedManagers.length > 0) {
      selection = 'vpd-unreadable';
      message = `no card is picked: ${capList(failedManagers.map((p) => p.pciAddress))} manages an external host's functions but gives no serial number (${failedManagers[0]!.message})`;
    } else if (managers.length === 1) {
      chosen = managers[0]!;
      selection = 'external-host-manager';
      message = `card ${describe(chosen)}: its eswitch manages an external host's functions (devlink ports with external true), so it is the card this DPU serves a host with`;
    } else {
      selection = 'cards-ambiguous';
      message = `no card is picked: ${capList(managers.map(describe))} all manage an external host's functions; set ovn-cms-options card-serial-number by hand`;
    }
  } else if (all.length === 1 && problems.length === 0) {
    chosen = all[0]!;
    selection = 'only-card';
    message = `card ${describe(chosen)}: the only card this host sees`;
  } else if (all.length === 0) {
    selection = problems.length > 0 ? 'vpd-unreadable' : 'no-card';
    message = problems.length > 0 ? `no card is picked: no PF gives a serial number (${problems[0]!.message})` : 'no card is picked: this host sees no PCI network function';
  } else if (all.length === 1) {
    selection = 'vpd-unreadable';
    message = `no card is picked: ${describe(all[0]!)} is one card, but ${capList(problems.map((p) => p.pciAddress))} gives no serial number and may be another (${problems[0]!.message})`;
  } else {
    selection = 'cards-ambiguous';
    message = `no card is picked: this host sees ${all.length} cards (${capList(all.map(describe))}) and none manages an external host's functions; set ovn-cms-options card-serial-number by hand`;
  }
  const cards: CardInfo[] = [...bySerial.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([serial, c]) => ({
      ...c.facts,
      pfPciAddresses: [...c.pfs].sort(),
      managesExternalHost: c.pfs.some((pf) => externalManagers.has(pf)),
      selected: serial === chosen,
    }));
  return { cards, chassisSerial: chosen ?? '', selection, message, problems };
}
