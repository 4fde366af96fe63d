/**
 * What the vifplug-ovn agent reasons about, in OVN's words: this chassis, the
 * Southbound Port_Bindings requested to it, and the interfaces of the
 * integration bridge. Plain data read from the two OVSDB replicas; the pure
 * core (desired.ts, plan.ts, pending.ts) works on nothing else.
 */

/**
 * The agent's mark on the OVS Interface and Port rows it creates, in
 * external_ids, with the vif-plug-type as value. It is how the agent knows
 * its own ports after a restart (there is no state file), and the only rows
 * it ever changes or deletes. It is deliberately not OVN's `ovn-plugged`:
 * ovn-controller deletes ports marked `ovn-plugged` with a type it has a
 * provider for, and the two must never fight over a port.
 */
export const AGENT_MARKER = 'vifplug-plugged';

/** external_ids:iface-id: the lport an interface is for (OVN's integration convention). */
export const IFACE_ID = 'iface-id';

/**
 * ovn-controller's mark on the ports it plugs itself, with the
 * vif-plug-type as value (controller/vif-plug.c OVN_PLUGGED_EXT_ID). The
 * agent never sets it; in repair mode it removes such ports that
 * ovn-controller left wrong (repair.ts).
 */
export const OVN_PLUGGED = 'ovn-plugged';

/** The lport options the agent reads itself (the rest go to the provider as they are). */
export const VIF_PLUG_TYPE = 'vif-plug-type';
export const VIF_PLUG_MTU_REQUEST = 'vif-plug-mtu-request';
export const REQUESTED_CHASSIS = 'requested-chassis';

/** This chassis as ovn-controller identifies it. */
export interface ChassisIdentity {
  /** Open_vSwitch external_ids:system-id, the SB Chassis name. */
  readonly name: string;
  /** The hostname OVN knows the chassis by (external_ids:hostname, else the host's). */
  readonly hostname: string;
  /** The SB Chassis row's uuid; undefined until ovn-controller registered it. */
  readonly uuid: string | undefined;
}

/** A Southbound Port_Binding, as far as plugging is concerned. */
export interface Binding {
  /** logical_port. */
  readonly lport: string;
  /** The uuid in requested_chassis (northd resolved options:requested-chassis); undefined when empty. */
  readonly requestedChassis: string | undefined;
  /**
   * The uuids in requested_additional_chassis: the chassis after the first
   * in a comma list (a live migration's other end). OVN binds there too but
   * plugs only on the main chassis.
   */
  readonly requestedAdditionalChassis: readonly string[];
  /** Port_Binding.options: NB Logical_Switch_Port options, copied by northd. */
  readonly options: ReadonlyMap<string, string>;
}

/**
 * An Interface of the local OVSDB, with the Port and Bridge that hold it:
 * usually of the integration bridge; of another bridge when it was left
 * there by an earlier ovn-bridge (the agent moves its own) or is someone
 * else's (its name is still taken: OVS names are unique across bridges).
 */
export interface BridgeIface {
  readonly ifaceUuid: string;
  readonly portUuid: string;
  readonly bridgeUuid: string;
  readonly bridgeName: string;
  readonly portName: string;
  /** How many interfaces the Port has: a bond is never the agent's. */
  readonly portIfaceCount: number;
  readonly name: string;
  readonly type: string;
  readonly options: ReadonlyMap<string, string>;
  readonly externalIds: ReadonlyMap<string, string>;
  /** mtu_request; undefined when unset. */
  readonly mtuRequest: number | undefined;
  /** The Port's external_ids. */
  readonly portExternalIds: ReadonlyMap<string, string>;
}

/** A port the agent should plug: a Port_Binding requested here with a served vif-plug-type. */
export interface Want {
  readonly lport: string;
  readonly type: string;
  /** Port_Binding.options, given to the provider as lport options. */
  readonly options: ReadonlyMap<string, string>;
  /** From vif-plug-mtu-request; undefined: no MTU request (a set one is removed). */
  readonly mtuRequest: number | undefined;
}

/** What a provider answered to a CREATE prepare. */
export type CreateAnswer =
  | {
      readonly kind: 'plug';
      readonly ctxId: string;
      readonly name: string;
      /** '' leaves the Interface type as it is (a system netdev on create). */
      readonly type: string;
      readonly ifaceOptions: ReadonlyMap<string, string>;
    }
  | { readonly kind: 'declined' | 'error'; readonly reason: string; readonly message: string; readonly retryable: boolean };

/** What a provider answered to a REMOVE prepare. */
export type RemoveAnswer =
  | { readonly kind: 'plug'; readonly ctxId: string }
  | { readonly kind: 'declined' | 'error'; readonly reason: string; readonly message: string; readonly retryable: boolean };

/** Why an lport is not (yet) plugged as asked: an UPPER_SNAKE reason for machines and a sentence for people. */
export interface Problem {
  readonly reason: string;
  readonly message: string;
  /** false: retrying cannot help until something changes (bad options, a port not ours in the way). */
  readonly retryable: boolean;
}
