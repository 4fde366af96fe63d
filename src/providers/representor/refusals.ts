/**
 * What a refused lookup says: what was searched, what exists, and what the
 * operator can do, in words that fit the host's shape (a DPU, a switchdev
 * host, a NIC in legacy SR-IOV mode or the host side of a SmartNIC, a host
 * without devlink). Pure and bounded (messages.ts caps every list).
 */

import type { Anchor, Inventory } from './inventory';
import { capList, describePort, summariseNumbers } from './messages';
import type { Contest } from './ownership';
import { describeFunction, type FunctionSelector } from './options';
import type { NetdevFacts } from './snapshot';

/** How a PF is identified: "PF enp7s0f0 on pci/0000:07:00.0" or "host PF of pcipf port pci/0000:03:00.0/196608 (controller 1 pfnum 0, pf0hpf)". */
export function describeAnchor(anchor: Anchor, withDevice = true): string {
  switch (anchor.kind) {
    case 'pcipf':
      return `host PF of pcipf port ${anchor.port.key} (controller ${anchor.controller} pfnum ${anchor.pfnum}${anchor.port.netdev ? `, ${anchor.port.netdev}` : ''})`;
    case 'compat':
      return `host PF ${anchor.pfnum} of uplink ${anchor.port.netdev} (smart_nic compat MAC)${withDevice ? ` on ${anchor.devices[0]}` : ''}`;
    case 'uplink':
      return `PF ${anchor.port.netdev}${withDevice && anchor.devices.length > 0 ? ` on ${anchor.devices.join(' + ')}` : ''}`;
  }
}

/** What was searched for a VF or SF of `anchor`: "local pcivf port with vfnum 4 under pci/0000:07:00.0". */
export function describeSearch(anchor: Anchor, fn: 'vf' | 'sf', num: number): string {
  const flavour = fn === 'vf' ? 'pcivf' : 'pcisf';
  const numName = fn === 'vf' ? 'vfnum' : 'sfnum';
  const where = anchor.devices.length > 0 ? `under ${anchor.devices.join(' + ')}` : `with the phys_switch_id of ${anchor.port.netdev}`;
  switch (anchor.kind) {
    case 'pcipf':
      return `${flavour} port with controller ${anchor.controller} pfnum ${anchor.pfnum} ${numName} ${num} ${where}`;
    case 'compat':
      return `netdev with phys_port_name c<N>pf${anchor.pfnum}${fn}${num} ${where}`;
    case 'uplink':
      // "local": external (DPU host) ports on the same device are not this PF's.
      return anchor.viaDevlink ? `local ${flavour} port with ${numName} ${num} ${where}` : `netdev with phys_port_name pf<N>${fn}${num} ${where}`;
  }
}

/**
 * Several PFs have the MAC (bond slaves, VF-LAG). A bond gives every slave
 * its MAC as the current address, the one a CMS reports (Nova's
 * pf_mac_address is the PF netdev's address), so a slave whose permanent MAC
 * equals the bond's is no more "the PF meant" than the others.
 */
export function ambiguousPfs(mac: string, anchors: readonly Anchor[]): string {
  const named = anchors.map((a) => `${describeAnchor(a)}${a.permanentMac === undefined ? '' : ` (permanent MAC ${a.permanentMac})`}`);
  const bonded = anchors.some((a) => a.permanentMac !== undefined);
  if (!bonded) return `pf-mac ${mac} is ambiguous: ${capList(named)} all have it (bonded or VF-LAG ports can share a MAC); refusing to guess which PF is meant. Give a MAC that one PF alone has`;
  const selectable = anchors.filter((a) => a.permanentMac !== undefined).map((a) => `${a.port.netdev || a.port.key} by ${a.permanentMac}`);
  const stuck = anchors.filter((a) => a.permanentMac === undefined).map((a) => a.port.netdev || a.port.key);
  return (
    `pf-mac ${mac} is ambiguous: ${capList(named)} all carry it as their current address (a bond over these uplinks: VF-LAG); ` +
    'a permanent MAC equal to it does not prove which PF is meant, since a CMS reports the current address for the VFs of every slave. Refusing to guess. ' +
    `Select a PF by its permanent MAC (\`ip link\` shows it as permaddr; sysfs as bonding_slave/perm_hwaddr): ${capList(selectable)}` +
    (stuck.length > 0 ? `; ${capList(stuck)} cannot be singled out by a MAC while bonded (its permanent MAC is the bond's)` : '')
  );
}

