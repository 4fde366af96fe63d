/**
 * The provider provider-check drives, dialled on its endpoint as vifplugd
 * dials it (the same connection, PortStream and failure reading as
 * src/remote/), with every call bounded: each unary call has a deadline,
 * each stream a timer, so that a provider that hangs costs the check a
 * timeout, never the check itself. It also keeps what the provider holds
 * for the check (the positive CREATE answers), to release it as vifplugd
 * would, whatever the rules found.
 *
 * It calls and reports; it judges nothing (checks.ts does).
 */
import { Metadata, connectivityState, status as Code, type ChannelCredentials, type ClientReadableStream } from '@grpc/grpc-js';

import { HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health';
import { ProviderService, type PortCtxIn, type PortCtxOut, type PreparePortResponse, type WatchResponse } from '../gen/vifplug/provider/v1/provider';
import { parseEndpoint, type ProviderEndpoint } from '../api/endpoint';
import { codeName } from '../api/status';
import { MalformedAnswer, ProviderCallError, failureOf, failureOfThrown, malformed, tolerant, type CallFailure } from '../remote/call-failure';
import { ProviderConnection, type Method, type RequestOf, type ResponseOf } from '../remote/connection';
import { PortStream, type StreamEnd } from '../remote/port-stream';
import { CallAbort } from '../registry/call-abort';

/** What provider-check is told: where the provider is, what it should be, and the ports to ask about. */
export interface CheckSettings {
  /** As Register takes it: unix:///abs/path.sock, or HOST:PORT (with `tls`). */
  readonly endpoint: string;
  /** The type the provider should serve. */
  readonly type: string;
  /** Lport options of a CREATE the provider plugs. */
  readonly plugOptions: ReadonlyMap<string, string>;
  /** Lport options of a CREATE the provider declines (default: none at all). */
  readonly declineOptions: ReadonlyMap<string, string>;
  /** The lport name the ports are asked about under (suffixed where several are asked at once). */
  readonly lportName: string;
  /** PortCtxIn.use_dpdk of every port. */
  readonly useDpdk: boolean;
  /** Deadline of each call, and how long a stream's message is waited for. */
  readonly timeoutMs: number;
  /** Credentials for a TCP endpoint. */
  readonly tls?: ChannelCredentials;
}

/** A call's answer, or how it failed. */
export type Reply<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: CallFailure };

/**
 * A cancellation the check controls: `abort()` now, or by itself after
 * `afterMs` (then `timedOut`). Given to a unary call it cancels the call;
 * to a PortStream call it sends `cancel` with the call's id.
 */
export class Cancel extends CallAbort {
  private readonly timer: NodeJS.Timeout | undefined;
  /** It fired because `afterMs` ran out, not because the check cancelled. */
  timedOut = false;

  constructor(readonly afterMs?: number) {
    super();
    if (afterMs !== undefined) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.abort();
      }, afterMs);
    }
  }

  override abort(): void {
    this.settle();
    super.abort();
  }

  /** The call ended: its timer no longer matters. */
  settle(): void {
    clearTimeout(this.timer);
  }
}

/** A positive CREATE answer, with the ctx_in it answered: what DestroyPortCtx releases. */
export interface Held {
  readonly ctxIn: PortCtxIn;
  readonly answer: PreparePortResponse;
}

/** The Watch stream, followed for the whole check. */
export class WatchFollower {
  readonly messages: WatchResponse[] = [];
  /** Why it ended, if it did. */
  ended: string | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(readonly stream: ClientReadableStream<WatchResponse | MalformedAnswer>) {
    stream.on('data', (msg: WatchResponse | MalformedAnswer) => {
      if (msg instanceof MalformedAnswer) this.end(malformed(msg));
      else this.messages.push(msg);
      this.wake();
    });
    stream.on('error', (err: Parameters<typeof failureOf>[0]) => this.end(failureOf(err)));
    stream.on('end', () => this.end(undefined));
  }

