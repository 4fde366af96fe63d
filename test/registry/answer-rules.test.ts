import { describe, expect, it } from 'vitest';

import { checkPrepareAnswer } from '../../src/api/wire';
import { PreparePortResponse } from '../../src/gen/vifplug/provider/v1/provider';
import { ANSWER_LIMITS, VIF_IFACE_TYPES, ifaceNameProblem, ifaceOptionsProblem, netdevNameProblem, prepareAnswerProblem, type PortCtxOut } from '../../src/registry';

// The answer rules (src/registry/answer-rules.ts), as a table: what the
// kernel's dev_valid_name() and OVS take passes, everything else is named by
// field and problem. The daemon applies them to every answer; the tests of
// test/server and test/remote show that through real providers.

const out = (name: string, type = '', options: Record<string, string> = {}): PortCtxOut => ({ name, type, ifaceOptions: new Map(Object.entries(options)) });
const problemOf = (o: PortCtxOut) => prepareAnswerProblem('create', { plug: true, out: o });

describe('a kernel netdev name (types "", system, internal, tap, afxdp)', () => {
  it('takes what dev_valid_name() takes', () => {
    for (const name of ['pf0vf1', 'enp7s0f0_4', 'a'.repeat(15), 'lsp-1.2', 'eth0@x', 'é'.repeat(7), 'x.', '...', '漢字五']) {
      expect(netdevNameProblem(name), name).toBeUndefined();
    }
  });

  it.each([
    ['', 'missing'],
    ['.', 'dot-name'],
    ['..', 'dot-name'],
    ['a'.repeat(16), 'too-long'],
    ['é'.repeat(8), 'too-long'],
    ['a/b', 'forbidden-character'],
    ['a:b', 'forbidden-character'],
    ['a b', 'forbidden-character'],
    ['tab\there', 'forbidden-character'],
    ['nl\n', 'forbidden-character'],
    ['cr\r', 'forbidden-character'],
    ['vt\v', 'forbidden-character'],
    ['nul\0', 'forbidden-character'],
    ['bell\x07', 'forbidden-character'],
    ['del\x7f', 'forbidden-character'],
    ['c1\x85', 'forbidden-character'],
    ['nbsp\u00a0', 'forbidden-character'],
    // The kernel's isspace() takes the byte 0xA0 for white space, wherever it is: "à" is C3 A0.
    ['voilà', 'forbidden-character'],
    ['\u0120x', 'forbidden-character'],
    ['\u0820x', 'forbidden-character'],
    ['lone\ud800', 'not-well-formed'],
  ])('%j: %s', (name, problem) => {
    for (const type of ['', 'system', 'internal', 'tap', 'afxdp', 'afxdp-nonpmd']) {
      expect(problemOf(out(name, type)), `${JSON.stringify(name)} ${type}`).toMatchObject({ field: 'ctx_out.name', problem });
    }
  });

  it('says what is wrong, quoting the name with its escapes', () => {
    expect(netdevNameProblem('a/b')?.message).toBe('ctx_out.name "a/b" holds "/" (U+002F); a kernel netdev name has no "/", ":", white space or control character');
    expect(netdevNameProblem('nl\n')?.message).toContain('"nl\\n" holds a control character (U+000A)');
    expect(netdevNameProblem('a'.repeat(20))?.message).toBe(`ctx_out.name "${'a'.repeat(20)}" is 20 bytes; a kernel netdev name has at most 15`);
  });
});

describe('an interface OVS alone knows (dpdk, dpdkvhostuser, dpdkvhostuserclient, dummy...)', () => {
  it('may have a longer name, with ":" and "/", but no control characters', () => {
    expect(ifaceNameProblem('dpdk-0000:07:00.0-representor-vf12', 'dpdk')).toBeUndefined();
    expect(ifaceNameProblem('a'.repeat(ANSWER_LIMITS.ifaceNameBytes), 'dpdkvhostuserclient')).toBeUndefined();
    expect(ifaceNameProblem('a'.repeat(ANSWER_LIMITS.ifaceNameBytes + 1), 'dpdk')).toMatchObject({ problem: 'too-long' });
    expect(ifaceNameProblem('x\ny', 'dpdk')).toMatchObject({ problem: 'forbidden-character' });
    expect(ifaceNameProblem('..', 'dummy')).toMatchObject({ problem: 'dot-name' });
  });

  it('of type dpdkvhostuser, whose name OVS makes a socket file name: no "/" or "\\"', () => {
    expect(ifaceNameProblem('vhu/../../etc', 'dpdkvhostuser')).toMatchObject({ problem: 'forbidden-character' });
    expect(ifaceNameProblem('vhu\\x', 'dpdkvhostuser')).toMatchObject({ problem: 'forbidden-character' });
    expect(ifaceNameProblem('vhu/x', 'dpdkvhostuserclient')).toBeUndefined();
  });
});

