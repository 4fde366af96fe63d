/**
 * Repair mode's pure core (--repair TYPE): for the vif-plug-types that
 * ovn-controller plugs itself, which of its ports (Interface rows marked
 * external_ids:ovn-plugged=TYPE) are wrong in one of the ways it never
 * fixes (OVN issue #312), so that the agent removes them and ovn-controller
 * plugs afresh. The agent never creates such a port and never touches one
 * that is right; I/O is the agent's (agent.ts asks vifplugd, repair-change.ts
 * writes the transaction).
 *
 * A port goes for one of three reasons:
 * - `withdrawn`: the lport is still requested here (main or additional
 *   chassis) but no longer asks ovn-controller to plug it: its
 *   vif-plug-type is gone, or is now a type this agent plugs itself.
 *   ovn-controller returns early when vif-plug-type is absent and leaves
 *   the port in place for ever.
 * - `incompatible`: this chassis is the lport's main chassis and vifplugd's
 *   provider of the same type, asked about the lport's current options,
 *   names another interface than the one plugged (a changed vf-num).
 *   ovn-controller refuses that for ever ("Attempt of incompatible change
 *   to existing port detected, please recreate port").
 * - `not-requested`: no Port_Binding requests the lport to this chassis
 *   any more (deleted, or requested elsewhere): what ovn-controller
 *   unplugs itself, except after a restart, when it may never do so.
 *
 * A port goes only once the same verdict (reason, and answer) has held on
 * complete views for `settleMs`: ovn-controller reads the same databases,
 * but not at the same moment. Removed while it still has the lport's old
 * options, or before the agent sees a Port_Binding ovn-controller already
 * plugged for, it would plug the port again at once.
 *
 * What is never a reason: a provider that declines, fails or is not there
 * (nothing is proven), an additional chassis's port whose answer differs
 * (ovn-controller plugs only on the main chassis, so it would not plug
 * afresh), a vif-plug-type that is neither repaired nor served here
 * (ovn-controller may have a provider for it), anything before the agent
 * has a complete view (`canRemove`), a port of several interfaces, or a
 * port carrying the agent's own mark.
 *
 * ovn-controller's and vifplugd's providers should agree: if, after the
 * agent removed a port for `incompatible`, ovn-controller plugs another one
 * that again differs from the same answer, the two disagree and removing it
 * again would only flap the port. The lport is then held (`held`,
 * PROVIDERS_DISAGREE) until its answer or options change, or the port is
 * replaced by someone else.
 */

import { bindingRole } from './desired';
import { AGENT_MARKER, IFACE_ID, OVN_PLUGGED, VIF_PLUG_TYPE, type Binding, type BridgeIface, type ChassisIdentity, type CreateAnswer, type Want } from './model';

export type RepairReason = 'withdrawn' | 'incompatible' | 'not-requested';

export const REPAIR_REASONS: readonly RepairReason[] = ['withdrawn', 'incompatible', 'not-requested'];

/** How long a verdict must hold before its port goes (see above). */
export const DEFAULT_SETTLE_MS = 2_000;

/** One of ovn-controller's ports to remove. */
export interface RepairRemoval {
  readonly iface: BridgeIface;
  readonly lport: string;
  /** The vif-plug-type it was plugged for (its ovn-plugged value). */
  readonly type: string;
  readonly reason: RepairReason;
  /** Why, for people: what was found and what ovn-controller would do. */
  readonly message: string;
  /** `incompatible`: the interface vifplugd's provider names. */
  readonly answer?: string;
}

/** A port the agent would remove, but leaves, and why. */
export interface HeldRepair {
  readonly lport: string;
  readonly iface: string;
  readonly type: string;
  readonly reason: 'PROVIDERS_DISAGREE';
  readonly message: string;
}

/** What the agent remembers between passes (per interface and per lport); replaced whole by each pass. */
export interface RepairState {
  /** The ports judged wrong, by interface uuid: for which lport, the verdict (reason and answer), and since when. */
  readonly suspects: ReadonlyMap<string, { readonly lport: string; readonly verdict: string; readonly since: number }>;
  /** Lports whose ports the agent removed for `incompatible`: which interfaces, and for which answer. */
  readonly removedFor: ReadonlyMap<string, { readonly removed: readonly string[]; readonly answer: string }>;
}

export const EMPTY_REPAIR_STATE: RepairState = { suspects: new Map(), removedFor: new Map() };

