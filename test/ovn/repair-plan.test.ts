/**
 * Repair mode's pure core (src/ovn/repair.ts, repair-change.ts): which of
 * ovn-controller's ports go and why, what is never removed, the settle time
 * every verdict must hold for, and the disagreement guard that keeps a port
 * from flapping between two providers.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { AGENT_MARKER, IFACE_ID, OVN_PLUGGED, type Binding, type BridgeIface, type ChassisIdentity, type CreateAnswer } from '../../src/ovn/model';
import { EMPTY_REPAIR_STATE, nextRepairCheck, ovnPluggedPorts, planRepairs, recordRemoved, repairChecks, type RepairPlan, type RepairState } from '../../src/ovn/repair';
import { repairOperations } from '../../src/ovn/repair-change';

const HERE: ChassisIdentity = { name: 'hv1', hostname: 'hv1.example.com', uuid: '11111111-1111-1111-1111-111111111111' };
const ELSEWHERE = '22222222-2222-2222-2222-222222222222';
const BR_INT = '33333333-3333-3333-3333-333333333333';
const REPAIR = new Set(['representor']);
const SERVED = new Set(['vifplug-representor']);
const SETTLE = 2000;

let uuids = 0;
function uuid(): string {
  return `00000000-0000-0000-0000-${String(++uuids).padStart(12, '0')}`;
}

function iface(name: string, externalIds: Record<string, string>, extra: Partial<BridgeIface> = {}): BridgeIface {
  return {
    ifaceUuid: uuid(),
    portUuid: uuid(),
    bridgeUuid: BR_INT,
    bridgeName: 'br-int',
    portName: name,
    portIfaceCount: 1,
    name,
    type: '',
    options: new Map(),
    externalIds: new Map(Object.entries(externalIds)),
    mtuRequest: undefined,
    portExternalIds: new Map(),
    ...extra,
  };
}

/** A port ovn-controller plugged for `lport`. */
function ovnPort(lport: string, name: string, type = 'representor', extra: Partial<BridgeIface> = {}): BridgeIface {
  return iface(name, { [IFACE_ID]: lport, [OVN_PLUGGED]: type }, extra);
}

/** A binding requested here as main chassis (or `role`) with `options`. */
function binding(lport: string, options: Record<string, string>, role: 'main' | 'additional' | 'elsewhere' = 'main'): Binding {
  return {
    lport,
    requestedChassis: role === 'main' ? HERE.uuid : ELSEWHERE,
    requestedAdditionalChassis: role === 'additional' ? [HERE.uuid!] : [],
    options: new Map(Object.entries(options)),
  };
}

const REPRESENTOR = { 'vif-plug-type': 'representor', 'vif-plug:representor:pf-mac': '10:70:fd:df:9c:3a', 'vif-plug:representor:vf-num': '2' };

function plug(name: string): CreateAnswer {
  return { kind: 'plug', ctxId: `ctx-${name}`, name, type: '', ifaceOptions: new Map() };
}
const DECLINED: CreateAnswer = { kind: 'declined', reason: 'REPRESENTOR_NOT_FOUND', message: 'no such VF', retryable: true };
const UNAVAILABLE: CreateAnswer = { kind: 'error', reason: 'VIFPLUGD_UNAVAILABLE', message: 'gone', retryable: true };

interface Run {
  bindings: Binding[];
  bridge: BridgeIface[];
  /** The provider's answer per lport (absent: not asked). */
  answers?: Record<string, CreateAnswer>;
  canRemove?: boolean;
  state?: RepairState;
  now?: number;
  scope?: string[];
}

function run({ bindings, bridge, answers = {}, canRemove = true, state = EMPTY_REPAIR_STATE, now = 0, scope }: Run): RepairPlan & { asked: string[] } {
  const view = {
    bindings: new Map(bindings.map((b) => [b.lport, b])),
    chassis: HERE,
    repairTypes: REPAIR,
    served: SERVED,
    ports: ovnPluggedPorts(bridge, BR_INT, REPAIR),
    ...(scope === undefined ? {} : { scope: new Set(scope) }),
  };
  const asked = repairChecks(view).map((w) => w.lport);
  const given = new Map(Object.entries(answers).filter(([lport]) => asked.includes(lport)));
  return { ...planRepairs({ ...view, answers: given, canRemove, state, now, settleMs: SETTLE }), asked };
}

