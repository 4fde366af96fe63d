/**
 * One gRPC channel to one remote provider and its calls: the unary methods
 * of vifplug.provider.v1.Provider with a deadline and cancellation, the
 * provider service's Health/Check, and the Watch stream. Every failure comes
 * back as a ProviderCallError carrying a CallFailure (call-failure.ts).
 *
 * It keeps no session state and decides nothing: whether a failure marks the
 * provider down, or what the caller is told, is the session keeper's and
 * provider-errors.ts's. (The PortStream has its own file: port-stream.ts.)
 */
import { Client, Metadata, credentials as grpcCredentials, status as Code, type ChannelCredentials, type ClientReadableStream } from '@grpc/grpc-js';

import { HealthCheckResponse_ServingStatus, HealthService } from '../gen/grpc/health/v1/health';
import { ProviderService, type WatchResponse } from '../gen/vifplug/provider/v1/provider';
import type { CallBudget } from '../registry';
import { MalformedAnswer, ProviderCallError, failureOf, malformed, tolerant } from './call-failure';
import type { ProviderEndpoint } from '../api/endpoint';
import { PROVIDER_SERVICE } from '../api/wire';

type Service = typeof ProviderService;
/** The unary methods of vifplug.provider.v1.Provider, their requests and answers. */
export type Method = Exclude<keyof Service, 'watch' | 'portStream'>;
export type RequestOf<M extends Method> = Parameters<Service[M]['requestSerialize']>[0];
export type ResponseOf<M extends Method> = ReturnType<Service[M]['responseDeserialize']>;

/** One channel to one provider, with decoding that cannot throw (see tolerant). */
export class ProviderConnection {
  readonly grpc: Client;

  constructor(endpoint: ProviderEndpoint, tls: ChannelCredentials | undefined) {
    const target = endpoint.kind === 'unix' ? `unix://${endpoint.path}` : endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
    this.grpc = new Client(target, endpoint.kind === 'unix' ? grpcCredentials.createInsecure() : tls!, {
      // Sessions are tied to a connection (see session.ts): a channel
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