/**
 * ovn-controller's ports of the repaired types on the integration bridge,
 * by lport: Interface rows with ovn-plugged=TYPE and an iface-id, alone in
 * their Port, without the agent's own mark.
 */
export function ovnPluggedPorts(ifaces: Iterable<BridgeIface>, integrationBridge: string, repairTypes: ReadonlySet<string>): Map<string, BridgeIface[]> {
  const out = new Map<string, BridgeIface[]>();
  for (const iface of ifaces) {
    const type = iface.externalIds.get(OVN_PLUGGED);
    const lport = iface.externalIds.get(IFACE_ID);
    if (type === undefined || lport === undefined || !repairTypes.has(type)) continue;
    if (iface.bridgeUuid !== integrationBridge || iface.portIfaceCount !== 1 || iface.externalIds.has(AGENT_MARKER)) continue;
    const list = out.get(lport);
    if (list === undefined) out.set(lport, [iface]);
    else list.push(iface);
  }
  return out;
}

export interface RepairView {
  /** The Port_Bindings replicated, by lport. */
  readonly bindings: ReadonlyMap<string, Binding>;
  readonly chassis: ChassisIdentity;
  /** --repair: the types ovn-controller plugs and the agent repairs. */
  readonly repairTypes: ReadonlySet<string>;
  /** --types: the types the agent plugs itself. */
  readonly served: ReadonlySet<string>;
  /** ovnPluggedPorts(). */
  readonly ports: ReadonlyMap<string, readonly BridgeIface[]>;
  /** Only these lports (a pass limited to what changed); undefined: all. */
  readonly scope?: ReadonlySet<string>;
}

/**
 * Step 1: the lports whose provider is to be asked (CREATE, released at
 * once, never finished): ovn-controller's ports whose lport has this
 * chassis as its main chassis and a repaired vif-plug-type.
 */
export function repairChecks(view: RepairView): Want[] {
  const out: Want[] = [];
  for (const lport of [...view.ports.keys()].sort(compare)) {
    if (view.scope !== undefined && !view.scope.has(lport)) continue;
    const binding = view.bindings.get(lport);
    if (binding === undefined || bindingRole(binding, view.chassis) !== 'main') continue;
    const type = binding.options.get(VIF_PLUG_TYPE);
    if (type === undefined || !view.repairTypes.has(type)) continue;
    out.push({ lport, type, options: binding.options, mtuRequest: undefined });
  }
  return out;
}

export interface RepairInput extends RepairView {
  /** The providers' answers to repairChecks(), by lport. */
  readonly answers: ReadonlyMap<string, CreateAnswer>;
  /** Whether the agent has a complete view (both databases loaded, this chassis registered): nothing is judged before. */
  readonly canRemove: boolean;
  readonly state: RepairState;
  readonly now: number;
  readonly settleMs?: number;
}

export interface RepairPlan {
  readonly removals: readonly RepairRemoval[];
  readonly held: readonly HeldRepair[];
  /** The state for the next pass (removedFor is added to by recordRemoved once the removals commit). */
  readonly state: RepairState;
}

