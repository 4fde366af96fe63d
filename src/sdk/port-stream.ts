import { status as Code, type ServerDuplexStream } from '@grpc/grpc-js';

import type * as wire from '../gen/vifplug/provider/v1/provider';
import type { CallBudget } from '../registry';
import { isThenable } from '../registry/instance-gate';
import { MalformedRequest } from '../server/unary';
import { toServiceError } from '../server/status';

/** One port's outcome, from the provider's callback (see serve.ts). */
export type PreparePortResult = (port: wire.PortCtxIn | undefined, budget: CallBudget) => wire.PortResult | Promise<wire.PortResult>;

type Message = wire.PortStreamRequest | MalformedRequest;

/**
 * Serves one PortStream: each `prepare` runs the provider's preparePort with
 * its own budget and is answered under its id as soon as it is done; a
 * `cancel`, or the end of the stream, aborts the budgets of the calls under
 * way, whose answers are then not sent.
 */
export function servePortStream(call: ServerDuplexStream<Message, wire.PortStreamResponse>, prepare: PreparePortResult): void {
  const underWay = new Map<number, StreamBudget>();
  const answer = (id: number, budget: StreamBudget, result: wire.PortResult): void => {
    if (underWay.get(id) !== budget) return;
    underWay.delete(id);
    call.write({ id, result });
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
      const budget = underWay.get(id);
      underWay.delete(id);
      budget?.abort();
      return;
    }
    if (kind?.$case !== 'prepare') {
      call.write({ id, result: { result: { $case: 'error', value: MALFORMED_CALL } } });
      return;
    }
    const budget = new StreamBudget(Date.now() + kind.value.timeoutMs);
    underWay.set(id, budget);
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

/** A streamed call's budget: its deadline, and an abort when vifplugd cancels it. The signal is made on first use. */
class StreamBudget implements CallBudget {
  private controller: AbortController | undefined;
  private listeners: Set<() => void> | undefined;
  private aborted = false;

  constructor(readonly deadline: number) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  onAbort(listener: () => void): () => void {
    if (this.aborted) {
      listener();
      return () => undefined;
    }
    (this.listeners ??= new Set()).add(listener);
    return () => this.listeners?.delete(listener);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.controller?.abort();
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }
}
