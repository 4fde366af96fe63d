import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { bridgeOperations } from '../../src/ovn/bridge-change';
import { bindingRole, desiredPorts, parseMtuRequest, requestedHere } from '../../src/ovn/desired';
import { AGENT_MARKER, IFACE_ID, type Binding, type BridgeIface, type ChassisIdentity, type CreateAnswer, type RemoveAnswer, type Want } from '../../src/ovn/model';
import { ifaceNameProblem, isOurs, planChange, sortBridge, toPrepare, toRemove, type Plan } from '../../src/ovn/plan';

const HERE: ChassisIdentity = { name: 'hv1', hostname: 'hv1.example.com', uuid: '11111111-1111-1111-1111-111111111111' };
const ELSEWHERE = '22222222-2222-2222-2222-222222222222';
const SERVED = new Set(['fake', 'other']);
const NAME_OPTION = 'vif-plug:fake:name';
/** The integration bridge, and one an earlier ovn-bridge named. */
const BR_INT = '33333333-3333-3333-3333-333333333333';
const OLD_BR = '44444444-4444-4444-4444-444444444444';
const ON_OLD_BRIDGE: Partial<BridgeIface> = { bridgeUuid: OLD_BR, bridgeName: 'br-old' };

/** A binding; `column` null leaves requested_chassis empty; `additional`: requested_additional_chassis. */
function binding(lport: string, options: Record<string, string>, column: string | null = HERE.uuid!, additional: string[] = []): Binding {
  return { lport, requestedChassis: column ?? undefined, requestedAdditionalChassis: additional, options: new Map(Object.entries(options)) };
}

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

function ours(lport: string, name: string, type = 'fake', extra: Partial<BridgeIface> = {}): BridgeIface {
  return iface(name, { [IFACE_ID]: lport, [AGENT_MARKER]: type }, extra);
}

/** A provider whose answer is written in the lport's options: the name, or a decline when there is none. */
function fakeProvider(want: Want, ctx: () => string): CreateAnswer {
  const name = want.options.get(NAME_OPTION);
  if (name === undefined) return { kind: 'declined', reason: 'NO_NAME', message: 'no name option', retryable: true };
  return { kind: 'plug', ctxId: ctx(), name, type: want.type === 'other' ? 'internal' : '', ifaceOptions: new Map([['fake-option', want.lport]]) };
}

interface Pass {
  plan: Plan;
  createCtxs: string[];
  removeCtxs: string[];
}

/** One whole reconcile pass over a bridge, the provider answering as fakeProvider (REMOVE: always yes, unless vetoed). */
function pass(bindings: Binding[], bridge: BridgeIface[], canUnplug: boolean, veto: ReadonlySet<string> = new Set()): Pass {
  let ctx = 0;
  const createCtxs: string[] = [];
  const removeCtxs: string[] = [];
  const { wants, invalid } = desiredPorts(bindings, HERE, SERVED);
  const actual = sortBridge(bridge, BR_INT);
  const step1 = toPrepare(wants, actual, SERVED);
  const answers = new Map<string, CreateAnswer>();
  for (const want of step1.creates) {
    answers.set(want.lport, fakeProvider(want, () => {
      const id = `c${++ctx}`;
      createCtxs.push(id);
      return id;
    }));
  }
  const step2 = toRemove({ wants, invalid, actual, answers, served: SERVED, canUnplug });
  const removeAnswers = new Map<string, RemoveAnswer>();
  for (const r of step2.removals) {
    if (veto.has(r.lport)) {
      removeAnswers.set(r.iface.ifaceUuid, { kind: 'declined', reason: 'VETO', message: 'not now', retryable: true });
    } else {
      const id = `r${++ctx}`;
      removeCtxs.push(id);
      removeAnswers.set(r.iface.ifaceUuid, { kind: 'plug', ctxId: id });
    }
  }
  const plan = planChange({
    wants,
    blocked: step1.blocked,
    invalid,
    actual,
    answers,
    removals: step2.removals,
    removeAnswers,
    maintained: new Map([['fake', ['fake-option']], ['other', ['fake-option', 'gone-option']]]),
  });
  return { plan, createCtxs, removeCtxs };
}

