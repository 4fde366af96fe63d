/**
 * Conversions between the provider contract (src/registry/provider.ts) and
 * the messages of vifplug.provider.v1, for both ends: the daemon calling a
 * remote provider (remote/) and the SDK serving one (sdk/); and a
 * provider's PreparePort answer in wire form checked against the answer
 * rules (registry/answer-rules.ts) plus the one rule of the wire, the
 * handle's size: checkPrepareAnswer, for whoever checks a provider from
 * outside. The maps are handed on, not copied: the encoder only reads them.
 */

import * as wire from '../gen/vifplug/provider/v1/provider';
import { NO_OPTIONS, prepareAnswerProblem, type AnswerProblem, type OpType, type PortCtxIn, type PortCtxOut, type PrepareResult, type Representor } from '../registry';
import { MAX_HANDLE_BYTES } from './limits';

export { isReason } from '../registry';

/** The provider API versions this daemon speaks, preferred first. */
export const API_VERSIONS: readonly string[] = ['v1'];

/** The service name under which a provider reports its health. */
export const PROVIDER_SERVICE = 'vifplug.provider.v1.Provider';

export function toWireOpType(op: OpType): wire.OpType {
  return op === 'create' ? wire.OpType.OP_TYPE_CREATE : wire.OpType.OP_TYPE_REMOVE;
}

/** The maps are only read by the encoder: no copies. */
export function toWireCtxIn(ctxIn: PortCtxIn): wire.PortCtxIn {
  return {
    opType: toWireOpType(ctxIn.opType),
    useDpdk: ctxIn.useDpdk,
    lportName: ctxIn.lportName,
    lportOptions: ctxIn.lportOptions as Map<string, string>,
    ifaceName: ctxIn.ifaceName,
    ifaceType: ctxIn.ifaceType,
    ifaceOptions: ctxIn.ifaceOptions as Map<string, string>,
  };
}

export function toWireCtxOut(out: PortCtxOut | undefined): wire.PortCtxOut | undefined {
  if (out === undefined) return undefined;
  return { name: out.name, type: out.type, ifaceOptions: out.ifaceOptions as Map<string, string> };
}

/** What a provider receives; undefined when the message breaks the API's rules. */
export function fromWireCtxIn(w: wire.PortCtxIn | undefined): PortCtxIn | undefined {
  if (w === undefined) return undefined;
  let opType: OpType;
  if (w.opType === wire.OpType.OP_TYPE_CREATE) opType = 'create';
  else if (w.opType === wire.OpType.OP_TYPE_REMOVE) opType = 'remove';
  else return undefined;
  return {
    opType,
    useDpdk: w.useDpdk,
    lportName: w.lportName,
    lportOptions: shared(w.lportOptions),
    ifaceName: w.ifaceName,
    ifaceType: w.ifaceType,
    ifaceOptions: shared(w.ifaceOptions),
  };
}

export function fromWireCtxOut(w: wire.PortCtxOut | undefined): PortCtxOut | undefined {
  if (w === undefined) return undefined;
  return { name: w.name, type: w.type, ifaceOptions: shared(w.ifaceOptions) };
}

function shared(map: Map<string, string>): ReadonlyMap<string, string> {
  return map.size === 0 ? NO_OPTIONS : map;
}

/** A provider's PreparePort answer in contract terms, as decoded; not checked (the answer rules are the port cycle's). */
export function fromWireAnswer(op: OpType, res: wire.PreparePortResponse): PrepareResult {
  if (!res.plug) return { plug: false, reason: res.declineReason, message: res.declineMessage };
  if (op === 'remove' || res.ctxOut === undefined) return { plug: true };
  return { plug: true, out: fromWireCtxOut(res.ctxOut) };
}

/** The wire's own rule for an answer: its handle's size (the daemon keeps it per ctx). */
export function handleProblem(res: wire.PreparePortResponse): AnswerProblem | undefined {
  if (res.handle.length <= MAX_HANDLE_BYTES) return undefined;
  return { field: 'handle', problem: 'too-long', message: `handle is ${res.handle.length} bytes; at most ${MAX_HANDLE_BYTES}` };
}

/** A PreparePort answer that follows the rules, in contract terms, with its handle. */
export type CheckedAnswer = { readonly result: PrepareResult; readonly handle: Buffer };

/**
 * Checks a PreparePort answer in wire form against every rule the daemon
 * applies (registry/answer-rules.ts and the handle's size): the problem
 * found first, or the answer in contract terms. The daemon itself applies
 * the same rules in two places (the handle where the answer is decoded, the
 * rest where every provider's answer passes, the port cycle); this is them
 * in one call, for a tool that checks a provider from outside.
 */
export function checkPrepareAnswer(op: OpType, res: wire.PreparePortResponse): CheckedAnswer | AnswerProblem {
  const result = fromWireAnswer(op, res);
  const problem = (res.plug ? handleProblem(res) : undefined) ?? prepareAnswerProblem(op, result);
  return problem ?? { result, handle: res.handle };
}

export function clip(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** A representor for either API's message (vifplug.v1 and vifplug.provider.v1 spell it alike). */
export function toWireRepresentor(r: Representor): wire.Representor {
  return { ...r, lportOptions: new Map(r.lportOptions) };
}

export function fromWireRepresentor(r: wire.Representor): Representor {
  return { ...r, source: r.source === 'devlink' ? 'devlink' : 'sysfs' };
}