  /** Resolves once there is a first message or the stream ended, or after `ms`. */
  first(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.messages.length === 0 && this.ended === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve();
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  private end(failure: CallFailure | undefined): void {
    if (this.ended !== undefined) return;
    this.ended = failure === undefined ? 'it ended (status OK)' : describeFailure(failure);
    if (failure?.kind === 'unimplemented') this.ended = 'it answers UNIMPLEMENTED';
    this.wake();
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

export class ProviderUnderCheck {
  readonly address: ProviderEndpoint;
  private readonly conn: ProviderConnection;
  private readonly held = new Set<Held>();
  private stream: PortStream | undefined;
  /** How the last PortStream ended, if it did. */
  streamEnd: StreamEnd | undefined;
  private readonly follows: WatchFollower[] = [];

  /** Throws for an endpoint Register would refuse as malformed, and for TCP without `tls`: nothing is dialled then. */
  constructor(readonly settings: CheckSettings) {
    this.address = parseEndpoint(settings.endpoint);
    if (this.address.kind === 'tcp' && settings.tls === undefined) throw new Error(`${settings.endpoint} is TCP: provider-check reaches it, as vifplugd does, only over TLS (settings.tls)`);
    this.conn = new ProviderConnection(this.address, settings.tls);
  }

  get timeoutMs(): number {
    return this.settings.timeoutMs;
  }

  /** One unary call, with the timeout as its deadline (or `deadlineMs`), cancelled by `cancel`. */
  async call<M extends Method>(method: M, request: RequestOf<M>, options: { deadlineMs?: number; cancel?: Cancel } = {}): Promise<Reply<ResponseOf<M>>> {
    try {
      const value = await this.conn.call(method, request, Date.now() + (options.deadlineMs ?? this.timeoutMs), options.cancel);
      return { ok: true, value };
    } catch (err) {
      return { ok: false, failure: this.told(failureOfThrown(err)) };
    }
  }

  /**
   * A bare UNAVAILABLE on a connection that still stands is the provider's
   * own "not now", not a lost connection: read as vifplugd reads it
   * (ProviderErrors.answeredUnavailable), an UNAVAILABLE PROVIDER_UNAVAILABLE
   * with cause UNAVAILABLE_WITHOUT_REASON, which the contract allows.
   */
  private told(failure: CallFailure): CallFailure {
    if (failure.kind !== 'unavailable' || this.conn.grpc.getChannel().getConnectivityState(false) !== connectivityState.READY) return failure;
    return {
      kind: 'answered',
      code: Code.UNAVAILABLE,
      reason: 'PROVIDER_UNAVAILABLE',
      message: failure.message,
      metadata: new Map([['cause', 'UNAVAILABLE_WITHOUT_REASON']]),
      domain: '',
      retryAfterMs: failure.retryAfterMs,
    };
  }

  /** PreparePort sent as `bytes` as they are: a request no encoder would make. */
  raw(bytes: Buffer): Promise<Reply<PreparePortResponse>> {
    const def = ProviderService.preparePort;
    return new Promise((resolve) => {
      this.conn.grpc.makeUnaryRequest(
        def.path,
        (b: Buffer) => b,
        tolerant(def.responseDeserialize),
        bytes,
        new Metadata(),
        { deadline: Date.now() + this.timeoutMs },
        (err, response) => {
          if (err) resolve({ ok: false, failure: failureOf(err) });
          else if (response instanceof MalformedAnswer) resolve({ ok: false, failure: malformed(response) });
          else resolve({ ok: true, value: response! });
        },
      );
    });
  }

  /** Health/Check of the provider service; undefined when the provider serves no Health for it. */
  async health(): Promise<Reply<HealthCheckResponse_ServingStatus | undefined>> {
    try {
      return { ok: true, value: await this.conn.health(Date.now() + this.timeoutMs) };
    } catch (err) {
      return { ok: false, failure: err instanceof ProviderCallError ? err.failure : failureOfThrown(err) };
    }
  }

  /** Opens a Watch stream, followed until close(). */
  watch(): WatchFollower {
    const follower = new WatchFollower(this.conn.watch());
    this.follows.push(follower);
    return follower;
  }

  /** The check's PortStream, opened on first use (and anew if it broke). */
  portStream(): PortStream {
    if (this.stream?.open === true) return this.stream;
    this.streamEnd = undefined;
    const stream: PortStream = new PortStream(this.conn.grpc, (end) => {
      if (this.stream === stream) this.streamEnd = end;
    });
    this.stream = stream;
    return stream;
  }

  /** Keeps a positive CREATE answer until it is released. */
  hold(ctxIn: PortCtxIn, answer: PreparePortResponse): Held {
    const held = { ctxIn, answer };
    this.held.add(held);
    return held;
  }

  /** DestroyPortCtx of a held answer; it is not held any more once the provider accepted it. */
  async release(instanceId: string, held: Held): Promise<Reply<unknown>> {
    const reply = await this.call('destroyPortCtx', destroyRequest(instanceId, held.ctxIn, held.answer.ctxOut, held.answer.handle));
    if (reply.ok || reply.failure.kind === 'unimplemented') this.held.delete(held);
    return reply;
  }

  /** Releases whatever is still held, as vifplugd releases the ctxs of an instance before it closes it. */
  async releaseAll(instanceId: string): Promise<void> {
    await Promise.all([...this.held].map((held) => this.release(instanceId, held)));
  }

  close(): void {
    for (const follower of this.follows) follower.stream.cancel();
    this.stream?.close();
    this.conn.close();
  }
}

function destroyRequest(instanceId: string, ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined, handle: Buffer): RequestOf<'destroyPortCtx'> {
  return { instanceId, ctxIn, ctxOut, handle };
}

/** What a failed call looked like, in a few words. */
export function describeFailure(failure: CallFailure, timeoutMs?: number): string {
  switch (failure.kind) {
    case 'answered':
      return `${codeName(failure.code)} (${printable(failure.reason, 64)}): ${printable(failure.message, 200)}`;
    case 'unimplemented':
      return 'UNIMPLEMENTED';
    case 'unavailable':
      // grpc-js's words for a connection that failed, or a provider's own bare UNAVAILABLE: see call().
      return `no answer: ${printable(failure.message, 200)}`;
    case 'deadline':
      return timeoutMs === undefined ? 'no answer by its deadline (DEADLINE_EXCEEDED)' : `no answer within ${seconds(timeoutMs)} (DEADLINE_EXCEEDED)`;
    case 'cancelled':
      return 'CANCELLED';
    case 'bad':
      return printable(failure.message, 300);
  }
}

/** Text a provider sent, on one line and bounded: control characters escaped, long text clipped. */
export function printable(text: string, max: number): string {
  const clipped = text.length <= max ? text : `${text.slice(0, max - 3)}...`;
  return JSON.stringify(clipped).slice(1, -1).replace(/\\"/g, '"');
}

export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Whether the provider says SERVING. */
export function isServing(status: HealthCheckResponse_ServingStatus): boolean {
  return status === HealthCheckResponse_ServingStatus.SERVING;
}
