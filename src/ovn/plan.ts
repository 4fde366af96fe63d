/**
 * The reconciler's pure core: from what is wanted (Port_Bindings requested
 * here, desired.ts), what is there (the bridge's interfaces) and what the
 * providers answered, the change to make to the local OVSDB and the ctxs to
 * finish or release. No I/O: the agent loop (agent.ts) asks the providers
 * between the steps and commits the result.
 *
 * One iteration, level-triggered like ovn-controller's vif_plug_run:
 *   1. toPrepare: which lports to ask the provider about (CREATE);
 *   2. toRemove: given the answers, which of the agent's interfaces go
 *      (lport gone, moved, plug request withdrawn, type or interface changed);
 *   3. planChange: given the REMOVE answers too, the OVSDB change.
 *
 * The agent only ever touches interfaces carrying its marker (AGENT_MARKER);
 * everything else in the bridge is read to avoid collisions, never changed.
 */

import { AGENT_MARKER, IFACE_ID, type BridgeIface, type CreateAnswer, type Problem, type RemoveAnswer, type Want } from './model';
import { ifaceNameProblem as answerNameProblem } from '../registry';

type PlugAnswer = Extract<CreateAnswer, { kind: 'plug' }>;

/** The local OVSDB's interfaces, sorted for the reconciler. */
export interface Actual {
  /** The agent's interfaces, by lport (those left on another bridge too). */
  readonly ours: ReadonlyMap<string, readonly BridgeIface[]>;
  /** Interface uuids of the agent's interfaces that are not on the integration bridge (an earlier ovn-bridge). */
  readonly elsewhere: ReadonlySet<string>;
  /** Interfaces of the integration bridge that are not the agent's and carry an iface-id, by that lport. */
  readonly othersByLport: ReadonlyMap<string, BridgeIface>;
  /** Every Port and Interface name of every bridge (OVS keeps them unique across bridges), with the interface behind it. */
  readonly names: ReadonlyMap<string, BridgeIface>;
}

/**
 * The agent's own: marked, with an iface-id, alone in its Port. A Port with
 * several interfaces (a bond) is never the agent's whatever it carries.
 */
export function isOurs(iface: BridgeIface): boolean {
  return iface.portIfaceCount === 1 && iface.externalIds.has(AGENT_MARKER) && iface.externalIds.has(IFACE_ID);
}

/** The vif-plug-type the agent plugged an interface for. */
export function pluggedType(iface: BridgeIface): string {
  return iface.externalIds.get(AGENT_MARKER) ?? '';
}

/**
 * Sorts every interface of the local OVSDB; `integrationBridge` is the
 * bridge uuid ovn-controller binds in (undefined: every interface counts as
 * in it).
 */
export function sortBridge(ifaces: Iterable<BridgeIface>, integrationBridge?: string): Actual {
  const ours = new Map<string, BridgeIface[]>();
  const elsewhere = new Set<string>();
  const othersByLport = new Map<string, BridgeIface>();
  const names = new Map<string, BridgeIface>();
  for (const iface of ifaces) {
    names.set(iface.name, iface);
    names.set(iface.portName, iface);
    const lport = iface.externalIds.get(IFACE_ID);
    if (lport === undefined) continue;
    const inBridge = integrationBridge === undefined || iface.bridgeUuid === integrationBridge;
    if (isOurs(iface)) {
      const list = ours.get(lport);
      if (list === undefined) ours.set(lport, [iface]);
      else list.push(iface);
      if (!inBridge) elsewhere.add(iface.ifaceUuid);
    } else if (inBridge) {
      othersByLport.set(lport, iface);
    }
  }
  for (const list of ours.values()) list.sort((a, b) => compare(a.name, b.name));
  return { ours, elsewhere, othersByLport, names };
}

export interface Pending {
  readonly type: string;
  readonly problem: Problem;
}

export interface PrepareStep {
  /** Lports to ask their provider about, in lport order. */
  readonly creates: readonly Want[];
  /** Lports held back without asking, and why. */
  readonly blocked: ReadonlyMap<string, Pending>;
}

/**
 * Step 1. Every wanted lport in scope is asked about on every pass (as OVN
 * does: that is how local edits are reverted and changed answers noticed),
 * except one whose iface-id another port already carries: OVN never adopts
 * a port it did not plug, and neither does the agent.
 */