/** The bridge after the plan's transaction committed. */
function apply(bridge: BridgeIface[], plan: Plan): BridgeIface[] {
  const deleted = new Set(plan.deletes.map((d) => d.iface.ifaceUuid));
  const updated = new Map(plan.updates.map((u) => [u.iface.ifaceUuid, u]));
  const next = bridge
    .filter((i) => !deleted.has(i.ifaceUuid))
    .map((i) => {
      const u = updated.get(i.ifaceUuid);
      if (u === undefined) return i;
      const options = new Map(i.options);
      for (const k of u.change.deleteOptions) options.delete(k);
      for (const [k, v] of u.change.setOptions) options.set(k, v);
      return {
        ...i,
        options,
        type: u.change.type ?? i.type,
        mtuRequest: u.change.mtuRequest === undefined ? i.mtuRequest : (u.change.mtuRequest ?? undefined),
      };
    });
  for (const { want, answer } of plan.creates) {
    next.push(ours(want.lport, answer.name, want.type, { type: answer.type, options: new Map(answer.ifaceOptions), mtuRequest: want.mtuRequest }));
  }
  return next;
}

describe('requestedHere', () => {
  it('follows requested_chassis when northd filled it, the option (main entry, name or hostname) otherwise', () => {
    expect(requestedHere(binding('a', {}), HERE)).toBe(true);
    expect(requestedHere(binding('a', { 'requested-chassis': 'hv1' }, ELSEWHERE), HERE)).toBe(false);
    expect(requestedHere(binding('a', { 'requested-chassis': 'hv1' }, null), HERE)).toBe(true);
    expect(requestedHere(binding('a', { 'requested-chassis': 'hv1.example.com,hv2' }, null), HERE)).toBe(true);
    expect(requestedHere(binding('a', { 'requested-chassis': 'hv2,hv1' }, null), HERE)).toBe(false);
    expect(requestedHere(binding('a', { 'requested-chassis': 'non-existent-chassis' }, null), HERE)).toBe(false);
    expect(requestedHere(binding('a', {}, null), HERE)).toBe(false);
    expect(requestedHere(binding('a', {}), { ...HERE, uuid: undefined })).toBe(false);
  });
});

describe('bindingRole', () => {
  it('is main or additional as lport_can_bind_on_this_chassis says: the columns first, the option while they do not name this chassis', () => {
    // northd resolved "hv2,hv1": hv1 is an additional chassis.
    expect(bindingRole(binding('a', { 'requested-chassis': 'hv2,hv1' }, ELSEWHERE, [HERE.uuid!]), HERE)).toBe('additional');
    expect(bindingRole(binding('a', { 'requested-chassis': 'hv1,hv2' }, HERE.uuid!, [ELSEWHERE]), HERE)).toBe('main');
    // Not resolved yet (or this chassis not registered): the option, by name or hostname; the first entry is the main chassis.
    expect(bindingRole(binding('a', { 'requested-chassis': 'hv2,hv1.example.com' }, null), HERE)).toBe('additional');
    expect(bindingRole(binding('a', { 'requested-chassis': 'hv2,hv1' }, ELSEWHERE), { ...HERE, uuid: undefined })).toBe('additional');
    expect(bindingRole(binding('a', { 'requested-chassis': 'hv1,hv2' }, null), HERE)).toBe('main');
    // The option's main entry, but northd resolved the main chassis to another one: never two chassis plug one lport.
    expect(bindingRole(binding('a', { 'requested-chassis': 'hv1' }, ELSEWHERE), HERE)).toBeUndefined();
    expect(bindingRole(binding('a', { 'requested-chassis': 'hv2,hv3' }, ELSEWHERE, ['33333333-0000-0000-0000-000000000000']), HERE)).toBeUndefined();
    expect(bindingRole(binding('a', {}, null), HERE)).toBeUndefined();
  });
});