/** Two passes a settle time apart, the second on the first's state: what goes once a verdict has held. */
function settled(args: Run): RepairPlan & { asked: string[] } {
  const first = run({ ...args, now: 0 });
  expect(first.removals).toEqual([]);
  return run({ ...args, now: SETTLE, state: first.state });
}

/** The plan's removals as "lport iface reason". */
function removed(plan: RepairPlan): string[] {
  return plan.removals.map((r) => `${r.lport} ${r.iface.name} ${r.reason}`);
}

describe('which ports are ovn-controller’s to repair', () => {
  it('only ports marked ovn-plugged with a repaired type and an iface-id, alone in their Port on the integration bridge, without the agent’s mark', () => {
    const ports = ovnPluggedPorts(
      [
        ovnPort('a', 'pf0vf1'),
        ovnPort('b', 'dummy-b', 'dummy'),
        iface('pf0vf3', { [OVN_PLUGGED]: 'representor' }),
        ovnPort('c', 'pf0vf4', 'representor', { portIfaceCount: 2 }),
        ovnPort('d', 'pf0vf5', 'representor', { bridgeUuid: ELSEWHERE, bridgeName: 'br-old' }),
        iface('pf0vf6', { [IFACE_ID]: 'e', [OVN_PLUGGED]: 'representor', [AGENT_MARKER]: 'representor' }),
        iface('cms', { [IFACE_ID]: 'f' }),
      ],
      BR_INT,
      REPAIR,
    );
    expect([...ports.keys()]).toEqual(['a']);
  });
});

