/**
 * The provider's end of PortStream: one stream from vifplugd carrying many
 * PreparePort calls, each with its own budget, answered as they finish.
 */

import { status as Code, type ServerDuplexStream } from '@grpc/grpc-js';

import * as wire from '../gen/vifplug/provider/v1/provider';
import type { CallBudget } from '../registry';
import { CallAbort } from '../registry/call-abort';
import { DeadlineTimers } from '../registry/deadline-timers';
import { isThenable } from '../registry/instance-gate';
import { MalformedRequest } from '../grpc/unary';
import { toServiceError } from '../grpc/service-error';
import { encodePortStreamResponse } from '../api/port-stream-wire';

/** One port's outcome, from the provider's callback (see serve.ts). */
export type PreparePortResult = (port: wire.PortCtxIn | undefined, budget: CallBudget) => wire.PortResult | Promise<wire.PortResult>;

type Message = wire.PortStreamRequest | MalformedRequest;

/**
 * The PortStream method as the SDK serves it: its responses are written
 * encoded already (api/port-stream-wire.ts), its requests decoded as usual.
 */
export const PORT_STREAM_METHOD = { ...wire.ProviderService.portStream, responseSerialize: (bytes: Buffer): Buffer => bytes };

/**
 * Serves one PortStream: each `prepare` runs the provider's preparePort with
 * its own budget and is answered under its id as soon as it is done; a
 * `cancel`, its time running out (as grpc-js cancels a unary call at its
 * deadline), or the end of the stream aborts the budget of a call under way,
 * whose answer is then not sent.
 */
export function servePortStream(call: ServerDuplexStream<Message, Buffer>, prepare: PreparePortResult): void {
  const underWay = new Map<number, StreamBudget>();
  const giveUp = (id: number, budget: StreamBudget | undefined): void => {
    if (budget === undefined || underWay.get(id) !== budget) return;
    underWay.delete(id);
    budget.abort();
  };
  const answer = (id: number, budget: StreamBudget, result: wire.PortResult): void => {
    if (underWay.get(id) !== budget) return;
    underWay.delete(id);
    budget.settle();
    call.write(encodePortStreamResponse(id, result));
  };
  const abortAll = (): void => {
    const budgets = [...underWay.values()];
    underWay.clear();
    for (const budget of budgets) budget.abort();
  };
  call.on('data', (msg: Message) => {
    if (msg instanceof MalformedRequest) {
      // No id to answer under: the stream ends with the request's error.
      abortAll();
      call.emit('error', toServiceError(msg.error()));
      return;
    }
    const { id, kind } = msg;
    if (kind?.$case === 'cancel') {
      giveUp(id, underWay.get(id));
      return;
    }
    if (kind?.$case !== 'prepare') {
      call.write(encodePortStreamResponse(id, { result: { $case: 'error', value: MALFORMED_CALL } }));
      return;
    }
    const budget = new StreamBudget(Date.now() + kind.value.timeoutMs);
    underWay.set(id, budget);
    budget.stopTimer = TIMERS.add(budget.deadline, () => giveUp(id, budget));
    const result = prepare(kind.value.request?.ctxIn, budget);
    if (isThenable(result)) void result.then((r) => answer(id, budget, r));
    else answer(id, budget, result);
  });
  call.on('cancelled', abortAll);
  call.on('error', abortAll);
  call.on('end', () => {
    abortAll();
    call.end();
  });
}

const MALFORMED_CALL: wire.PortError = {
  code: Code.INVALID_ARGUMENT,
  reason: 'MALFORMED_REQUEST', message: 'the request breaks the provider API: a PortStream message that is neither prepare nor cancel',
  metadata: new Map(),
};

/** One timer per few milliseconds of deadlines for every stream, not one per call. */
const TIMERS = new DeadlineTimers();

/**
 * A streamed call's budget: its deadline, and an abort when vifplugd cancels
 * it or the deadline passes.
 */
class StreamBudget extends CallAbort implements CallBudget {
  stopTimer: (() => void) | undefined;

  constructor(readonly deadline: number) {
    super();
  }

  /** The call was answered: its deadline no longer matters. */
  settle(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
  }

  override abort(): void {
    this.settle();
    super.abort();
  }
}
