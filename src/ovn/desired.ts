/**
 * Which lports this chassis should plug: the desired side of the reconciler.
 */

import { REQUESTED_CHASSIS, VIF_PLUG_MTU_REQUEST, VIF_PLUG_TYPE, type Binding, type ChassisIdentity, type Problem, type Want } from './model';

/**
 * Whether this chassis is the binding's main requested chassis, the one OVN
 * plugs on (controller/vif-plug.c plugs only when requested_chassis is the
 * local Chassis; additional chassis never plug).
 *
 * northd fills requested_chassis from options:requested-chassis (a chassis
 * name or hostname, or a comma list whose first entry is the main one). When
 * the column is empty the option decides, as lport_can_bind_on_this_chassis
 * does: that keeps a port plugged while the Chassis row is briefly missing
 * (ovn-controller restarting without --restart deletes it) and plugs a port
 * before ovn-controller registered at all. An lport without the option is
 * requested nowhere in particular and is never plugged by the agent.
 */
export function requestedHere(binding: Binding, chassis: ChassisIdentity): boolean {
  if (binding.requestedChassis !== undefined) return chassis.uuid !== undefined && binding.requestedChassis === chassis.uuid;
  const option = binding.options.get(REQUESTED_CHASSIS);
  if (option === undefined || option === '') return false;
  const main = option.split(',')[0]!;
  return main === chassis.name || main === chassis.hostname;
}

export interface Desired {
  /** Lports to plug, by lport. */
  readonly wants: ReadonlyMap<string, Want>;
  /** Lports requested here with a served type whose plug options the agent cannot use, by lport. */
  readonly invalid: ReadonlyMap<string, { readonly type: string; readonly problem: Problem }>;
}

/** The bindings requested here whose vif-plug-type this agent serves. */
export function desiredPorts(bindings: Iterable<Binding>, chassis: ChassisIdentity, served: ReadonlySet<string>): Desired {
  const wants = new Map<string, Want>();
  const invalid = new Map<string, { type: string; problem: Problem }>();
  for (const binding of bindings) {
    const type = binding.options.get(VIF_PLUG_TYPE);
    if (type === undefined || !served.has(type) || !requestedHere(binding, chassis)) continue;
    const mtu = parseMtuRequest(binding.options.get(VIF_PLUG_MTU_REQUEST));
    if (typeof mtu === 'object') {
      invalid.set(binding.lport, { type, problem: mtu });
      continue;
    }
    wants.set(binding.lport, { lport: binding.lport, type, options: binding.options, mtuRequest: mtu });
  }
  return { wants, invalid };
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