describe('repair', () => {
  it('removes a port whose plug request was withdrawn, on the main chassis and on an additional one (ovn-controller leaves it)', () => {
    const plan = settled({
      bindings: [binding('a', {}), binding('b', { 'requested-chassis': 'hv2,hv1' }, 'additional'), binding('c', { 'vif-plug-type': 'vifplug-representor' })],
      bridge: [ovnPort('a', 'pf0vf1'), ovnPort('b', 'pf0vf2'), ovnPort('c', 'pf0vf3')],
    });
    expect(removed(plan)).toEqual(['a pf0vf1 withdrawn', 'b pf0vf2 withdrawn', 'c pf0vf3 withdrawn']);
    expect(plan.removals[0]!.message).toContain('no longer has options:vif-plug-type');
    expect(plan.removals[2]!.message).toContain('vif-plug-type vifplug-representor, which vifplug-ovn plugs');
    expect(plan.asked).toEqual([]);
  });

  it('removes the leftovers of lports no longer requested here: no Port_Binding, or requested elsewhere', () => {
    const plan = settled({ bindings: [binding('moved', { ...REPRESENTOR, 'requested-chassis': 'hv2' }, 'elsewhere')], bridge: [ovnPort('gone', 'pf0vf1'), ovnPort('moved', 'pf0vf2')] });
    expect(removed(plan)).toEqual(['gone pf0vf1 not-requested', 'moved pf0vf2 not-requested']);
  });

  it('removes a port only once the same verdict has held for the settle time (ovn-controller may not have seen what the agent sees yet)', () => {
    const bridge = [ovnPort('a', 'pf0vf1')];
    // ovn-controller plugged it; the agent does not see its Port_Binding yet: not-requested, for now.
    const early = run({ bindings: [], bridge, now: 0 });
    expect(early.removals).toEqual([]);
    expect(nextRepairCheck(early.state, SETTLE)).toBe(SETTLE);
    // The Port_Binding arrives: the port is right, and the suspicion is dropped.
    const arrived = run({ bindings: [binding('a', REPRESENTOR)], bridge, answers: { a: plug('pf0vf1') }, now: SETTLE, state: early.state });
    expect(arrived.removals).toEqual([]);
    expect(arrived.state.suspects.size).toBe(0);
    // Another verdict starts the wait again.
    const withdrawn = run({ bindings: [binding('a', {})], bridge, now: SETTLE + 1, state: early.state });
    expect(withdrawn.removals).toEqual([]);
    expect(removed(run({ bindings: [binding('a', {})], bridge, now: 2 * SETTLE + 1, state: withdrawn.state }))).toEqual(['a pf0vf1 withdrawn']);
  });

  it('judges and removes nothing before the view is complete, even a port long suspected', () => {
    const gone = ovnPort('b', 'pf0vf2');
    const suspected: RepairState = { suspects: new Map([[gone.ifaceUuid, { lport: 'b', verdict: 'not-requested:', since: -10 * SETTLE }]]), removedFor: new Map() };
    const plan = run({
      bindings: [binding('a', {}), binding('c', REPRESENTOR)],
      bridge: [ovnPort('a', 'pf0vf1'), gone, ovnPort('c', 'pf0vf3')],
      answers: { c: plug('pf0vf9') },
      canRemove: false,
      now: 10 * SETTLE,
      state: suspected,
    });
    expect(plan.removals).toEqual([]);
    expect(plan.state).toBe(suspected);
  });

  it('removes a port the provider no longer answers (ovn-controller refuses the change for ever), once the answer has held for the settle time', () => {
    const bridge = [ovnPort('c', 'pf0vf1')];
    const bindings = [binding('c', REPRESENTOR)];
    const first = run({ bindings, bridge, answers: { c: plug('pf0vf2') }, now: 1000 });
    expect(first.asked).toEqual(['c']);
    expect(first.removals).toEqual([]);
    expect(nextRepairCheck(first.state, SETTLE)).toBe(1000 + SETTLE);
    // A different answer meanwhile starts the wait again.
    const changed = run({ bindings, bridge, answers: { c: plug('pf0vf3') }, now: 1000 + SETTLE, state: first.state });
    expect(changed.removals).toEqual([]);
    const settled = run({ bindings, bridge, answers: { c: plug('pf0vf3') }, now: 1000 + 2 * SETTLE, state: changed.state });
    expect(removed(settled)).toEqual(['c pf0vf1 incompatible']);
    expect(settled.removals[0]!.answer).toBe('pf0vf3');
    expect(settled.removals[0]!.message).toContain('Attempt of incompatible change to existing port detected');
  });

  it('never removes a port that is right, nor one whose provider declines, fails or is not asked (nothing proven)', () => {
    const bindings = [binding('ok', REPRESENTOR), binding('declined', REPRESENTOR), binding('down', REPRESENTOR), binding('unasked', REPRESENTOR)];
    const bridge = [ovnPort('ok', 'pf0vf1'), ovnPort('declined', 'pf0vf2'), ovnPort('down', 'pf0vf3'), ovnPort('unasked', 'pf0vf4')];
    const plan = run({ bindings, bridge, answers: { ok: plug('pf0vf1'), declined: DECLINED, down: UNAVAILABLE }, now: 0, state: EMPTY_REPAIR_STATE });
    const later = run({ bindings, bridge, answers: { ok: plug('pf0vf1'), declined: DECLINED, down: UNAVAILABLE }, now: 10 * SETTLE, state: plan.state });
    expect(later.removals).toEqual([]);
    expect(later.state.suspects.size).toBe(0);
  });

  it('never judges an answer on an additional chassis (ovn-controller would not plug afresh there), nor an lport of a type it neither repairs nor plugs', () => {
    const plan = run({
      bindings: [binding('mig', { ...REPRESENTOR, 'requested-chassis': 'hv2,hv1' }, 'additional'), binding('other', { 'vif-plug-type': 'vhost' })],
      bridge: [ovnPort('mig', 'pf0vf1'), ovnPort('other', 'pf0vf2')],
      answers: { mig: plug('pf0vf7') },
      now: 10 * SETTLE,
    });
    expect(plan.asked).toEqual([]);
    expect(plan.removals).toEqual([]);
    // Even with an answer at hand.
    const bindings = [binding('mig', { ...REPRESENTOR, 'requested-chassis': 'hv2,hv1' }, 'additional')];
    const ports = ovnPluggedPorts([ovnPort('mig', 'pf0vf1')], BR_INT, REPAIR);
    const answered = { bindings: new Map(bindings.map((b) => [b.lport, b])), chassis: HERE, repairTypes: REPAIR, served: SERVED, ports, answers: new Map([['mig', plug('pf0vf7')]]), canRemove: true, now: 0, settleMs: 0 };
    expect(planRepairs({ ...answered, state: planRepairs({ ...answered, state: EMPTY_REPAIR_STATE }).state }).removals).toEqual([]);
  });

  it('keeps the port the provider answers and removes its duplicates', () => {
    const bindings = [binding('c', REPRESENTOR)];
    const bridge = [ovnPort('c', 'pf0vf2'), ovnPort('c', 'stale-copy')];
    const first = run({ bindings, bridge, answers: { c: plug('pf0vf2') }, now: 0 });
    expect(removed(run({ bindings, bridge, answers: { c: plug('pf0vf2') }, now: SETTLE, state: first.state }))).toEqual(['c stale-copy incompatible']);
  });

  it('holds a port when ovn-controller plugs a differing one again after a repair: the providers disagree, and removing it again would flap it', () => {
    const bindings = [binding('c', REPRESENTOR)];
    const old = ovnPort('c', 'pf0vf1');
    const seen = run({ bindings, bridge: [old], answers: { c: plug('pf0vf2') }, now: 0 });
    const repair = run({ bindings, bridge: [old], answers: { c: plug('pf0vf2') }, now: SETTLE, state: seen.state });
    expect(removed(repair)).toEqual(['c pf0vf1 incompatible']);
    let state = recordRemoved(repair.state, repair.removals);
    // Between the removal and ovn-controller's new port, the lport has no port: the record stays.
    state = run({ bindings, bridge: [], answers: {}, now: SETTLE + 10, state }).state;
    // ovn-controller's provider answers pf0vf1 again.
    const again = ovnPort('c', 'pf0vf1');
    const held = run({ bindings, bridge: [again], answers: { c: plug('pf0vf2') }, now: 5 * SETTLE, state });
    expect(held.removals).toEqual([]);
    expect(held.held).toEqual([expect.objectContaining({ lport: 'c', iface: 'pf0vf1', type: 'representor', reason: 'PROVIDERS_DISAGREE' })]);
    const stillHeld = run({ bindings, bridge: [again], answers: { c: plug('pf0vf2') }, now: 50 * SETTLE, state: held.state });
    expect(stillHeld.removals).toEqual([]);
    expect(stillHeld.held).toHaveLength(1);
    // The lport's options change, and with them the answer: judged afresh.
    const moved = run({ bindings, bridge: [again], answers: { c: plug('pf0vf3') }, now: 60 * SETTLE, state: stillHeld.state });
    expect(moved.held).toEqual([]);
    expect(removed(run({ bindings, bridge: [again], answers: { c: plug('pf0vf3') }, now: 61 * SETTLE, state: moved.state }))).toEqual(['c pf0vf1 incompatible']);
  });

  it('forgets a repair once the providers agree, so that a later change is judged afresh', () => {
    const bindings = [binding('c', REPRESENTOR)];
    const first = run({ bindings, bridge: [ovnPort('c', 'pf0vf1')], answers: { c: plug('pf0vf2') }, now: 0 });
    const repair = run({ bindings, bridge: [ovnPort('c', 'pf0vf1')], answers: { c: plug('pf0vf2') }, now: SETTLE, state: first.state });
    const state = recordRemoved(repair.state, repair.removals);
    const agreed = run({ bindings, bridge: [ovnPort('c', 'pf0vf2')], answers: { c: plug('pf0vf2') }, now: 2 * SETTLE, state });
    expect(agreed.state.removedFor.size).toBe(0);
  });

  it('judges only the lports in scope, and carries the others’ state over', () => {
    const bindings = [binding('c', REPRESENTOR), binding('d', REPRESENTOR)];
    const bridge = [ovnPort('c', 'pf0vf1'), ovnPort('d', 'pf0vf3'), ovnPort('gone', 'pf0vf9')];
    const first = run({ bindings, bridge, answers: { c: plug('pf0vf2'), d: plug('pf0vf4') }, now: 0 });
    const scoped = run({ bindings, bridge, answers: { c: plug('pf0vf2') }, now: SETTLE, state: first.state, scope: ['c'] });
    expect(scoped.asked).toEqual(['c']);
    expect(removed(scoped)).toEqual(['c pf0vf1 incompatible']);
    expect([...scoped.state.suspects.values()].map((d) => d.lport).sort()).toEqual(['c', 'd', 'gone']);
  });
});