/** Step 2: which of ovn-controller's ports go, which are held, and what to remember. */
export function planRepairs(input: RepairInput): RepairPlan {
  const settleMs = input.settleMs ?? DEFAULT_SETTLE_MS;
  const inScope = (lport: string) => input.scope === undefined || input.scope.has(lport);
  // What is out of scope is carried over untouched; what is in scope is judged afresh.
  const suspects = new Map([...input.state.suspects].filter(([, d]) => !inScope(d.lport)));
  const removedFor = new Map([...input.state.removedFor].filter(([lport]) => !inScope(lport)));
  const removals: RepairRemoval[] = [];
  const held: HeldRepair[] = [];

  // Between the agent's removal and ovn-controller's new port, the lport has no port: its record stays while it is plugged here.
  for (const [lport, record] of input.state.removedFor) {
    const binding = input.bindings.get(lport);
    if (inScope(lport) && !input.ports.has(lport) && binding !== undefined && bindingRole(binding, input.chassis) === 'main') removedFor.set(lport, record);
  }
  // Nothing is judged on an incomplete view: what is not in it may only be unseen.
  if (!input.canRemove) return { removals, held, state: input.state };

  for (const lport of [...input.ports.keys()].sort(compare)) {
    if (!inScope(lport)) continue;
    const list = input.ports.get(lport)!;
    const binding = input.bindings.get(lport);
    const role = binding === undefined ? undefined : bindingRole(binding, input.chassis);
    /** The port is wrong: it goes once the same verdict has held for settleMs. */
    const judge = (iface: BridgeIface, reason: RepairReason, message: string, answer?: string) => {
      const verdict = `${reason}:${answer ?? ''}`;
      const seen = input.state.suspects.get(iface.ifaceUuid);
      const since = seen !== undefined && seen.verdict === verdict ? seen.since : input.now;
      suspects.set(iface.ifaceUuid, { lport, verdict, since });
      if (input.now >= since + settleMs) removals.push({ iface, lport, type: pluggedBy(iface), reason, message, ...(answer === undefined ? {} : { answer }) });
    };

    if (binding === undefined || role === undefined) {
      const why =
        binding === undefined
          ? 'no Port_Binding requests it to this chassis any more (deleted, or requested elsewhere)'
          : `its options:requested-chassis ("${binding.options.get('requested-chassis') ?? ''}") no longer names this chassis`;
      for (const iface of list) judge(iface, 'not-requested', `lport ${lport}: ${why}; ovn-controller leaves such a port after a restart`);
      continue;
    }
    const type = binding.options.get(VIF_PLUG_TYPE);
    if (type === undefined || input.served.has(type)) {
      const why = type === undefined ? 'it no longer has options:vif-plug-type' : `it now asks for vif-plug-type ${type}, which vifplug-ovn plugs`;
      for (const iface of list) judge(iface, 'withdrawn', `lport ${lport} is still requested here but ${why}; ovn-controller leaves the port in place`);
      continue;
    }
    // Another type ovn-controller may or may not have a provider for, or an additional chassis (never plugged afresh): nothing proven.
    if (!input.repairTypes.has(type) || role !== 'main') continue;
    const answer = input.answers.get(lport);
    // Declined, failed, not asked: nothing proven, the port stays.
    if (answer === undefined || answer.kind !== 'plug') continue;

    const before = input.state.removedFor.get(lport);
    if (before !== undefined && before.answer === answer.name && !list.some((iface) => iface.name === answer.name)) {
      removedFor.set(lport, before);
      // Replaced since the agent removed it, by a port that differs from the same answer again.
      const fresh = list.filter((iface) => !before.removed.includes(iface.ifaceUuid));
      if (fresh.length > 0) {
        for (const iface of fresh) {
          held.push({
            lport,
            iface: iface.name,
            type,
            reason: 'PROVIDERS_DISAGREE',
            message: `vifplug-ovn removed lport ${lport}'s port for vifplugd's answer ${answer.name}, then ovn-controller's ${type} provider plugged ${iface.name}: the two providers disagree about the lport's options; left as it is until they change (check what each provider sees, then delete the port by hand)`,
          });
        }
        continue;
      }
    }
    for (const iface of list) {
      if (iface.name === answer.name) continue;
      judge(
        iface,
        'incompatible',
        `vifplugd's provider for vif-plug-type ${type} now answers ${answer.name} for lport ${lport}, plugged as ${iface.name}; ovn-controller refuses that change for ever ("Attempt of incompatible change to existing port detected")`,
        answer.name,
      );
    }
  }
  return { removals, held, state: { suspects, removedFor } };
}

/** When the earliest suspect's verdict will have held for `settleMs` (a pass is due then); Infinity when none waits. */
export function nextRepairCheck(state: RepairState, settleMs = DEFAULT_SETTLE_MS): number {
  let at = Infinity;
  for (const d of state.suspects.values()) at = Math.min(at, d.since + settleMs);
  return at;
}

/** The state once `removals` committed: what was removed for `incompatible`, to recognise a disagreement. */
export function recordRemoved(state: RepairState, removals: readonly RepairRemoval[]): RepairState {
  const removedFor = new Map(state.removedFor);
  const suspects = new Map(state.suspects);
  for (const r of removals) {
    suspects.delete(r.iface.ifaceUuid);
    if (r.reason !== 'incompatible' || r.answer === undefined) continue;
    const before = removedFor.get(r.lport);
    const removed = before !== undefined && before.answer === r.answer ? [...before.removed, r.iface.ifaceUuid] : [r.iface.ifaceUuid];
    removedFor.set(r.lport, { removed, answer: r.answer });
  }
  return { suspects, removedFor };
}

/** The vif-plug-type ovn-controller plugged an interface for. */
export function pluggedBy(iface: BridgeIface): string {
  return iface.externalIds.get(OVN_PLUGGED) ?? '';
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