export function toPrepare(wants: ReadonlyMap<string, Want>, actual: Actual, served: ReadonlySet<string>, scope?: ReadonlySet<string>): PrepareStep {
  const creates: Want[] = [];
  const blocked = new Map<string, Pending>();
  for (const lport of [...wants.keys()].sort(compare)) {
    if (scope !== undefined && !scope.has(lport)) continue;
    const want = wants.get(lport)!;
    const orphan = actual.ours.get(lport)?.find((i) => !served.has(pluggedType(i)));
    if (orphan !== undefined) {
      blocked.set(lport, {
        type: want.type,
        problem: {
          reason: 'TYPE_NOT_SERVED',
          message: `interface ${orphan.name} was plugged by vifplug-ovn for vif-plug-type ${pluggedType(orphan)}, which this agent no longer serves; add that type to --types so that it can be unplugged, or delete the port by hand`,
          retryable: false,
        },
      });
      continue;
    }
    const other = actual.othersByLport.get(lport);
    if (other !== undefined && !actual.ours.has(lport)) {
      const by = other.externalIds.has('ovn-plugged') ? `ovn-controller's ${other.externalIds.get('ovn-plugged')} provider` : 'someone else';
      blocked.set(lport, {
        type: want.type,
        problem: {
          reason: 'PORT_NOT_OURS',
          message: `interface ${other.name} already carries iface-id=${lport} and was plugged by ${by}, not vifplug-ovn; remove that port, or the lport's vif-plug-type option`,
          retryable: false,
        },
      });
      continue;
    }
    creates.push(want);
  }
  return { creates, blocked };
}

export type RemovalCause = 'gone' | 'type-changed' | 'replug' | 'duplicate' | 'moved';

export interface Removal {
  readonly iface: BridgeIface;
  readonly lport: string;
  /** The vif-plug-type it was plugged for: whose provider is asked (REMOVE). */
  readonly type: string;
  readonly cause: RemovalCause;
}

export interface RemoveStepInput {
  readonly wants: ReadonlyMap<string, Want>;
  /** Lports requested here whose options the agent cannot use: their ports stay. */
  readonly invalid: ReadonlyMap<string, Pending>;
  /** Lports requested here as an additional chassis and not plugged here: their ports stay (desired.ts). */
  readonly kept?: ReadonlySet<string>;
  readonly actual: Actual;
  readonly answers: ReadonlyMap<string, CreateAnswer>;
  readonly served: ReadonlySet<string>;
  /**
   * Whether the agent has a complete view of the Southbound and local
   * databases: until then an lport that looks gone may only be unseen, and
   * nothing is unplugged for being gone.
   */
  readonly canUnplug: boolean;
  readonly scope?: ReadonlySet<string>;
}

export interface RemoveStep {
  readonly removals: readonly Removal[];
  /** The agent's interfaces of types it no longer serves: left alone, reported. */
  readonly orphans: readonly BridgeIface[];
}

/**
 * Step 2. An interface of the agent goes when its lport is no longer wanted
 * here (Port_Binding deleted, requested elsewhere, but not when this chassis
 * is still an additional requested chassis; vif-plug-type withdrawn:
 * OVN keeps the port in the last case, issue #312), when the lport now wants
 * another vif-plug-type, when the provider now answers another interface
 * (a changed vf-num: OVN refuses that forever, the agent replugs), when
 * another of the lport's interfaces is the one the provider answers (a
 * duplicate), or when it sits on another bridge than the integration bridge
 * (ovn-bridge changed: it moves, removed there and created here in one
 * transaction). A provider that declines or fails leaves the port as it
 * is: a VF briefly missing must not cut a running VM off.
 */
export function toRemove(input: RemoveStepInput): RemoveStep {
  const removals: Removal[] = [];
  const orphans: BridgeIface[] = [];
  for (const lport of [...input.actual.ours.keys()].sort(compare)) {
    if (input.scope !== undefined && !input.scope.has(lport)) continue;
    // A live migration's other end: OVN neither plugs nor unplugs there, and neither does the agent.
    if (input.kept?.has(lport) === true) continue;
    const want = input.wants.get(lport);
    const answer = input.answers.get(lport);
    const list = input.actual.ours.get(lport)!;
    const answered = answer?.kind === 'plug' ? list.find((i) => i.name === answer.name && !input.actual.elsewhere.has(i.ifaceUuid)) : undefined;
    for (const iface of list) {
      const type = pluggedType(iface);
      if (!input.served.has(type)) {
        orphans.push(iface);
        continue;
      }
      let cause: RemovalCause | undefined;
      if (want === undefined) {
        if (input.canUnplug && !input.invalid.has(lport)) cause = 'gone';
      } else if (want.type !== type) {
        cause = 'type-changed';
      } else if (answer?.kind === 'plug' && input.actual.elsewhere.has(iface.ifaceUuid)) {
        cause = 'moved';
      } else if (answer?.kind === 'plug' && answer.name !== iface.name) {
        cause = answered !== undefined && pluggedType(answered) === type ? 'duplicate' : 'replug';
      }
      if (cause !== undefined) removals.push({ iface, lport, type, cause });
    }
  }
  return { removals, orphans };
}