describe('the repair transaction', () => {
  it('removes each port only if it is still exactly as judged, and as one transaction', () => {
    const port = ovnPort('a', 'pf0vf1');
    const plan = settled({ bindings: [], bridge: [port] });
    const ops = repairOperations(plan.removals);
    expect(ops.map((o) => `${o.op}${'table' in o ? ` ${o.table}` : ''}`)).toEqual(['comment', 'wait Interface', 'wait Port', 'mutate Bridge', 'delete Port', 'delete Interface']);
    expect(ops[1]).toMatchObject({
      until: '==',
      rows: [{}],
      timeout: 0,
      where: [
        ['_uuid', '==', port.ifaceUuid],
        ['name', '==', 'pf0vf1'],
        ['external_ids', 'includes', new Map([[IFACE_ID, 'a'], [OVN_PLUGGED, 'representor']])],
      ],
    });
    expect(ops[2]).toMatchObject({ where: [['_uuid', '==', port.portUuid], ['interfaces', '==', [port.ifaceUuid]]] });
    expect(ops[3]).toMatchObject({ where: [['_uuid', '==', BR_INT]], mutations: [['ports', 'delete', [port.portUuid]]] });
  });
});

// --- properties -----------------------------------------------------------------------------------

const LPORTS = ['a', 'b', 'c', 'd'];
const NAMES = ['pf0vf1', 'pf0vf2', 'pf0vf3', 'x'];
const arbBinding = fc.record({
  lport: fc.constantFrom(...LPORTS),
  role: fc.constantFrom('main' as const, 'additional' as const, 'elsewhere' as const),
  type: fc.constantFrom(undefined, 'representor', 'vifplug-representor', 'vhost'),
});
const arbIface = fc.record({
  lport: fc.constantFrom(...LPORTS),
  name: fc.constantFrom(...NAMES),
  mark: fc.constantFrom('representor', 'dummy', undefined),
  agent: fc.boolean(),
  bond: fc.boolean(),
  otherBridge: fc.boolean(),
});
const arbAnswer = fc.oneof(fc.constantFrom(...NAMES).map(plug), fc.constant(DECLINED), fc.constant(UNAVAILABLE));

