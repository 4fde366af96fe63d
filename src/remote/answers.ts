/**
 * The one gate every PreparePort answer of a remote provider passes,
 * whichever route it came by (PreparePort, one port of a PreparePorts, a
 * PortStream message): checked against the provider API, made a
 * PrepareResult, and its handle kept with the ctx it answered, for the
 * FinishPort and DestroyPortCtx of that ctx.
 *
 * It judges answers and nothing else: it neither sends calls nor decides
 * about the session. An answer that breaks the API is refused here, before
 * any caller sees it as a plug.
 */
import type { PortResult, PreparePortResponse } from '../gen/vifplug/provider/v1/provider';
import type { PortCtxIn, PrepareResult } from '../registry';
import type { ProviderErrors } from './provider-errors';
import { checkPrepareAnswer } from '../api/wire';

const NO_HANDLE = Buffer.alloc(0);

export class Answers {
  /** PreparePort handles, by the ctx_in they answered; they live as long as their ctx. */
  private readonly handles = new WeakMap<PortCtxIn, Buffer>();

  constructor(private readonly errors: ProviderErrors) {}

  /** A checked PreparePort answer; its handle is kept with the ctx_in it answered. */
  accept(ctxIn: PortCtxIn, res: PreparePortResponse): PrepareResult {
    const answer = checkPrepareAnswer(ctxIn.opType, res);
    if (typeof answer === 'string') throw this.errors.broken('PreparePort', answer);
    if (!answer.plug) return answer;
    if (answer.handle.length > 0) this.handles.set(ctxIn, answer.handle);
    return { plug: true, out: answer.out };
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