/** A function that another PF may own as well (ownership.ts). */
export function contested(fn: FunctionSelector, anchor: Anchor, contest: Contest, inventory: Inventory): string {
  const candidates = capList(contest.candidates.map(describePort));
  const others = contest.pfs.length > 1 ? `that of ${capList(contest.pfs.slice(1))}` : "another PF's";
  if (contest.kind === 'device') {
    return (
      `${describeFunction(fn)} of ${describeAnchor(anchor)} cannot be told apart from ${others}: they share ${contest.shared}, ` +
      `and no uplink's port number singles out its own (${candidates}); refusing to guess. ` +
      'What would tell them apart: a PF number in these ports equal to the port number of one uplink alone'
    );
  }
  const tell = [
    inventory.devlinkAvailable
      ? 'a driver with devlink VF ports (their ports name their PF\'s device)'
      : `devlink, whose ports name their PF's device (unavailable here: ${inventory.devlinkProblem ?? 'not used'})`,
    'a kernel that links representors to their PF\'s PCI device (5.8 and later)',
  ];
  if (contest.fn === 'vf') {
    tell.push(
      contest.bothHaveVf
        ? `not the VFs: each of these PFs has a VF ${contest.num} (virtfn${contest.num} link)`
        : `the PFs' virtfn${contest.num} links, if one PF alone had VF ${contest.num}; they could not be read for all of them`,
    );
  }
  return (
    `${describeFunction(fn)} of ${describeAnchor(anchor)} cannot be told apart from ${others}: ` +
    `they share ${contest.shared}, and the representors (${candidates}) are virtual netdevs that sysfs does not link to a PF; ` +
    `refusing to guess. What would tell them apart: ${tell.join('; ')}`
  );
}

/** No PF has the MAC. */
export function noPf(mac: string, inventory: Inventory): string {
  const seen = [...inventory.anchors]
    .sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0))
    .map((a) => `${a.mac} (${describeAnchor(a)})`);
  const parts = [seen.length > 0 ? `no PF has MAC ${mac}; PFs seen: ${capList(seen)}` : `no PF has MAC ${mac}; no PF with a MAC was seen at all`];
  const local = inventory.others.filter((f) => f.address === mac || f.permAddress === mac);
  for (const facts of local.slice(0, 2)) parts.push(notAnUplink(mac, facts));
  if (inventory.pfsWithoutMac.length > 0) {
    parts.push(`pcipf ports without a MAC (hw_addr 00:00:00:00:00:00 and no smart_nic compat file): ${capList(inventory.pfsWithoutMac.map(describePort))}`);
  }
  if (local.length === 0 && inventory.virtualPorts > 0) {
    parts.push(
      `${inventory.virtualPorts} devlink port(s) have flavour virtual: VFs whose eswitch is not managed here, as on the host side of a SmartNIC/DPU ` +
        '(the representors live on the DPU: plug there, with the host PF\'s MAC) or on a NIC in legacy SR-IOV mode (no representors exist)',
    );
  }
  let message = parts.join('; ');
  if (!inventory.devlinkAvailable) message += ` (sysfs only: ${inventory.devlinkProblem ?? 'devlink unavailable'})`;
  return message;
}