/** What an update changes on an existing interface; absent members stay as they are. */
export interface IfaceChange {
  readonly type?: string;
  readonly setOptions: ReadonlyMap<string, string>;
  readonly deleteOptions: readonly string[];
  /** A number sets mtu_request, null clears it. */
  readonly mtuRequest?: number | null;
}

export interface Create {
  readonly want: Want;
  readonly answer: PlugAnswer;
}

export interface Update {
  readonly want: Want;
  readonly iface: BridgeIface;
  readonly change: IfaceChange;
}

export interface PlanInput {
  readonly wants: ReadonlyMap<string, Want>;
  readonly blocked: ReadonlyMap<string, Pending>;
  readonly invalid: ReadonlyMap<string, Pending>;
  readonly actual: Actual;
  readonly answers: ReadonlyMap<string, CreateAnswer>;
  readonly removals: readonly Removal[];
  /** REMOVE answers by interface uuid. */
  readonly removeAnswers: ReadonlyMap<string, RemoveAnswer>;
  /** Each type's maintained interface options (Open's answer). */
  readonly maintained: ReadonlyMap<string, readonly string[]>;
}

export interface Plan {
  readonly creates: readonly Create[];
  /** Only updates that change something. */
  readonly updates: readonly Update[];
  readonly deletes: readonly Removal[];
  /** CREATE ctxs: FinishPorts with destroy after the commit; DestroyCtxs if it failed. */
  readonly finishCreates: readonly string[];
  /** REMOVE ctxs: FinishPorts after the commit; DestroyCtxs if it failed. */
  readonly finishRemoves: readonly string[];
  /** Ctxs prepared but not used: DestroyCtxs now. */
  readonly release: readonly string[];
  /** Lports not plugged as asked, and why (a plugged port may stay while its provider now declines). */
  readonly problems: ReadonlyMap<string, Pending>;
  /** Lports plugged once the change commits, and their interface. */
  readonly plugged: ReadonlyMap<string, string>;
}

/** Step 3: the OVSDB change and what to do with each ctx. */
export function planChange(input: PlanInput): Plan {
  const problems = new Map<string, Pending>([...input.blocked, ...input.invalid]);
  const deletes: Removal[] = [];
  const finishRemoves: string[] = [];
  const finishCreates: string[] = [];
  const release: string[] = [];
  const creates: Create[] = [];
  const updates: Update[] = [];
  const plugged = new Map<string, string>();
  /** Lports whose old interface must go before a new one may come. */
  const stuck = new Set<string>();

  for (const removal of input.removals) {
    const answer = input.removeAnswers.get(removal.iface.ifaceUuid);
    if (answer?.kind === 'plug') {
      deletes.push(removal);
      finishRemoves.push(answer.ctxId);
      continue;
    }
    stuck.add(removal.lport);
    const problem: Problem =
      answer === undefined
        ? { reason: 'REMOVE_NOT_ASKED', message: `the ${removal.type} provider was not asked about unplugging ${removal.iface.name}`, retryable: true }
        : {
            reason: answer.reason,
            message: `unplugging ${removal.iface.name} (${describeCause(removal.cause)}): ${answer.message}`,
            retryable: answer.retryable,
          };
    problems.set(removal.lport, { type: removal.type, problem });
  }
  const deleted = new Set(deletes.map((d) => d.iface.ifaceUuid));

  // The names the bridge will hold once the deletes are done.
  const taken = new Map<string, string>();
  for (const [name, iface] of input.actual.names) {
    if (!deleted.has(iface.ifaceUuid)) taken.set(name, holder(iface));
  }

  for (const lport of [...input.wants.keys()].sort(compare)) {
    const want = input.wants.get(lport)!;
    const answer = input.answers.get(lport);
    if (answer === undefined || input.blocked.has(lport)) continue;
    const kept = (input.actual.ours.get(lport) ?? []).filter((i) => !deleted.has(i.ifaceUuid) && !input.actual.elsewhere.has(i.ifaceUuid) && pluggedType(i) === want.type);
    const current = kept[0];
    if (answer.kind !== 'plug') {
      problems.set(lport, { type: want.type, problem: kept.length > 1 ? duplicateProblem(lport, kept, answer) : { reason: answer.reason, message: answer.message, retryable: answer.retryable } });
      if (current !== undefined) plugged.set(lport, current.name);
      continue;
    }
    if (current !== undefined && current.name === answer.name) {
      const change = ifaceChange(current, want, answer, input.maintained.get(want.type) ?? []);
      if (change !== undefined) updates.push({ want, iface: current, change });
      finishCreates.push(answer.ctxId);
      plugged.set(lport, current.name);
      continue;
    }
    // An old interface that could not be unplugged keeps its lport (its problem says why).
    const problem = stuck.has(lport) ? undefined : createProblem(answer.name, answer.type, taken);
    if (stuck.has(lport) || problem !== undefined) {
      release.push(answer.ctxId);
      if (problem !== undefined) problems.set(lport, { type: want.type, problem });
      if (current !== undefined) plugged.set(lport, current.name);
      continue;
    }
    taken.set(answer.name, `the interface being plugged for lport ${lport}`);
    creates.push({ want, answer });
    finishCreates.push(answer.ctxId);
    plugged.set(lport, answer.name);
  }
  return { creates, updates, deletes, finishCreates, finishRemoves, release, problems, plugged };
}

