/**
 * The typed promise-based client of vifplug.v1.VifPlug, for controllers
 * written in TypeScript (vifplug-ovn and vifplugctl use it too): one method
 * per RPC, a deadline on every call, retries of the safe methods while the
 * daemon (re)starts, the Watch stream, and failures as VifplugError with the
 * daemon's ErrorInfo decoded (api/status.ts).
 */

import {
  Client,
  Metadata,
  credentials as grpcCredentials,
  status as Code,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';

import { HealthCheckResponse_ServingStatus, HealthService } from '../gen/grpc/health/v1/health';
import * as api from '../gen/vifplug/v1/vifplug';
import { codeName, decodeStatusDetails, type DecodedStatus } from '../api/status';

type Service = typeof api.VifPlugService;
/** The unary methods; Watch is a stream (VifplugClient.watch). */
export type VifPlugMethod = Exclude<keyof Service, 'watch'>;
type RequestOf<M extends VifPlugMethod> = Parameters<Service[M]['requestSerialize']>[0];
type ResponseOf<M extends VifPlugMethod> = ReturnType<Service[M]['responseDeserialize']>;

interface UnaryDef<Req, Res> {
  readonly path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

/** Request codecs by method, to fill defaults into partial requests. */
const REQUESTS: { [M in VifPlugMethod]: { fromPartial(object: object): RequestOf<M> } } = {
  register: api.RegisterRequest,
  unregister: api.UnregisterRequest,
  listProviders: api.ListProvidersRequest,
  open: api.OpenRequest,
  close: api.CloseRequest,
  run: api.RunRequest,
  preparePort: api.PreparePortRequest,
  finishPort: api.FinishPortRequest,
  destroyCtx: api.DestroyCtxRequest,
  listRepresentors: api.ListRepresentorsRequest,
  preparePorts: api.PreparePortsRequest,
  finishPorts: api.FinishPortsRequest,
  destroyCtxs: api.DestroyCtxsRequest,
  identify: api.IdentifyRequest,
  listCards: api.ListCardsRequest,
};

/**
 * A failed call, in the parts a person or a script reads: which method, the
 * status code, the daemon's ErrorInfo reason and metadata, and its message.
 * `message` joins them ("FinishPort: NOT_FOUND: no live ctx ...").
 */
export class VifplugError extends Error {
  override readonly name = 'VifplugError';
  /** The method called, e.g. "FinishPort". */
  readonly method: string;
  /** The gRPC status code. */
  readonly code: number;
  /** Its canonical name, e.g. "NOT_FOUND". */
  readonly codeName: string;
  /** ErrorInfo.reason, e.g. "CTX_NOT_FOUND"; '' when the failure came from the transport. */
  readonly reason: string;
  /** The daemon's message (or the transport's), without method and code. */
  readonly detail: string;
  /** ErrorInfo.metadata. */
  readonly metadata: ReadonlyMap<string, string>;
  readonly status: DecodedStatus | undefined;

  constructor(err: ServiceError, method: string) {
    const status = decodeStatusDetails(err.metadata);
    const detail = status?.message ?? err.details;
    super(`${method}: ${codeName(err.code)}: ${detail}`);
    this.method = method;
    this.code = err.code;
    this.codeName = codeName(err.code);
    this.reason = status?.errorInfo?.reason ?? '';
    this.detail = detail;
    this.metadata = status?.errorInfo?.metadata ?? new Map();
    this.status = status;
  }
}

export interface ClientOptions {
  /** Channel credentials; insecure by default (unix sockets, loopback). */
  readonly credentials?: ChannelCredentials;
  /** Deadline of every call unless the call gives its own (default 5 s). */
  readonly deadlineMs?: number;
  /**
   * Attempts per call when the daemon is UNAVAILABLE (restarting, draining),
   * within the call's deadline; 1 disables retries. Default 5.
   */
  readonly maxAttempts?: number;
  readonly channelOptions?: ChannelOptions;
}

/**
 * Methods that are safe to send again after UNAVAILABLE: read-only or
 * idempotent ones. Register, Unregister and Close are not: had the first
 * attempt reached the daemon, a retry would answer ALREADY_EXISTS / NOT_FOUND
 * for a call that succeeded.
 */
export const RETRYABLE_METHODS = [
  'ListProviders',
  'Open',
  'Run',
  'PreparePort',
  'FinishPort',
  'DestroyCtx',
  'ListRepresentors',
  'PreparePorts',
  'FinishPorts',
  'DestroyCtxs',
  'Identify',
  'ListCards',
] as const;

/** gRPC service config: retries on UNAVAILABLE with exponential backoff, done by grpc-js itself. */
function serviceConfig(maxAttempts: number): string {
  const retryPolicy = {
    maxAttempts,
    initialBackoff: '0.05s',
    maxBackoff: '1s',
    backoffMultiplier: 2,
    retryableStatusCodes: ['UNAVAILABLE'],
  };
  const name = [
    ...RETRYABLE_METHODS.map((method) => ({ service: 'vifplug.v1.VifPlug', method })),
    { service: 'grpc.health.v1.Health', method: 'Check' },
  ];
  return JSON.stringify({ methodConfig: maxAttempts > 1 ? [{ name, retryPolicy }] : [] });
}

export interface CallOptions {
  readonly deadlineMs?: number;
  readonly metadata?: Metadata;
}

/**
 * A typed, promise-based client of vifplug.v1.VifPlug and of the daemon's
 * health. Every call has a deadline. `target` is a gRPC target such as
 * `unix:///run/vifplug/vifplug.sock` or `127.0.0.1:50051`.
 */
export class VifplugClient {
  readonly grpc: Client;
  private readonly deadlineMs: number;

  /** `target`: the gRPC target dialled, kept to explain a failure to reach it (unreachable.ts). */
  constructor(
    readonly target: string,
    options: ClientOptions = {},
  ) {
    const maxAttempts = Math.min(Math.max(options.maxAttempts ?? 5, 1), 5);
    this.grpc = new Client(target, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.service_config': serviceConfig(maxAttempts),
      // A sidecar restarts in well under a second; reconnect at that pace
      // rather than grpc's 1 s to 120 s backoff meant for remote servers.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
      ...options.channelOptions,
    });
    this.deadlineMs = options.deadlineMs ?? 5000;
  }

  /** Calls any VifPlug method; the request may omit fields (proto defaults). */
  call<M extends VifPlugMethod>(method: M, request: Partial<RequestOf<M>> = {}, options: CallOptions = {}): Promise<ResponseOf<M>> {
    const def = api.VifPlugService[method] as unknown as UnaryDef<RequestOf<M>, ResponseOf<M>>;
    return this.unary(def, REQUESTS[method].fromPartial(request), options);
  }

  register(type: string, options?: CallOptions): Promise<api.RegisterResponse> {
    return this.call('register', { type }, options);
  }

  unregister(type: string, options?: CallOptions): Promise<api.UnregisterResponse> {
    return this.call('unregister', { type }, options);
  }

  listProviders(options?: CallOptions): Promise<api.ListProvidersResponse> {
    return this.call('listProviders', {}, options);
  }

  open(type: string, options?: CallOptions): Promise<api.OpenResponse> {
    return this.call('open', { type }, options);
  }

  /** The Close RPC (named so as not to clash with closing the channel). */
  closeInstance(instanceId: string, options?: CallOptions): Promise<api.CloseResponse> {
    return this.call('close', { instanceId }, options);
  }

  run(instanceId = '', options?: CallOptions): Promise<api.RunResponse> {
    return this.call('run', { instanceId }, options);
  }

  preparePort(request: Partial<api.PreparePortRequest>, options?: CallOptions): Promise<api.PreparePortResponse> {
    return this.call('preparePort', request, options);
  }

  finishPort(ctxId: string, options?: CallOptions): Promise<api.FinishPortResponse> {
    return this.call('finishPort', { ctxId }, options);
  }

  destroyCtx(ctxId: string, options?: CallOptions): Promise<api.DestroyCtxResponse> {
    return this.call('destroyCtx', { ctxId }, options);
  }

  listRepresentors(type = '', options?: CallOptions): Promise<api.ListRepresentorsResponse> {
    return this.call('listRepresentors', { type }, options);
  }

  /** What a CMS needs to know of one of the host's VFs (PF MAC, VF number, card serial, the lport options). */
  identify(vfPciAddress: string, type = '', options?: CallOptions): Promise<api.IdentifyResponse> {
    return this.call('identify', { vfPciAddress, type }, options);
  }

  /** The host's cards and the serial that identifies the chassis. */
  listCards(type = '', options?: CallOptions): Promise<api.ListCardsResponse> {
    return this.call('listCards', { type }, options);
  }

  /** PreparePort for many ports of one instance: one result (prepared or error) per port, in order. */
  preparePorts(instanceId: string, ports: Partial<api.PortRequest>[], options?: CallOptions): Promise<api.PreparePortsResponse> {
    return this.call('preparePorts', { instanceId, ports: ports.map((p) => api.PortRequest.fromPartial(p)) }, options);
  }

  /** FinishPort for many ctxs, releasing each one that finished when `destroy` is set. */
  finishPorts(ctxIds: string[], destroy = false, options?: CallOptions): Promise<api.FinishPortsResponse> {
    return this.call('finishPorts', { ctxIds, destroy }, options);
  }

  destroyCtxs(ctxIds: string[], options?: CallOptions): Promise<api.DestroyCtxsResponse> {
    return this.call('destroyCtxs', { ctxIds }, options);
  }

  /**
   * Watch: the daemon's changes as they happen, first a RESYNC. The stream
   * has no deadline and no end of its own; iterate it, and cancel() it to
   * stop. It ends with a VifplugError when the daemon goes away (reconnect
   * with backoff and reconcile everything on the new stream's RESYNC).
   */
  watch(types: readonly string[] = [], options: Pick<CallOptions, 'metadata'> = {}): WatchStream {
    const def = api.VifPlugService.watch;
    return new WatchStream(
      this.grpc.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, api.WatchRequest.fromPartial({ types: [...types] }), options.metadata ?? new Metadata()),
    );
  }

  /** grpc.health.v1.Health/Check of `service` ("" = the whole daemon). */
  async health(service = '', options: CallOptions = {}): Promise<HealthCheckResponse_ServingStatus> {
    return (await this.unary(HealthService.check, { service }, options)).status;
  }

  /** One unary call with the client's deadline; failures become VifplugError. */
  private unary<Req, Res>(def: UnaryDef<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.grpc.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        options.metadata ?? new Metadata(),
        { deadline: Date.now() + (options.deadlineMs ?? this.deadlineMs) },
        (err, response) => {
          if (err) reject(new VifplugError(err, def.path.slice(def.path.lastIndexOf('/') + 1)));
          else resolve(response!);
        },
      );
    });
  }

  /** Closes the channel. */
  close(): void {
    this.grpc.close();
  }
}

/** A Watch stream: async-iterable events; ends quietly after cancel(), with a VifplugError otherwise. */
export class WatchStream implements AsyncIterable<api.WatchResponse> {
  private cancelled = false;

  constructor(private readonly call: ClientReadableStream<api.WatchResponse>) {}

  cancel(): void {
    this.cancelled = true;
    this.call.cancel();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<api.WatchResponse> {
    try {
      for await (const event of this.call) yield event as api.WatchResponse;
    } catch (err) {
      if (this.cancelled) return;
      throw new VifplugError(err as ServiceError, 'Watch');
    }
  }
}

export { Code, HealthCheckResponse_ServingStatus as ServingStatus };