describe('the interface type', () => {
  it('is one OVS has for a VIF', () => {
    for (const type of VIF_IFACE_TYPES) expect(problemOf(out('p0', type)), type).toBeUndefined();
    for (const type of ['geneve', 'vxlan', 'gre', 'patch', 'stt', 'Internal', 'dpdkr', 'x'.repeat(300), 'internal ']) {
      expect(problemOf(out('p0', type)), type).toMatchObject({ field: 'ctx_out.type', problem: 'unknown-type' });
    }
  });
});

describe('interface options', () => {
  it('take what OVS stores and ovs-vsctl shows', () => {
    expect(ifaceOptionsProblem(new Map([['dpdk-devargs', '0000:07:00.0,representor=[1-3]'], ['n_rxq', '2'], ['note', 'tab\tok']]))).toBeUndefined();
    const full = new Map(Array.from({ length: ANSWER_LIMITS.maxOptions }, (_, i) => [`k${i}`, 'v']));
    expect(ifaceOptionsProblem(full)).toBeUndefined();
  });

  it.each([
    ['an empty key', { '': 'v' }, 'empty-key'],
    ['a key with "="', { 'a=b': 'v' }, 'forbidden-character'],
    ['a key with a newline', { 'a\nb': 'v' }, 'forbidden-character'],
    ['a key with a space', { 'a b': 'v' }, 'forbidden-character'],
    ['a key too long', { ['k'.repeat(ANSWER_LIMITS.maxOptionKeyLength + 1)]: 'v' }, 'too-long'],
    ['a value with NUL', { k: 'a\0b' }, 'forbidden-character'],
    ['a value with a newline', { k: 'a\nb' }, 'forbidden-character'],
    ['a value with CR', { k: 'a\rb' }, 'forbidden-character'],
    ['a value too long', { k: 'v'.repeat(ANSWER_LIMITS.maxOptionValueLength + 1) }, 'too-long'],
    ['too much in all', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'.repeat(4000)])), 'too-long'],
  ])('refuse %s', (_what, options, problem) => {
    expect(problemOf(out('p0', '', options))).toMatchObject({ field: 'ctx_out.iface_options', problem });
  });

  it('are at most 512', () => {
    const many = Object.fromEntries(Array.from({ length: ANSWER_LIMITS.maxOptions + 1 }, (_, i) => [`k${i}`, 'v']));
    expect(problemOf(out('p0', '', many))).toMatchObject({ problem: 'too-many' });
  });
});

describe('a whole answer', () => {
  it('a create says which interface; a remove need not; a decline says why', () => {
    expect(prepareAnswerProblem('create', { plug: true })).toMatchObject({ field: 'ctx_out.name', problem: 'missing' });
    expect(prepareAnswerProblem('remove', { plug: true })).toBeUndefined();
    expect(prepareAnswerProblem('remove', { plug: true, out: out('a/b') })).toBeUndefined();
    expect(prepareAnswerProblem('create', { plug: false, reason: 'NO_VF', message: 'no VF 3 yet' })).toBeUndefined();
    expect(prepareAnswerProblem('create', { plug: false, reason: 'no', message: 'x' })).toMatchObject({ field: 'decline_reason', problem: 'not-upper-snake' });
    expect(prepareAnswerProblem('create', { plug: false, reason: '', message: 'x' })).toMatchObject({ field: 'decline_reason', problem: 'missing' });
    expect(prepareAnswerProblem('create', { plug: false, reason: 'NO_VF', message: '' })).toMatchObject({ field: 'decline_message', problem: 'missing' });
    expect(prepareAnswerProblem('create', { plug: false, reason: 'NO_VF', message: 'm'.repeat(1025) })).toMatchObject({ field: 'decline_message', problem: 'too-long' });
    expect(prepareAnswerProblem('create', undefined as never)).toMatchObject({ field: 'plug' });
  });

  it('in wire form (checkPrepareAnswer), with the handle at most 4096 bytes', () => {
    const wire = (fields: Partial<PreparePortResponse>) => PreparePortResponse.fromPartial({ plug: true, ctxOut: { name: 'p0', type: 'internal' }, ...fields });
    expect(checkPrepareAnswer('create', wire({ handle: Buffer.alloc(4096) }))).toMatchObject({ result: { plug: true, out: { name: 'p0', type: 'internal' } } });
    expect(checkPrepareAnswer('create', wire({ handle: Buffer.alloc(4097) }))).toMatchObject({ field: 'handle', problem: 'too-long' });
    expect(checkPrepareAnswer('create', wire({ ctxOut: { name: 'p 0', type: '', ifaceOptions: new Map() } }))).toMatchObject({ field: 'ctx_out.name' });
    expect(checkPrepareAnswer('create', wire({ ctxOut: undefined }))).toMatchObject({ field: 'ctx_out.name', problem: 'missing' });
    expect(checkPrepareAnswer('remove', wire({ ctxOut: undefined, handle: Buffer.from('rm') }))).toMatchObject({ result: { plug: true }, handle: Buffer.from('rm') });
    expect(checkPrepareAnswer('create', PreparePortResponse.fromPartial({ plug: false, declineReason: 'NOT_MINE', declineMessage: 'another NIC' }))).toMatchObject({ result: { plug: false, reason: 'NOT_MINE' } });
  });
});
