/**
 * The client end of a PortStream: PreparePort calls as messages of one
 * long-lived bidirectional stream, matched to their callers by id, each
 * with its time left and a `cancel` message when its caller gives up.
 *
 * It only multiplexes one stream. It does not say what a broken stream
 * means to callers or to the session, and never opens a new one by itself:
 * its session (session.ts) and the preparer decide that.
 */
import { Metadata, status as Code, type Client, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';

import { ProviderService, type PortCtxIn, type PortResult, type PortStreamResponse } from '../gen/vifplug/provider/v1/provider';
import type { CallBudget } from '../registry';
import { MalformedAnswer, ProviderCallError, failureOf, malformed, tolerant, type CallFailure } from './call-failure';
import { encodeCancelRequest, encodePrepareRequest } from '../api/port-stream-wire';

const METHOD = ProviderService.portStream;
const LAST_ID = 0xffffffff;

/**
 * How a PortStream ended: with the call's status (`failure`), because the
 * provider sent a message that is not a PortStreamResponse, or closed by
 * its owner.
 */
export type StreamEnd = { readonly by: 'status' | 'malformed' | 'closed'; readonly failure: CallFailure };

/** A call that was under way on a PortStream when it broke: nothing says whether the provider saw it. */
export class PortStreamBroken extends Error {
  constructor(readonly end: StreamEnd) {
    super(`PortStream broke (${end.by}: ${end.failure.kind})`);
  }
}

interface Waiting {
  resolve(result: PortResult): void;
  reject(err: unknown): void;
  stopListening: (() => void) | undefined;
}

/** The stream's requests come encoded already (api/port-stream-wire.ts). */
const encoded = (bytes: Buffer): Buffer => bytes;

/**
 * PreparePort calls as messages of one long-lived PortStream (see the
 * proto): a call costs a message each way instead of an HTTP/2 stream, and
 * answers find their callers by id, in whatever order they come. Once the
 * stream breaks, every call under way on it fails with PortStreamBroken and
 * the stream takes no more; its owner opens a new one.
 */
export class PortStream {
  private readonly calls = new Map<number, Waiting>();
  /** Writes PortStreamRequests encoded by api/port-stream-wire.ts. */
  private readonly stream: ClientDuplexStream<Buffer, PortStreamResponse | MalformedAnswer>;
  private nextId = 1;
  private brokenBy: StreamEnd | undefined;

  constructor(
    grpc: Client,
    /** Told once, when the stream breaks, why. */
    private readonly onBroken: (end: StreamEnd) => void,
  ) {
    this.stream = grpc.makeBidiStreamRequest(METHOD.path, encoded, tolerant(METHOD.responseDeserialize), new Metadata(), {});
    this.stream.on('data', (msg: PortStreamResponse | MalformedAnswer) => this.answered(msg));
    // Every end of the call comes with a status; 'error' repeats it for non-OK ones.
    this.stream.on('error', () => undefined);
    this.stream.on('status', (status: StatusObject) => {
      const failure: CallFailure =
        status.code === Code.OK ? { kind: 'bad', message: 'ended its PortStream, which must last as long as the session' } : failureOf({ ...status, name: '', message: status.details });
      this.break({ by: 'status', failure });
    });
  }

  /** Whether it still takes calls. */
  get open(): boolean {
    return this.brokenBy === undefined;
  }

  /**
   * Sends one PreparePort with the time left until `deadline`; cancelled
   * (a `cancel` message, and ProviderCallError 'cancelled' here) when
   * `budget` aborts. Rejects with PortStreamBroken if the stream breaks
   * first.
   */
  prepare(instanceId: string, ctxIn: PortCtxIn, deadline: number, budget: Pick<CallBudget, 'onAbort'>): Promise<PortResult> {
    if (this.brokenBy !== undefined) return Promise.reject(new PortStreamBroken(this.brokenBy));
    const id = this.newId();
    const timeoutMs = Math.min(LAST_ID, Math.max(0, Math.ceil(deadline - Date.now())));
    return new Promise<PortResult>((resolve, reject) => {
      const waiting: Waiting = { resolve, reject, stopListening: undefined };
      this.calls.set(id, waiting);
      this.stream.write(encodePrepareRequest(id, instanceId, ctxIn, timeoutMs));
      waiting.stopListening = budget.onAbort(() => {
        if (this.calls.get(id) !== waiting) return;
        this.calls.delete(id);
        if (this.brokenBy === undefined) this.stream.write(encodeCancelRequest(id));
        reject(new ProviderCallError(METHOD.path, { kind: 'cancelled' }));
      });
    });
  }

  /** Ends the stream; calls under way fail as if it broke. */
  close(): void {
    this.break({ by: 'closed', failure: { kind: 'cancelled' } });
    this.stream.cancel();
  }

  private answered(msg: PortStreamResponse | MalformedAnswer): void {
    if (msg instanceof MalformedAnswer) {
      // Its id is unreadable: no call can be told apart from the others.
      this.break({ by: 'malformed', failure: malformed(msg) });
      this.stream.cancel();
      return;
    }
    const waiting = this.calls.get(msg.id);
    // An answer to a call given up on, or to none.
    if (waiting === undefined) return;
    this.calls.delete(msg.id);
    waiting.stopListening?.();
    if (msg.result === undefined) waiting.reject(new ProviderCallError(METHOD.path, { kind: 'bad', message: `answered call ${msg.id} without a result` }));
    else waiting.resolve(msg.result);
  }

  private break(end: StreamEnd): void {
    if (this.brokenBy !== undefined) return;
    this.brokenBy = end;
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const waiting of calls) {
      waiting.stopListening?.();
      waiting.reject(new PortStreamBroken(end));
    }
    this.onBroken(end);
  }

  /** The next id no call under way has. */
  private newId(): number {
    let id;
    do {
      id = this.nextId;
      this.nextId = id === LAST_ID ? 1 : id + 1;
    } while (this.calls.has(id));
    return id;
  }
}
