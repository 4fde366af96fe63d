/**
 * The one gate every PreparePort answer of a remote provider passes,
 * whichever route it came by (PreparePort, one port of a PreparePorts, a
 * PortStream message): made a PrepareResult, its handle kept with the ctx it
 * answered (for the FinishPort and DestroyPortCtx of that ctx), and the
 * wire's own rule checked, the handle's size.
 *
 * The answer rules proper (the interface name, type and options, the
 * decline's reason) are not checked here but in the port cycle, where every
 * provider's answer passes, built-in or remote (registry/answer-rules.ts);
 * a refused answer is released at the provider from there, with the handle
 * kept here. It judges answers and nothing else: it neither sends calls nor
 * decides about the session.
 */
import type { PortResult, PreparePortResponse } from '../gen/vifplug/provider/v1/provider';
import { AnswerRefused, type PortCtxIn, type PrepareResult } from '../registry';
import type { ProviderErrors } from './provider-errors';
import { fromWireAnswer, handleProblem } from '../api/wire';

const NO_HANDLE = Buffer.alloc(0);

export class Answers {
  /** PreparePort handles, by the ctx_in they answered; they live as long as their ctx. */
  private readonly handles = new WeakMap<PortCtxIn, Buffer>();

  constructor(private readonly errors: ProviderErrors) {}

  /**
   * A PreparePort answer in contract terms; its handle is kept with the
   * ctx_in it answered, even one refused for its size: the refusal hands it
   * back once, in the DestroyPortCtx that releases the answer.
   */
  accept(ctxIn: PortCtxIn, res: PreparePortResponse): PrepareResult {
    const result = fromWireAnswer(ctxIn.opType, res);
    if (!res.plug) return result;
    if (res.handle.length > 0) this.handles.set(ctxIn, res.handle);
    const problem = handleProblem(res);
    if (problem !== undefined) throw new AnswerRefused(this.errors.type, problem, result);
    return result;
  }

  /** One port's outcome in a PreparePorts or PortStream answer. */
  acceptPort(method: string, ctxIn: PortCtxIn, result: PortResult['result']): PrepareResult {
    if (result?.$case === 'prepared') return this.accept(ctxIn, result.value);
    if (result?.$case === 'error') throw this.errors.ofPort(method, result.value);
    throw this.errors.broken(method, 'answered a port without a result');
  }

  /** What PreparePort gave for ctxIn to be handed back; empty if nothing. */
  handleOf(ctxIn: PortCtxIn): Buffer {
    return this.handles.get(ctxIn) ?? NO_HANDLE;
  }
}