describe('desiredPorts', () => {
  it('plugs on an additional chassis only when asked to (--plug-additional); otherwise it keeps what is there', () => {
    const bindings = [binding('mig', { 'vif-plug-type': 'fake', 'requested-chassis': 'hv2,hv1' }, ELSEWHERE, [HERE.uuid!])];
    const off = desiredPorts(bindings, HERE, SERVED);
    expect([...off.wants.keys()]).toEqual([]);
    expect([...off.kept]).toEqual(['mig']);
    const on = desiredPorts(bindings, HERE, SERVED, { plugAdditional: true });
    expect([...on.wants.keys()]).toEqual(['mig']);
    expect(on.kept.size).toBe(0);
    // The port of a kept lport is neither unplugged nor replugged, whatever the provider now answers.
    const actual = sortBridge([ours('mig', 'old-name')], BR_INT);
    const answers = new Map<string, CreateAnswer>([['mig', { kind: 'plug', ctxId: 'c1', name: 'new-name', type: '', ifaceOptions: new Map() }]]);
    expect(toRemove({ wants: off.wants, invalid: off.invalid, kept: off.kept, actual, answers, served: SERVED, canUnplug: true }).removals).toEqual([]);
    expect(toRemove({ wants: off.wants, invalid: off.invalid, actual, answers, served: SERVED, canUnplug: true }).removals.map((r) => r.cause)).toEqual(['gone']);
  });

  it('wants the bindings requested here with a served vif-plug-type, and holds back malformed MTU requests', () => {
    const { wants, invalid } = desiredPorts(
      [
        binding('served', { 'vif-plug-type': 'fake', 'vif-plug-mtu-request': '1500' }),
        binding('unserved', { 'vif-plug-type': 'dummy' }),
        binding('no-type', {}),
        binding('elsewhere', { 'vif-plug-type': 'fake' }, ELSEWHERE),
        binding('bad-mtu', { 'vif-plug-type': 'fake', 'vif-plug-mtu-request': '15\n00' }),
      ],
      HERE,
      SERVED,
    );
    expect([...wants.keys()]).toEqual(['served']);
    expect(wants.get('served')!.mtuRequest).toBe(1500);
    expect(invalid.get('bad-mtu')!.problem).toMatchObject({ reason: 'INVALID_MTU_REQUEST', retryable: false });
    expect(invalid.get('bad-mtu')!.problem.message).toContain('15\\n00');
  });

  it('parses vif-plug-mtu-request strictly', () => {
    expect(parseMtuRequest(undefined)).toBeUndefined();
    expect(parseMtuRequest('')).toBeUndefined();
    expect(parseMtuRequest('9000')).toBe(9000);
    for (const bad of ['0', '-1', '1e3', ' 1500', '1500abc', '0x10', '99999999999', '"1500"']) {
      expect(parseMtuRequest(bad), bad).toMatchObject({ reason: 'INVALID_MTU_REQUEST' });
    }
  });
});

describe('ifaceNameProblem', () => {
  it('accepts what the kernel and OVS accept, and says why not otherwise', () => {
    for (const ok of ['pf0vf1', 'enp7s0f0_4', 'a'.repeat(15), 'lsp-1.2']) expect(ifaceNameProblem(ok), ok).toBeUndefined();
    for (const bad of ['', '.', '..', 'a'.repeat(16), 'a/b', 'a b', 'a:b', 'tab\there', 'nl\n', 'é'.repeat(8)]) {
      expect(ifaceNameProblem(bad), JSON.stringify(bad)).toBeDefined();
    }
  });
});

