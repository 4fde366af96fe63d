/**
 * The two databases as the agent reads them: which tables and columns it
 * replicates, with which conditions, and how rows become the plain data of
 * model.ts. Nothing here talks to a server.
 */

import { hostname } from 'node:os';

import type { MonitorCondition, Row, TableMonitor, Value } from '../ovsdb';
import { IFACE_ID, REQUESTED_CHASSIS, type Binding, type BridgeIface, type ChassisIdentity } from './model';

/** The local Open_vSwitch database: the chassis configuration and the bridges' ports. */
export const OVS_TABLES: Readonly<Record<string, TableMonitor>> = {
  Open_vSwitch: { columns: ['external_ids', 'bridges'] },
  Bridge: { columns: ['name', 'ports', 'datapath_type'] },
  Port: { columns: ['name', 'interfaces', 'external_ids'] },
  Interface: { columns: ['name', 'type', 'options', 'external_ids', 'mtu_request'] },
};

/** How ovn-controller finds its configuration, from the Open_vSwitch row. */
export interface LocalConfig {
  /** external_ids:system-id; '' when not set yet. */
  readonly systemId: string;
  /** external_ids:ovn-bridge, default br-int. */
  readonly bridge: string;
  /** external_ids:ovn-remote; '' when not set. */
  readonly ovnRemote: string;
  /** external_ids:hostname, else the host's name (as ovn-controller). */
  readonly hostname: string;
}

export function localConfig(openVswitch: Row | undefined): LocalConfig {
  const ids = asMap(openVswitch?.external_ids);
  return {
    systemId: ids.get('system-id') ?? '',
    bridge: ids.get('ovn-bridge') || 'br-int',
    ovnRemote: ids.get('ovn-remote') ?? '',
    hostname: ids.get('hostname') || hostname(),
  };
}

/** The integration bridge as the reconciler needs it. */
export interface IntegrationBridge {
  readonly uuid: string;
  /** Bridge datapath_type: '' or "system" (the kernel datapath), "netdev" (the userspace datapath, DPDK). */
  readonly datapathType: string;
}

/**
 * Every Interface of every bridge (OVS names are unique across bridges, and
 * the agent's own ports may sit on an earlier integration bridge), and the
 * integration bridge itself; undefined when it does not exist (yet).
 */
export function ovsInterfaces(
  rows: { bridges: ReadonlyMap<string, Row>; ports: ReadonlyMap<string, Row>; ifaces: ReadonlyMap<string, Row> },
  bridgeName: string,
): { bridge: IntegrationBridge | undefined; ifaces: BridgeIface[] } {
  let bridge: IntegrationBridge | undefined;
  const ifaces: BridgeIface[] = [];
  for (const row of rows.bridges.values()) {
    const name = String(row.name);
    if (name === bridgeName) bridge = { uuid: row._uuid, datapathType: typeof row.datapath_type === 'string' ? row.datapath_type : '' };
    for (const portUuid of asSet(row.ports)) {
      const port = rows.ports.get(portUuid);
      if (port === undefined) continue;
      const members = asSet(port.interfaces);
      for (const ifaceUuid of members) {
        const iface = rows.ifaces.get(ifaceUuid);
        if (iface === undefined) continue;
        ifaces.push({
          ifaceUuid,
          portUuid,
          bridgeUuid: row._uuid,
          bridgeName: name,
          portName: String(port.name),
          portIfaceCount: members.length,
          name: String(iface.name),
          type: String(iface.type),
          options: asMap(iface.options),
          externalIds: asMap(iface.external_ids),
          mtuRequest: typeof iface.mtu_request === 'number' ? iface.mtu_request : undefined,
          portExternalIds: asMap(port.external_ids),
        });
      }
    }
  }
  return { bridge, ifaces };
}

/**
 * The use_dpdk a provider is told, as ovn-controller knows the chassis's
 * datapath: from the integration bridge's datapath_type (which it sets from
 * external_ids:ovn-bridge-datapath-type and reports as the Chassis's
 * datapath-type). "netdev" is OVS's userspace datapath, the one DPDK ports
 * live in; "" and "system" are the kernel's.
 */
export function usesDpdk(bridge: IntegrationBridge): boolean {
  return bridge.datapathType === 'netdev';
}

/** The Southbound tables: this chassis's row and the Port_Bindings that may be requested to it. */
export function sbTables(local: LocalConfig): Readonly<Record<string, TableMonitor>> {
  return {
    Chassis: { columns: ['name', 'hostname'], where: chassisCondition(local) },
    Port_Binding: { columns: ['logical_port', 'requested_chassis', 'requested_additional_chassis', 'options'], where: bindingCondition(local, undefined) },
  };
}

/** This chassis's own row only. */
export function chassisCondition(local: LocalConfig): MonitorCondition {
  return [['name', '==', local.systemId]];
}

/**
 * Only the Port_Bindings that may be requested here are replicated, as
 * ovn-controller's own conditional monitoring does, so a Southbound DB with
 * 100,000 ports costs the agent the few it plugs: those whose
 * requested_chassis or requested_additional_chassis is this Chassis (an
 * lport of a live migration is requested to both ends), and (for the time
 * the Chassis row is missing or northd has not resolved the option yet)
 * those whose options:requested-chassis names this chassis or its hostname
 * alone (OVSDB conditions cannot look into a comma list: while the Chassis
 * row is missing the agent unplugs nothing, see southbound.ts).
 */
export function bindingCondition(local: LocalConfig, chassisUuid: string | undefined): MonitorCondition {
  const where: MonitorCondition[number][] = [
    ['options', 'includes', { [REQUESTED_CHASSIS]: local.systemId }],
    ['options', 'includes', { [REQUESTED_CHASSIS]: local.hostname }],
  ];
  if (chassisUuid !== undefined) where.push(['requested_chassis', '==', chassisUuid], ['requested_additional_chassis', 'includes', chassisUuid]);
  return where;
}

export function chassisIdentity(local: LocalConfig, chassisRows: ReadonlyMap<string, Row>): ChassisIdentity {
  for (const row of chassisRows.values()) {
    if (row.name === local.systemId) return { name: local.systemId, hostname: String(row.hostname) || local.hostname, uuid: row._uuid };
  }
  return { name: local.systemId, hostname: local.hostname, uuid: undefined };
}

export function toBinding(row: Row): Binding {
  return {
    lport: String(row.logical_port),
    requestedChassis: typeof row.requested_chassis === 'string' ? row.requested_chassis : undefined,
    requestedAdditionalChassis: asSet(row.requested_additional_chassis),
    options: asMap(row.options),
  };
}

/** The lports an update touched, for a pass limited to them. */
export function lportsOfIfaceRows(rows: Iterable<Row>): string[] {
  const out: string[] = [];
  for (const row of rows) {
    const lport = asMap(row.external_ids).get(IFACE_ID);
    if (lport !== undefined) out.push(lport);
  }
  return out;
}

const EMPTY = new Map<string, string>();

function asMap(value: Value | undefined): ReadonlyMap<string, string> {
  if (value instanceof Map) return value as ReadonlyMap<string, string>;
  return EMPTY;
}

function asSet(value: Value | undefined): string[] {
  if (Array.isArray(value)) return value as string[];
  if (typeof value === 'string') return [value];
  return [];
}
