import {
  Client,
  Metadata,
  credentials as grpcCredentials,
  status as Code,
  type ChannelCredentials,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';

import { Status } from '../gen/google/rpc/status';
import { ErrorInfo } from '../gen/google/rpc/error_details';
import { HealthCheckResponse_ServingStatus, HealthService } from '../gen/grpc/health/v1/health';
import { ProviderService, type WatchResponse } from '../gen/vifplug/provider/v1/provider';
import { STATUS_DETAILS_KEY, codeName } from '../api/status';
import type { CallBudget, StatusName } from '../registry';
import type { ProviderEndpoint } from '../api/endpoint';
import { clip, isReason, PROVIDER_SERVICE } from '../api/wire';

type Service = typeof ProviderService;
type Method = Exclude<keyof Service, 'watch' | 'portStream'>;
type RequestOf<M extends Method> = Parameters<Service[M]['requestSerialize']>[0];
type ResponseOf<M extends Method> = ReturnType<Service[M]['responseDeserialize']>;

/** The bytes of an answer were not the method's message. */
export class MalformedAnswer {
  constructor(readonly error: unknown) {}
}

/** How a call to a provider failed, before the remote class decides what it means. */
export type CallFailure =
  /** The provider answered a status with an ErrorInfo reason. */
  | { readonly kind: 'answered'; readonly code: number; readonly reason: string; readonly message: string; readonly metadata: ReadonlyMap<string, string> }
  /** The provider does not serve the method. */
  | { readonly kind: 'unimplemented'; readonly message: string }
  /** Nothing answered: the connection failed or dropped. */
  | { readonly kind: 'transport'; readonly message: string }
  | { readonly kind: 'deadline' }
  | { readonly kind: 'cancelled' }
  /** An answer that breaks the API: not the method's message, a status without a reason, a code providers may not use. */
  | { readonly kind: 'bad'; readonly message: string };

export class ProviderCallError extends Error {
  constructor(
    readonly method: string,
    readonly failure: CallFailure,
  ) {
    super(`${method}: ${failure.kind}`);
  }
}

/** Codes a provider may answer with, passed on to the controller as they are. */
const PASSED_ON: ReadonlyMap<number, StatusName> = new Map([
  [Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
  [Code.NOT_FOUND, 'NOT_FOUND'],
  [Code.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
  [Code.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
  [Code.UNAVAILABLE, 'UNAVAILABLE'],
  [Code.ABORTED, 'ABORTED'],
]);

export function passedOn(code: number): StatusName | undefined {
  return PASSED_ON.get(code);
}

/**
 * One channel to one provider, with decoding that cannot throw: an answer
 * that is not the method's message comes back as MalformedAnswer, so that
 * it is refused as a provider error rather than taken for grpc-js's own.
 */
export class ProviderConnection {
  readonly grpc: Client;

  constructor(endpoint: ProviderEndpoint, tls: ChannelCredentials | undefined) {
    const target = endpoint.kind === 'unix' ? `unix://${endpoint.path}` : endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
    this.grpc = new Client(target, endpoint.kind === 'unix' ? grpcCredentials.createInsecure() : tls!, {
      // Sessions are tied to a connection (see RemoteProvider): a channel
      // that reconnects by itself would hide a provider's restart.
      'grpc.initial_reconnect_backoff_ms': 100,
      // Per-call bookkeeping nobody reads on this channel.
      'grpc.enable_channelz': 0,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.enable_retries': 0,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
    });
  }

  /**
   * One unary call with `deadline`, cancelled when `budget` aborts; rejects
   * with ProviderCallError.
   */
  call<M extends Method>(method: M, request: RequestOf<M>, deadline: number, budget?: Pick<CallBudget, 'onAbort'>): Promise<ResponseOf<M>> {
    const def = DECODERS[method];
    return new Promise((resolve, reject) => {
      let stopListening: (() => void) | undefined;
      // grpc-js captures the caller's stack for every call (new Error()),
      // which costs more than the rest of our own work per call; the stack of
      // a provider call is the daemon's own and would say nothing.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      let call;
      try {
        call = this.grpc.makeUnaryRequest(def.path, def.requestSerialize as (value: RequestOf<M>) => Buffer, def.decode, request, new Metadata(), { deadline }, (err, response) => {
          stopListening?.();
          if (err) reject(new ProviderCallError(def.path, failureOf(err)));
          else if (response instanceof MalformedAnswer) reject(new ProviderCallError(def.path, malformed(response)));
          else resolve(response as ResponseOf<M>);
        });
      } finally {
        Error.stackTraceLimit = limit;
      }
      if (budget !== undefined) stopListening = budget.onAbort(() => call.cancel());
    });
  }

  /**
   * grpc.health.v1.Health/Check of the provider service; undefined when the
   * server serves no Health, or has no status for the provider service (it
   * then has to prove itself with GetInfo).
   */
  async health(deadline: number): Promise<HealthCheckResponse_ServingStatus | undefined> {
    const def = HealthService.check;
    return new Promise((resolve, reject) => {
      this.grpc.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        tolerant(def.responseDeserialize),
        { service: PROVIDER_SERVICE },
        new Metadata(),
        { deadline },
        (err, response) => {
          if (err) {
            const failure = failureOf(err);
            // Health/Check answers NOT_FOUND for a service it does not know.
            if (failure.kind === 'unimplemented' || err.code === Code.NOT_FOUND) resolve(undefined);
            else reject(new ProviderCallError(def.path, failure));
          } else if (response instanceof MalformedAnswer) reject(new ProviderCallError(def.path, malformed(response)));
          else resolve(response!.status);
        },
      );
    });
  }

  /** Opens the Watch stream. */
  watch(): ClientReadableStream<WatchResponse | MalformedAnswer> {
    const def = ProviderService.watch;
    return this.grpc.makeServerStreamRequest(def.path, def.requestSerialize, tolerant(def.responseDeserialize), {}, new Metadata(), {});
  }

  close(): void {
    this.grpc.close();
  }
}

/** Each method's path, encoder and tolerant decoder, made once. */
const DECODERS = Object.fromEntries(
  Object.entries(ProviderService)
    .filter(([, def]) => !def.requestStream && !def.responseStream)
    .map(([name, def]) => [name, { path: def.path, requestSerialize: def.requestSerialize, decode: tolerant(def.responseDeserialize as (bytes: Buffer) => unknown) }]),
) as unknown as { [M in Method]: { path: string; requestSerialize: Service[M]['requestSerialize']; decode: (bytes: Buffer) => ResponseOf<M> | MalformedAnswer } };

export function tolerant<T>(decode: (bytes: Buffer) => T): (bytes: Buffer) => T | MalformedAnswer {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      return new MalformedAnswer(err);
    }
  };
}

export function malformed(answer: MalformedAnswer): CallFailure {
  return { kind: 'bad', message: `answered bytes that are not a valid message of the method (${answer.error instanceof Error ? answer.error.message : String(answer.error)})` };
}

/** What a failed call means, from its status and trailers. */
export function failureOf(err: ServiceError): CallFailure {
  const details = statusDetails(err.metadata);
  switch (err.code) {
    case Code.CANCELLED:
      return { kind: 'cancelled' };
    case Code.DEADLINE_EXCEEDED:
      return { kind: 'deadline' };
    case Code.UNIMPLEMENTED:
      return { kind: 'unimplemented', message: err.details };
  }
  if (details === undefined || !isReason(details.reason)) {
    // grpc-js reports a connection that failed or dropped as UNAVAILABLE
    // with no details; a provider's own UNAVAILABLE carries a reason.
    if (err.code === Code.UNAVAILABLE) return { kind: 'transport', message: transportProblem(err.details) };
    return { kind: 'bad', message: `answered ${codeName(err.code)} without an ErrorInfo reason: ${clip(err.details, 512)}` };
  }
  if (!PASSED_ON.has(err.code)) {
    return { kind: 'bad', message: `answered ${codeName(err.code)} (${details.reason}): ${clip(details.message || err.details, 512)}` };
  }
  return { kind: 'answered', code: err.code, reason: details.reason, message: details.message || err.details, metadata: details.metadata };
}

/** grpc-js's words for a failed connection, in a few of ours. */
function transportProblem(details: string): string {
  if (/ECONNREFUSED/.test(details)) return 'nothing listens on it (connection refused)';
  if (/ENOENT/.test(details)) return 'it does not exist';
  if (/EACCES|EPERM/.test(details)) return 'permission denied';
  const cleaned = details.replace(/^No connection established\. Last error: (Error: )?/, '').replace(/\. Resolution note: ?$/, '');
  return clip(cleaned || 'the connection failed', 200);
}

interface Details {
  readonly reason: string;
  readonly message: string;
  readonly metadata: ReadonlyMap<string, string>;
}

/** The trailer that carries a reason for runtimes without the google.rpc protos. */
export const REASON_TRAILER = 'vifplug-reason';

/** The ErrorInfo of a provider's status if it sent a readable one, else the reason of its vifplug-reason trailer. */
function statusDetails(metadata: Metadata | undefined): Details | undefined {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!Buffer.isBuffer(raw)) {
    const reason = metadata?.get(REASON_TRAILER)[0];
    return typeof reason === 'string' ? { reason, message: '', metadata: new Map() } : undefined;
  }
  try {
    const status = Status.decode(raw);
    const info = status.details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo');
    if (info === undefined) return undefined;
    const decoded = ErrorInfo.decode(info.value);
    return { reason: decoded.reason, message: status.message, metadata: decoded.metadata };
  } catch {
    return undefined;
  }
}

