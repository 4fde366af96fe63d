/**
 * A plan as one Open_vSwitch transaction: what ovn-controller's
 * ovsport_create / ovsport_update_iface / ovsport_remove write, in RFC 7047
 * operations. Pure.
 *
 * - create: Interface (name, type when given, options, mtu_request,
 *   external_ids iface-id and the agent's marker) and a Port of the same name
 *   holding it, added to the bridge's ports;
 * - update: the type and mtu_request columns, and the options the change
 *   names through map mutations (delete those keys, insert the new pairs), so
 *   keys someone else set meanwhile are never overwritten wholesale;
 * - delete: the Port leaves its bridge and the Port and Interface rows are
 *   deleted explicitly (so that a new interface may take the name in the same
 *   transaction).
 */

import { namedUuid, type Operation } from '../ovsdb';
import { AGENT_MARKER, IFACE_ID } from './model';
import type { Plan } from './plan';

export function bridgeOperations(plan: Plan, bridgeUuid: string): Operation[] {
  const ops: Operation[] = [];
  const bridge = [['_uuid', '==', bridgeUuid]] as const;
  const counts = [`plug ${plan.creates.length}`, `update ${plan.updates.length}`, `unplug ${plan.deletes.length}`];
  ops.push({ op: 'comment', comment: `vifplug-ovn: ${counts.join(', ')}` });

  if (plan.deletes.length > 0) {
    // Each Port leaves the bridge that holds it: the integration bridge, or an earlier one (a move).
    const byBridge = new Map<string, string[]>();
    for (const { iface } of plan.deletes) byBridge.set(iface.bridgeUuid, [...(byBridge.get(iface.bridgeUuid) ?? []), iface.portUuid]);
    for (const [uuid, ports] of byBridge) ops.push({ op: 'mutate', table: 'Bridge', where: [['_uuid', '==', uuid]], mutations: [['ports', 'delete', ports]] });
    for (const { iface } of plan.deletes) {
      ops.push({ op: 'delete', table: 'Port', where: [['_uuid', '==', iface.portUuid]] });
      ops.push({ op: 'delete', table: 'Interface', where: [['_uuid', '==', iface.ifaceUuid]] });
    }
  }

  plan.creates.forEach(({ want, answer }, i) => {
    ops.push({
      op: 'insert',
      table: 'Interface',
      uuidName: `iface${i}`,
      row: {
        name: answer.name,
        type: answer.type === '' ? undefined : answer.type,
        options: answer.ifaceOptions,
        mtu_request: want.mtuRequest ?? null,
        external_ids: new Map([
          [IFACE_ID, want.lport],
          [AGENT_MARKER, want.type],
        ]),
      },
    });
    ops.push({
      op: 'insert',
      table: 'Port',
      uuidName: `port${i}`,
      row: { name: answer.name, interfaces: [namedUuid(`iface${i}`)], external_ids: new Map([[AGENT_MARKER, want.type]]) },
    });
  });
  if (plan.creates.length > 0) {
    ops.push({ op: 'mutate', table: 'Bridge', where: bridge, mutations: [['ports', 'insert', plan.creates.map((_, i) => namedUuid(`port${i}`))]] });
  }

  for (const { iface, change } of plan.updates) {
    const where = [['_uuid', '==', iface.ifaceUuid]] as const;
    const row: Record<string, string | number | null> = {};
    if (change.type !== undefined) row.type = change.type;
    if (change.mtuRequest !== undefined) row.mtu_request = change.mtuRequest;
    if (Object.keys(row).length > 0) ops.push({ op: 'update', table: 'Interface', where, row });
    const stale = [...change.deleteOptions, ...change.setOptions.keys()];
    if (stale.length > 0) {
      const mutations: [string, 'delete' | 'insert', string[] | Map<string, string>][] = [['options', 'delete', stale]];
      if (change.setOptions.size > 0) mutations.push(['options', 'insert', new Map(change.setOptions)]);
      ops.push({ op: 'mutate', table: 'Interface', where, mutations });
    }
  }
  return ops;
}
