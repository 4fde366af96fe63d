/**
 * Which lports this chassis should plug: the desired side of the reconciler.
 */

import { REQUESTED_CHASSIS, VIF_PLUG_MTU_REQUEST, VIF_PLUG_TYPE, type Binding, type ChassisIdentity, type Problem, type Want } from './model';

/**
 * What this chassis is to a binding, as ovn-controller's
 * lport_can_bind_on_this_chassis sees it: its `main` requested chassis (the
 * one OVN plugs on), an `additional` one (a live migration's other end: OVN
 * binds there too, and neither plugs nor unplugs), or neither (undefined).
 *
 * northd fills requested_chassis and requested_additional_chassis from
 * options:requested-chassis (a chassis name or hostname, or a comma list
 * whose first entry is the main one). When the columns do not name this
 * chassis yet, the option decides, as in OVN: that keeps a port plugged
 * while the Chassis row is briefly missing (ovn-controller restarting
 * without --restart deletes it) and plugs a port before ovn-controller
 * registered at all. A main chassis by the option counts only while northd
 * has not resolved requested_chassis (to another chassis: never two
 * chassis plug the same lport). An lport without the option is requested
 * nowhere in particular (OVN lets any chassis bind it) and is never plugged
 * by the agent.
 */
export function bindingRole(binding: Binding, chassis: ChassisIdentity): ChassisRole | undefined {
  if (chassis.uuid !== undefined) {
    if (binding.requestedChassis === chassis.uuid) return 'main';
    if (binding.requestedAdditionalChassis.includes(chassis.uuid)) return 'additional';
  }
  const option = binding.options.get(REQUESTED_CHASSIS);
  if (option === undefined || option === '') return undefined;
  const at = option.split(',').findIndex((entry) => entry === chassis.name || entry === chassis.hostname);
  if (at < 0) return undefined;
  if (at > 0) return 'additional';
  // The main chassis by the option, but northd resolved it to another one: not this chassis to plug on.
  return binding.requestedChassis === undefined ? 'main' : undefined;
}

export type ChassisRole = 'main' | 'additional';

/** Whether this chassis is the binding's main requested chassis, the one OVN plugs on. */
export function requestedHere(binding: Binding, chassis: ChassisIdentity): boolean {
  return bindingRole(binding, chassis) === 'main';
}

export interface DesiredOptions {
  /**
   * Plug on an additional requested chassis too (--plug-additional): a live
   * migration's destination then has its port before the VM arrives. OVN
   * itself plugs only on the main chassis.
   */
  readonly plugAdditional?: boolean;
}

export interface Desired {
  /** Lports to plug, by lport. */
  readonly wants: ReadonlyMap<string, Want>;
  /** Lports requested here with a served type whose plug options the agent cannot use, by lport. */
  readonly invalid: ReadonlyMap<string, { readonly type: string; readonly problem: Problem }>;
  /**
   * Lports with a served type for which this chassis is an additional
   * requested chassis, not plugged here (no --plug-additional): a port of
   * theirs stays as it is, neither updated nor unplugged, as OVN leaves it.
   */
  readonly kept: ReadonlySet<string>;
}

/** The bindings requested here whose vif-plug-type this agent serves. */
export function desiredPorts(bindings: Iterable<Binding>, chassis: ChassisIdentity, served: ReadonlySet<string>, options: DesiredOptions = {}): Desired {
  const wants = new Map<string, Want>();
  const invalid = new Map<string, { type: string; problem: Problem }>();
  const kept = new Set<string>();
  for (const binding of bindings) {
    const type = binding.options.get(VIF_PLUG_TYPE);
    if (type === undefined || !served.has(type)) continue;
    const role = bindingRole(binding, chassis);
    if (role === undefined) continue;
    if (role === 'additional' && options.plugAdditional !== true) {
      kept.add(binding.lport);
      continue;
    }
    const mtu = parseMtuRequest(binding.options.get(VIF_PLUG_MTU_REQUEST));
    if (typeof mtu === 'object') {
      invalid.set(binding.lport, { type, problem: mtu });
      continue;
    }
    wants.set(binding.lport, { lport: binding.lport, type, options: binding.options, mtuRequest: mtu });
  }
  return { wants, invalid, kept };
}

/** OVS's mtu_request range: a positive 32-bit integer (the kernel then decides). */
const MAX_MTU = 2 ** 31 - 1;

/**
 * vif-plug-mtu-request: absent or empty means no MTU request. OVN reads a
 * malformed value as 0 and silently drops the request; the agent refuses to
 * plug instead and says why, since a VM on the wrong MTU is a silent outage.
 */
export function parseMtuRequest(value: string | undefined): number | undefined | Problem {
  if (value === undefined || value === '') return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(value) || Number(value) > MAX_MTU) {
    return {
      reason: 'INVALID_MTU_REQUEST',
      message: `options:${VIF_PLUG_MTU_REQUEST}="${printable(value)}" is not a positive whole number of bytes; fix or remove the option on the logical switch port`,
      retryable: false,
    };
  }
  return Number(value);
}

/** A value as it may be quoted in a message: bounded, control characters escaped. */
export function printable(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}...` : value;
  return JSON.stringify(cut).slice(1, -1);
}