/** The MAC is a local netdev's, but not a switchdev uplink's: say what it is instead. */
function notAnUplink(mac: string, facts: NetdevFacts): string {
  const where = facts.deviceName === undefined ? '' : ` on pci/${facts.deviceName}`;
  if (facts.onVirtualFunction === true) {
    return `${mac} is the MAC of ${facts.name}${where}, a VF, not a PF: pf-mac takes the MAC of the PF whose VF is to be plugged (vf-num then says which VF)`;
  }
  const vfs = facts.vfIndexes ?? [];
  if (vfs.length > 0) {
    return (
      `${mac} is ${facts.name}${where}, a PF with ${vfs.length} VF(s) but no switchdev uplink port (no devlink physical port, no phys_port_name p<N>): ` +
      `its eswitch is not in switchdev mode here, so it has no representors. ${legacyOrSmartNic(facts.deviceName)}`
    );
  }
  return `${mac} is ${facts.name}${where}, which is not a switchdev uplink (no devlink physical port, no phys_port_name p<N>) and has no VFs`;
}

/** No port for the function asked. */
export function noFunction(fn: FunctionSelector, anchor: Anchor, inventory: Inventory): string {
  if (fn.kind === 'pf') {
    return `no PF representor (phys_port_name c<N>pf${anchor.pfnum ?? '<N>'}) under ${anchor.devices.join(' + ')} for ${describeAnchor(anchor)}, MAC ${anchor.mac}`;
  }
  const parts = [`no ${describeSearch(anchor, fn.kind, fn.num)} (${describeAnchor(anchor, false)}, MAC ${anchor.mac})`];
  const untrusted = anchor.untrusted.filter((e) => fn.kind === 'vf' && e.vfnum === fn.num);
  if (untrusted.length > 0) {
    parts.push(
      `${capList(untrusted.map(describePort))} claims VF ${fn.num}, which the PF does not have (its virtfn links: ${summariseNumbers(anchor.vfIndexes ?? [])}); ` +
        'not trusted (mlx5 "adjacent" functions reported such numbers before a 2025 fix)',
    );
  }
  const none = anchor.vfs.size === 0 && anchor.sfs.size === 0 && anchor.contested.size === 0 && anchor.untrusted.length === 0;
  if (anchor.kind === 'uplink' && none) parts.push(noRepresentorsAtAll(anchor, inventory));
  else if (anchor.kind === 'uplink' && fn.kind === 'vf' && anchor.vfIndexes !== undefined && anchor.vfIndexes.length > 0 && !anchor.vfIndexes.includes(fn.num)) {
    parts.push(`the PF has no VF ${fn.num} (virtfn links: ${summariseNumbers(anchor.vfIndexes)})`);
  }
  if (!inventory.devlinkAvailable && anchor.kind === 'uplink') parts.push(`sysfs only: ${inventory.devlinkProblem ?? 'devlink unavailable'}`);
  const present = summariseNumbers((fn.kind === 'vf' ? anchor.vfs : anchor.sfs).keys());
  return `${parts.join('; ')}; present: ${present}`;
}

/** A host uplink without any representor: why, from what the host shows. */
function noRepresentorsAtAll(anchor: Anchor, inventory: Inventory): string {
  const vfs = anchor.vfIndexes;
  const device = anchor.devices.find((d) => d.startsWith('pci/'));
  if (vfs !== undefined && vfs.length > 0) {
    return (
      `the PF has ${vfs.length} VF(s) (virtfn ${summariseNumbers(vfs)}) but not one representor: its eswitch is not in switchdev mode here. ` +
      legacyOrSmartNic(device?.slice('pci/'.length))
    );
  }
  if (vfs !== undefined) {
    return `the PF has no VFs and no representors: create VFs (sriov_numvfs of ${device ?? 'its PCI device'}) with the eswitch in switchdev mode`;
  }
  return inventory.virtualPorts > 0 ? `no representor at all for this PF; ${inventory.virtualPorts} devlink port(s) have flavour virtual (VFs whose eswitch is not managed here)` : 'no representor at all for this PF';
}

function legacyOrSmartNic(bdf: string | undefined): string {
  const dev = bdf === undefined ? '<PCI address>' : bdf;
  return (
    `On a NIC in legacy SR-IOV mode, \`devlink dev eswitch set pci/${dev} mode switchdev\` creates the representors; ` +
    'on the host side of a SmartNIC/DPU, they live on the DPU: plug there, with this PF\'s MAC'
  );
}
