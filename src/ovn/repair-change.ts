/**
 * Repair mode's removals as one Open_vSwitch transaction (pure): each of
 * ovn-controller's ports leaves the bridge and its Port and Interface rows
 * are deleted, as ovn-controller's own ovsport_remove does, but only if
 * every port is still exactly as the agent judged it: the Interface with
 * the same name, iface-id and ovn-plugged, alone in the same Port. A `wait`
 * with no timeout says so; if anything changed meanwhile (ovn-controller
 * removed or replaced the port itself), the whole transaction fails and the
 * next pass judges the fresh replica, so the agent never removes a port it
 * did not judge, and never counts a repair someone else made.
 */

import type { Operation } from '../ovsdb';
import { IFACE_ID, OVN_PLUGGED } from './model';
import type { RepairRemoval } from './repair';

export function repairOperations(removals: readonly RepairRemoval[]): Operation[] {
  const ops: Operation[] = [{ op: 'comment', comment: `vifplug-ovn: repair ${removals.length} of ovn-controller's ports` }];
  for (const { iface, lport, type } of removals) {
    ops.push({
      op: 'wait',
      table: 'Interface',
      where: [
        ['_uuid', '==', iface.ifaceUuid],
        ['name', '==', iface.name],
        ['external_ids', 'includes', new Map([[IFACE_ID, lport], [OVN_PLUGGED, type]])],
      ],
      columns: [],
      until: '==',
      rows: [{}],
      timeout: 0,
    });
    ops.push({ op: 'wait', table: 'Port', where: [['_uuid', '==', iface.portUuid], ['interfaces', '==', [iface.ifaceUuid]]], columns: [], until: '==', rows: [{}], timeout: 0 });
  }
  const byBridge = new Map<string, string[]>();
  for (const { iface } of removals) byBridge.set(iface.bridgeUuid, [...(byBridge.get(iface.bridgeUuid) ?? []), iface.portUuid]);
  for (const [uuid, ports] of byBridge) ops.push({ op: 'mutate', table: 'Bridge', where: [['_uuid', '==', uuid]], mutations: [['ports', 'delete', ports]] });
  for (const { iface } of removals) {
    ops.push({ op: 'delete', table: 'Port', where: [['_uuid', '==', iface.portUuid]] });
    ops.push({ op: 'delete', table: 'Interface', where: [['_uuid', '==', iface.ifaceUuid]] });
  }
  return ops;
}