/**
 * The update that brings an interface to the provider's answer, as OVN's
 * ovsport_update_iface does: the type only when the answer names one; every
 * option the answer gives; a maintained option the answer no longer gives is
 * deleted, any other option is left alone; mtu_request follows
 * vif-plug-mtu-request (cleared when the option is gone). undefined: nothing
 * to change.
 */
export function ifaceChange(iface: BridgeIface, want: Want, answer: PlugAnswer, maintained: readonly string[]): IfaceChange | undefined {
  const setOptions = new Map<string, string>();
  for (const [key, value] of answer.ifaceOptions) if (iface.options.get(key) !== value) setOptions.set(key, value);
  const deleteOptions = maintained.filter((key) => iface.options.has(key) && !answer.ifaceOptions.has(key));
  const type = answer.type !== '' && answer.type !== iface.type ? answer.type : undefined;
  const mtuRequest = want.mtuRequest === iface.mtuRequest ? undefined : (want.mtuRequest ?? null);
  if (setOptions.size === 0 && deleteOptions.length === 0 && type === undefined && mtuRequest === undefined) return undefined;
  return {
    setOptions,
    deleteOptions,
    ...(type === undefined ? {} : { type }),
    ...(mtuRequest === undefined ? {} : { mtuRequest }),
  };
}

/**
 * Why `name` cannot be the Port and Interface name of an interface of
 * `type`, by the answer rules vifplugd applies to every provider's answer
 * (registry/answer-rules.ts: the kernel's dev_valid_name for a netdev);
 * undefined when it can. vifplugd has refused such answers already; the
 * agent checks again, since what it writes to OVSDB is its own doing.
 */
export function ifaceNameProblem(name: string, type = ''): string | undefined {
  return answerNameProblem(name, type, 'the interface name')?.message;
}

/**
 * Several of the agent's interfaces carry the lport and the provider did
 * not say which one is right: all stay (unplugging the one the VM uses
 * would cut it off) until it answers, and then the others go.
 */
function duplicateProblem(lport: string, kept: readonly BridgeIface[], answer: Exclude<CreateAnswer, PlugAnswer>): Problem {
  return {
    reason: 'DUPLICATE_PORTS',
    message: `${kept.length} interfaces carry iface-id=${lport} (${kept.map((i) => i.name).join(', ')}) and the provider did not say which is right (${answer.reason}: ${answer.message}); all stay until it answers, then the others are unplugged`,
    retryable: answer.retryable,
  };
}

function createProblem(name: string, type: string, taken: ReadonlyMap<string, string>): Problem | undefined {
  const invalid = ifaceNameProblem(name, type);
  if (invalid !== undefined) {
    return {
      reason: 'INVALID_IFACE_NAME',
      message: `the provider asked for an interface named "${JSON.stringify(name).slice(1, -1)}", which cannot be created: ${invalid}; check the lport name and its vif-plug options`,
      retryable: false,
    };
  }
  const holderOf = taken.get(name);
  if (holderOf === undefined) return undefined;
  return {
    reason: 'IFACE_NAME_IN_USE',
    message: `the provider answered interface ${name}, but the local OVSDB already has ${holderOf}; remove that port or change the lport's vif-plug options`,
    retryable: true,
  };
}

function holder(iface: BridgeIface): string {
  if (isOurs(iface)) return `interface ${iface.name} plugged by vifplug-ovn for lport ${iface.externalIds.get(IFACE_ID)}`;
  return `port ${iface.portName} (interface ${iface.name}) on bridge ${iface.bridgeName}, which vifplug-ovn did not create`;
}

function describeCause(cause: RemovalCause): string {
  switch (cause) {
    case 'gone':
      return 'the lport is no longer to be plugged here';
    case 'type-changed':
      return 'the lport now asks for another vif-plug-type';
    case 'replug':
      return 'the provider now answers another interface';
    case 'duplicate':
      return 'another interface carries the same lport and is the one the provider answers';
    case 'moved':
      return 'it is on another bridge than the integration bridge';
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
