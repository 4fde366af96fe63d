/**
 * Listening for a gRPC call's cancellation without an AbortSignal per call:
 * on the path of every provider call, a listener on the call's own event
 * costs a fraction of one.
 */

import type { ServerUnaryCall } from '@grpc/grpc-js';

/**
 * Calls `listener` once if the client cancels `call` (or already did);
 * returns a function that stops listening. Cheaper than an AbortSignal, which
 * matters on the path of every provider call.
 */
export function onCancelled(call: ServerUnaryCall<unknown, unknown>, listener: () => void): () => void {
  if (call.cancelled) {
    listener();
    return () => undefined;
  }
  call.once('cancelled', listener);
  return () => call.off('cancelled', listener);
}

/**
 * Many listeners for one call's cancellation through a single listener on
 * the call: the ports of a batch each listen, and a call is an EventEmitter
 * that warns past ten listeners.
 */
export class CancelListeners {
  private listeners: Set<() => void> | undefined;
  private stop: (() => void) | undefined;

  constructor(private readonly call: ServerUnaryCall<unknown, unknown>) {}

  add(listener: () => void): () => void {
    if (this.call.cancelled) {
      listener();
      return () => undefined;
    }
    const listeners = (this.listeners ??= new Set());
    listeners.add(listener);
    this.stop ??= onCancelled(this.call, () => {
      this.listeners = undefined;
      this.stop = undefined;
      for (const fn of listeners) fn();
    });
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.listeners === listeners) {
        this.stop?.();
        this.stop = undefined;
        this.listeners = undefined;
      }
    };
  }
}
