/**
 * The abort half of a CallBudget: listeners called once when the call is
 * given up on, and an AbortSignal made only if a callback asks for one (an
 * AbortController costs about as much as the rest of a provider call's own
 * work in Node 20, and most callbacks never look). The gate's budget and the
 * SDK's PortStream budget both build on it.
 */
export class CallAbort {
  private controller: AbortController | undefined;
  private listeners: (() => void)[] | undefined;
  private done = false;
  private why: unknown;

  get aborted(): boolean {
    return this.done;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  onAbort(listener: () => void): () => void {
    if (this.done) {
      listener();
      return () => undefined;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      const i = this.listeners?.indexOf(listener) ?? -1;
      if (i >= 0) this.listeners!.splice(i, 1);
    };
  }

  /** Aborts once: later calls do nothing. */
  abort(reason?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.why = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }
}