describe('one pass', () => {
  it('plugs a wanted lport: Port and Interface with iface-id and the marker, never ovn-plugged', () => {
    const { plan, createCtxs } = pass([binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf1', 'vif-plug-mtu-request': '1400' })], [], true);
    expect(plan.creates).toHaveLength(1);
    expect(plan.finishCreates).toEqual(createCtxs);
    const ops = bridgeOperations(plan, HERE.uuid!);
    const insert = ops.find((o) => o.op === 'insert' && o.table === 'Interface') as Extract<(typeof ops)[number], { op: 'insert' }>;
    expect(insert.row).toMatchObject({ name: 'pf0vf1', mtu_request: 1400 });
    expect([...(insert.row.external_ids as Map<string, string>)]).toEqual([
      ['iface-id', 'lsp1'],
      ['vifplug-plugged', 'fake'],
    ]);
    expect(JSON.stringify(ops)).not.toContain('ovn-plugged');
  });

  it('leaves a port that is not its own alone, and does not plug an lport another port already carries', () => {
    const foreign = iface('pf0vf1', { [IFACE_ID]: 'lsp1', 'ovn-plugged': 'representor' });
    const bond = ours('lsp2', 'bond0', 'fake', { portIfaceCount: 2 });
    const { plan, createCtxs } = pass([binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'x1' })], [foreign, bond], true);
    expect(createCtxs).toEqual([]);
    expect(plan.deletes).toEqual([]);
    expect(plan.problems.get('lsp1')!.problem).toMatchObject({ reason: 'PORT_NOT_OURS', retryable: false });
    expect(plan.problems.get('lsp1')!.problem.message).toContain("ovn-controller's representor provider");
  });

  it('replugs when the provider answers another interface: the old one goes in the same transaction', () => {
    const old = ours('lsp1', 'pf0vf1');
    const { plan } = pass([binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf2' })], [old], false);
    expect(plan.deletes.map((d) => [d.iface.name, d.cause])).toEqual([['pf0vf1', 'replug']]);
    expect(plan.creates.map((c) => c.answer.name)).toEqual(['pf0vf2']);
    const ops = bridgeOperations(plan, HERE.uuid!);
    expect(ops.map((o) => `${o.op} ${'table' in o ? o.table : ''}`)).toEqual([
      'comment ',
      'mutate Bridge',
      'delete Port',
      'delete Interface',
      'insert Interface',
      'insert Port',
      'mutate Bridge',
    ]);
  });

  it('keeps the old interface and plugs nothing new when the provider vetoes the unplug', () => {
    const old = ours('lsp1', 'pf0vf1');
    const { plan, createCtxs } = pass([binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf2' })], [old], true, new Set(['lsp1']));
    expect(plan.deletes).toEqual([]);
    expect(plan.creates).toEqual([]);
    expect(plan.release).toEqual(createCtxs);
    expect(plan.problems.get('lsp1')!.problem.reason).toBe('VETO');
    expect(plan.plugged.get('lsp1')).toBe('pf0vf1');
  });

  it('unplugs a withdrawn plug request, but nothing for being gone before the view is complete', () => {
    const old = ours('lsp1', 'pf0vf1');
    const withdrawn = [binding('lsp1', { [NAME_OPTION]: 'pf0vf1' })];
    expect(pass(withdrawn, [old], false).plan.deletes).toEqual([]);
    expect(pass(withdrawn, [old], true).plan.deletes.map((d) => d.cause)).toEqual(['gone']);
    // An interface of a type the agent no longer serves is left alone.
    expect(pass([], [ours('lsp9', 'x9', 'unserved')], true).plan.deletes).toEqual([]);
  });

  it('updates only what differs: the answer\'s options, maintained options it dropped, the MTU; foreign option keys stay', () => {
    const current = ours('lsp1', 'if1', 'other', {
      type: 'internal',
      options: new Map([
        ['fake-option', 'stale'],
        ['gone-option', 'x'],
        ['set-by-someone', 'y'],
      ]),
      mtuRequest: 9000,
    });
    const { plan } = pass([binding('lsp1', { 'vif-plug-type': 'other', [NAME_OPTION]: 'if1' })], [current], true);
    expect(plan.updates).toHaveLength(1);
    expect(plan.updates[0]!.change).toEqual({ setOptions: new Map([['fake-option', 'lsp1']]), deleteOptions: ['gone-option'], mtuRequest: null });
    const mutate = bridgeOperations(plan, HERE.uuid!).find((o) => o.op === 'mutate' && o.table === 'Interface');
    expect(mutate).toMatchObject({ mutations: [['options', 'delete', ['gone-option', 'fake-option']], ['options', 'insert', new Map([['fake-option', 'lsp1']])]] });
  });

  it('converges duplicates to the interface the provider answers, and keeps them all while it declines', () => {
    const wanted = [binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf2' })];
    const kept = pass(wanted, [ours('lsp1', 'pf0vf1'), ours('lsp1', 'pf0vf2'), ours('lsp1', 'pf0vf3')], true).plan;
    expect(kept.deletes.map((d) => [d.iface.name, d.cause])).toEqual([
      ['pf0vf1', 'duplicate'],
      ['pf0vf3', 'duplicate'],
    ]);
    expect(kept.creates).toEqual([]);
    expect(kept.plugged.get('lsp1')).toBe('pf0vf2');
    // None of them is the answer: all go, the answer comes.
    const fresh = pass([binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf4' })], [ours('lsp1', 'pf0vf1'), ours('lsp1', 'pf0vf2')], true).plan;
    expect(fresh.deletes.map((d) => d.cause)).toEqual(['replug', 'replug']);
    expect(fresh.creates.map((c) => c.answer.name)).toEqual(['pf0vf4']);
    // The provider declines: it did not say which one is right, so none is unplugged.
    const declined = pass([binding('lsp1', { 'vif-plug-type': 'fake' })], [ours('lsp1', 'pf0vf1'), ours('lsp1', 'pf0vf2')], true).plan;
    expect(declined.deletes).toEqual([]);
    expect(declined.problems.get('lsp1')!.problem).toMatchObject({ reason: 'DUPLICATE_PORTS', retryable: true });
    expect(declined.problems.get('lsp1')!.problem.message).toContain('pf0vf1, pf0vf2');
    expect(declined.problems.get('lsp1')!.problem.message).toContain('NO_NAME');
  });

  it('moves its interface from an earlier integration bridge in one transaction, and leaves it there while the provider declines', () => {
    const old = ours('lsp1', 'pf0vf1', 'fake', ON_OLD_BRIDGE);
    const { plan } = pass([binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf1' })], [old], true);
    expect(plan.deletes.map((d) => [d.iface.name, d.cause])).toEqual([['pf0vf1', 'moved']]);
    expect(plan.creates.map((c) => c.answer.name)).toEqual(['pf0vf1']);
    const ops = bridgeOperations(plan, BR_INT);
    expect(ops.filter((o) => o.op === 'mutate' && o.table === 'Bridge').map((o) => (o as { where: unknown }).where)).toEqual([
      [['_uuid', '==', OLD_BR]],
      [['_uuid', '==', BR_INT]],
    ]);
    const declined = pass([binding('lsp1', { 'vif-plug-type': 'fake' })], [old], true).plan;
    expect(declined.deletes).toEqual([]);
    // Not wanted any more: unplugged there like anywhere.
    expect(pass([], [old], true).plan.deletes.map((d) => d.cause)).toEqual(['gone']);
  });

  it('does not take a name another bridge holds (OVS names are unique across bridges), nor bind what is not on the integration bridge', () => {
    const elsewhere = iface('pf0vf1', { [IFACE_ID]: 'lsp2' }, ON_OLD_BRIDGE);
    const { plan } = pass(
      [binding('lsp1', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf1' }), binding('lsp2', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'pf0vf2' })],
      [elsewhere],
      true,
    );
    expect(plan.problems.get('lsp1')!.problem).toMatchObject({ reason: 'IFACE_NAME_IN_USE' });
    expect(plan.problems.get('lsp1')!.problem.message).toContain('on bridge br-old');
    // Someone else's port with the lport's iface-id on another bridge is not bound by ovn-controller: it does not block.
    expect(plan.creates.map((c) => c.answer.name)).toEqual(['pf0vf2']);
  });

  it('gives a name to one lport only, and tells the others who holds it', () => {
    const foreign = iface('taken', {});
    const { plan, createCtxs } = pass(
      [
        binding('a', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'same' }),
        binding('b', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'same' }),
        binding('c', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'taken' }),
        binding('d', { 'vif-plug-type': 'fake', [NAME_OPTION]: 'bad name' }),
      ],
      [foreign],
      true,
    );
    expect(plan.creates.map((c) => c.want.lport)).toEqual(['a']);
    expect(plan.problems.get('b')!.problem.message).toContain('lport a');
    expect(plan.problems.get('c')!.problem.message).toContain('vifplug-ovn did not create');
    expect(plan.problems.get('d')!.problem.reason).toBe('INVALID_IFACE_NAME');
    expect([...plan.finishCreates, ...plan.release].sort()).toEqual([...createCtxs].sort());
  });
});

// ---------------------------------------------------------------------------
// Properties over random worlds
// ---------------------------------------------------------------------------

const LPORTS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const NAMES = ['n1', 'n2', 'n3', 'n4', 'bad name', 'n-very-long-name-x'];

const arbBinding = fc.record({
  lport: fc.constantFrom(...LPORTS),
  where: fc.constantFrom<'here' | 'elsewhere' | 'option-here' | 'option-elsewhere' | 'none'>('here', 'here', 'here', 'elsewhere', 'option-here', 'option-elsewhere', 'none'),
  type: fc.option(fc.constantFrom('fake', 'other', 'dummy'), { nil: undefined }),
  name: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
  mtu: fc.option(fc.constantFrom('1500', '9000', 'x'), { nil: undefined }),
});

const arbIface = fc.record({
  kind: fc.constantFrom<'ours' | 'foreign' | 'foreign-with-id'>('ours', 'ours', 'foreign', 'foreign-with-id'),
  lport: fc.constantFrom(...LPORTS),
  name: fc.constantFrom(...NAMES, 'm1', 'm2'),
  type: fc.constantFrom('fake', 'other', 'unserved'),
  oldBridge: fc.boolean(),
});

type BindingSpec = typeof arbBinding extends fc.Arbitrary<infer T> ? T : never;

function makeBindings(specs: BindingSpec[]): Binding[] {
  const byLport = new Map<string, Binding>();
  for (const s of specs) {
    const options: Record<string, string> = {};
    if (s.type !== undefined) options['vif-plug-type'] = s.type;
    if (s.name !== undefined) options[NAME_OPTION] = s.name;
    if (s.mtu !== undefined) options['vif-plug-mtu-request'] = s.mtu;
    let column: string | null = null;
    if (s.where === 'here') column = HERE.uuid!;
    else if (s.where === 'elsewhere') column = ELSEWHERE;
    else if (s.where === 'option-here') options['requested-chassis'] = HERE.hostname;
    else if (s.where === 'option-elsewhere') options['requested-chassis'] = 'hv9';
    byLport.set(s.lport, binding(s.lport, options, column));
  }
  return [...byLport.values()];
}

function makeBridge(specs: { kind: string; lport: string; name: string; type: string; oldBridge: boolean }[]): BridgeIface[] {
  const seen = new Set<string>();
  const out: BridgeIface[] = [];
  for (const s of specs) {
    if (seen.has(s.name)) continue; // OVS keeps names unique
    seen.add(s.name);
    const where = s.oldBridge ? ON_OLD_BRIDGE : {};
    if (s.kind === 'ours') out.push(ours(s.lport, s.name, s.type, where));
    else out.push(iface(s.name, s.kind === 'foreign-with-id' ? { [IFACE_ID]: s.lport } : {}, where));
  }
  return out;
}

const world = fc.record({ bindings: fc.array(arbBinding, { maxLength: 8 }), bridge: fc.array(arbIface, { maxLength: 6 }) });

describe('properties', () => {
  it('never changes or deletes an interface that is not its own, and never creates a name that exists', () => {
    fc.assert(
      fc.property(world, fc.boolean(), ({ bindings, bridge }, canUnplug) => {
        const b = makeBridge(bridge);
        const { plan } = pass(makeBindings(bindings), b, canUnplug);
        for (const d of plan.deletes) expect(isOurs(d.iface)).toBe(true);
        for (const u of plan.updates) expect(isOurs(u.iface)).toBe(true);
        const after = apply(b, plan);
        const names = after.flatMap((i) => (i.portName === i.name ? [i.name] : [i.name, i.portName]));
        expect(new Set(names).size).toBe(names.length);
        for (const c of plan.creates) expect(ifaceNameProblem(c.answer.name)).toBeUndefined();
        if (!canUnplug) for (const d of plan.deletes) expect(d.cause).not.toBe('gone');
      }),
      { numRuns: 500 },
    );
  });

  it('accounts for every ctx exactly once: finished after the commit, or released at once', () => {
    fc.assert(
      fc.property(world, fc.boolean(), fc.subarray(LPORTS), ({ bindings, bridge }, canUnplug, vetoed) => {
        const { plan, createCtxs, removeCtxs } = pass(makeBindings(bindings), makeBridge(bridge), canUnplug, new Set(vetoed));
        expect([...plan.finishCreates, ...plan.release].sort()).toEqual([...createCtxs].sort());
        expect([...plan.finishRemoves].sort()).toEqual([...removeCtxs].sort());
        expect(new Set([...plan.finishCreates, ...plan.release, ...plan.finishRemoves]).size).toBe(createCtxs.length + removeCtxs.length);
      }),
      { numRuns: 500 },
    );
  });

  it('converges in one pass and then changes nothing: each plug-able lport has exactly its interface, nothing else of its own stays', () => {
    fc.assert(
      fc.property(world, ({ bindings, bridge }) => {
        const bs = makeBindings(bindings);
        let b = makeBridge(bridge);
        b = apply(b, pass(bs, b, true).plan);
        const second = pass(bs, b, true).plan;
        expect(second.creates).toEqual([]);
        expect(second.deletes).toEqual([]);
        expect(second.updates).toEqual([]);

        const { wants, invalid } = desiredPorts(bs, HERE, SERVED);
        const actual = sortBridge(b, BR_INT);
        for (const [lport, list] of actual.ours) {
          const served = list.filter((i) => SERVED.has(i.externalIds.get(AGENT_MARKER)!));
          if (served.length === 0) continue;
          // Only wanted lports (or ones whose options are held back as invalid) keep an interface, one per lport.
          expect(wants.has(lport) || invalid.has(lport), lport).toBe(true);
          const want = wants.get(lport);
          // While the provider declines, or the lport is held back (options, a port in the way), what is there stays.
          if (want === undefined || !want.options.has(NAME_OPTION) || second.problems.has(lport)) continue;
          expect(served).toHaveLength(1);
          expect(served[0]!.externalIds.get(AGENT_MARKER)).toBe(want.type);
          const name = want.options.get(NAME_OPTION);
          if (name !== undefined && second.problems.get(lport) === undefined) {
            expect(served[0]!.name).toBe(name);
            expect(served[0]!.mtuRequest).toBe(want.mtuRequest);
            expect(served[0]!.options.get('fake-option')).toBe(lport);
          }
        }
        // A wanted lport with a usable, free name and nobody else's port in the way is plugged.
        for (const [lport, want] of wants) {
          if (second.problems.has(lport)) continue;
          const name = want.options.get(NAME_OPTION);
          if (name === undefined) continue;
          expect(actual.ours.get(lport)?.map((i) => i.name), lport).toEqual([name]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