describe('properties', () => {
  it('removes only ovn-controller’s ports of repaired types, never before the view is complete, never the answered one, never on a decline', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(arbBinding, { selector: (b) => b.lport, maxLength: 4 }),
        fc.array(arbIface, { maxLength: 6 }),
        fc.dictionary(fc.constantFrom(...LPORTS), arbAnswer),
        fc.boolean(),
        (bs, ifs, answers, canRemove) => {
          const bindings = bs.map((b) => binding(b.lport, b.type === undefined ? {} : { 'vif-plug-type': b.type }, b.role));
          const bridge = ifs.map((i) =>
            iface(
              i.name,
              { [IFACE_ID]: i.lport, ...(i.mark === undefined ? {} : { [OVN_PLUGGED]: i.mark }), ...(i.agent ? { [AGENT_MARKER]: 'vifplug-representor' } : {}) },
              { portIfaceCount: i.bond ? 2 : 1, ...(i.otherBridge ? { bridgeUuid: ELSEWHERE } : {}) },
            ),
          );
          // Two passes a settle time apart: what differs has held long enough.
          const first = run({ bindings, bridge, answers, canRemove });
          const plan = run({ bindings, bridge, answers, canRemove, now: SETTLE, state: first.state });
          if (!canRemove) expect(plan.removals).toEqual([]);
          for (const r of plan.removals) {
            expect(REPAIR.has(r.iface.externalIds.get(OVN_PLUGGED)!)).toBe(true);
            expect(r.iface.externalIds.has(AGENT_MARKER)).toBe(false);
            expect(r.iface.portIfaceCount).toBe(1);
            expect(r.iface.bridgeUuid).toBe(BR_INT);
            const b = bindings.find((x) => x.lport === r.lport);
            const type = b?.options.get('vif-plug-type');
            if (b !== undefined && b.requestedChassis === HERE.uuid && type === 'representor') {
              const answer = answers[r.lport]!;
              expect(r.reason).toBe('incompatible');
              expect(answer.kind).toBe('plug');
              expect(r.iface.name).not.toBe((answer as { name: string }).name);
            }
            if (b !== undefined && (b.requestedChassis === HERE.uuid || b.requestedAdditionalChassis.includes(HERE.uuid!)) && type !== undefined && !SERVED.has(type)) {
              expect(r.reason).toBe('incompatible');
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
