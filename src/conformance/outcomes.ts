/**
 * What a provider made of one port, whichever way it was asked (PreparePort,
 * one port of PreparePorts, a PortStream message), in one shape: an answer,
 * an error it may answer (a listed code with a reason), or something that
 * breaks the API. provider-check compares the routes' outcomes for the same
 * port, and words them in its report. Errors are read as vifplugd reads them
 * (src/remote/), answers judged by answers.ts.
 */
import type { PortCtxIn, PortResult, PreparePortResponse } from '../gen/vifplug/provider/v1/provider';
import { OpType as WireOpType } from '../gen/vifplug/provider/v1/provider';
import { codeName } from '../api/status';
import type { OpType } from '../registry';
import type { CallFailure } from '../remote/call-failure';
import type { ProviderErrors } from '../remote/provider-errors';
import { answerProblems } from './answers';
import { describeFailure, printable, type Reply } from './provider-under-check';

export type PortOutcome =
  | { readonly kind: 'answer'; readonly answer: PreparePortResponse }
  /** A failure the contract lets a provider answer: a listed code with an UPPER_SNAKE reason. */
  | { readonly kind: 'error'; readonly code: number; readonly reason: string; readonly message: string }
  /** No answer, or one that breaks the API (vifplugd: PROVIDER_ERROR, PROVIDER_TIMEOUT, PROVIDER_UNAVAILABLE). */
  | { readonly kind: 'broken'; readonly what: string; readonly failure?: CallFailure };

/** A unary PreparePort's outcome. */
export function fromReply(reply: Reply<PreparePortResponse>, timeoutMs: number): PortOutcome {
  if (reply.ok) return { kind: 'answer', answer: reply.value };
  const { failure } = reply;
  if (failure.kind === 'answered') return { kind: 'error', code: failure.code, reason: failure.reason, message: failure.message };
  return { kind: 'broken', what: describeFailure(failure, timeoutMs), failure };
}

/** One port's outcome in a PreparePorts or PortStream answer, judged as vifplugd judges it. */
export function fromPortResult(method: string, result: PortResult['result'], errors: ProviderErrors): PortOutcome {
  if (result?.$case === 'prepared') return { kind: 'answer', answer: result.value };
  if (result?.$case !== 'error') return { kind: 'broken', what: 'answered a port without a result' };
  const e = result.value;
  const judged = errors.ofPort(method, e);
  // vifplugd answers INTERNAL (PROVIDER_ERROR) for a port error that breaks the API: no provider may answer INTERNAL.
  if (judged.status === 'INTERNAL') return { kind: 'broken', what: printable(judged.message, 300) };
  return { kind: 'error', code: e.code, reason: e.reason, message: e.message };
}

/** The op a ctx_in asks for, in the contract's words ('create' for anything but REMOVE). */
export function opOf(ctxIn: PortCtxIn | undefined): OpType {
  return ctxIn?.opType === WireOpType.OP_TYPE_REMOVE ? 'remove' : 'create';
}

/** What breaks the API in an outcome for `op`: the boundary's rules for an answer, the outcome itself when broken. */
export function outcomeProblems(op: OpType, outcome: PortOutcome): string[] {
  if (outcome.kind === 'broken') return [outcome.what];
  if (outcome.kind === 'error') return [];
  return answerProblems(op, outcome.answer);
}

/** Whether two routes made the same of a port: the same plug, interface or decline reason, or the same error. */
export function sameOutcome(op: OpType, a: PortOutcome, b: PortOutcome): boolean {
  if (a.kind === 'answer' && b.kind === 'answer') {
    const [x, y] = [a.answer, b.answer];
    if (x.plug !== y.plug) return false;
    if (!x.plug) return x.declineReason === y.declineReason;
    if (op === 'remove') return true;
    return sameInterface(x, y);
  }
  if (a.kind === 'error' && b.kind === 'error') return a.code === b.code && a.reason === b.reason;
  return false;
}

/** Whether two CREATE answers name the same interface: name, type and options. */
export function sameInterface(x: PreparePortResponse, y: PreparePortResponse): boolean {
  const [p, q] = [x.ctxOut, y.ctxOut];
  if (p === undefined || q === undefined) return p === q;
  if (p.name !== q.name || p.type !== q.type || p.ifaceOptions.size !== q.ifaceOptions.size) return false;
  for (const [key, value] of p.ifaceOptions) if (q.ifaceOptions.get(key) !== value) return false;
  return true;
}

/** An outcome in a few words, e.g. `plugged "pf0vf2"`, `declined NO_VF_NUM: ...`, `INVALID_ARGUMENT (INVALID_OPTION): ...`. */
export function describeOutcome(op: OpType, outcome: PortOutcome): string {
  switch (outcome.kind) {
    case 'answer':
      return describeAnswer(op, outcome.answer);
    case 'error':
      return `${codeName(outcome.code)} (${printable(outcome.reason, 64)}): ${printable(outcome.message, 200)}`;
    case 'broken':
      return outcome.what;
  }
}

export function describeAnswer(op: OpType, answer: PreparePortResponse): string {
  if (!answer.plug) return `declined ${printable(answer.declineReason, 64) || '(no reason)'}: ${printable(answer.declineMessage, 200) || '(no message)'}`;
  if (op === 'remove') return 'plug = true';
  const out = answer.ctxOut;
  if (out === undefined) return 'plug = true without ctx_out';
  const type = out.type === '' ? '' : ` type ${shownName(out.type)}`;
  const options = out.ifaceOptions.size === 0 ? '' : ` options ${printable([...out.ifaceOptions].map(([k, v]) => `${k}=${v}`).join(','), 120)}`;
  return `plugged ${shownName(out.name)}${type}${options}`;
}

/** A name as the provider sent it, quoted; a long one clipped, with its length. */
export function shownName(name: string): string {
  const bytes = Buffer.byteLength(name);
  return bytes <= 40 ? `"${printable(name, 40)}"` : `"${printable(name, 24)}" (${bytes} bytes)`;
}

/** Lport options as a command line gives them: k=v,k=v, or "no lport options". */
export function shownOptions(options: ReadonlyMap<string, string>): string {
  return options.size === 0 ? 'no lport options' : [...options].map(([k, v]) => `${k}=${v}`).join(',');
}
