/**
 * serveProvider: a provider in another process, written as plain callbacks
 * (ProviderDefinition), served as vifplug.provider.v1.Provider with health on
 * the kit's server (grpc/server.ts), and optionally kept registered with
 * vifplugd. It sees nothing of the daemon: the API's facts (api/), the kit
 * (grpc/) and the contract (registry/) are all it needs.
 */

import { status as Code, type ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import pino, { type Logger } from 'pino';

import * as wire from '../gen/vifplug/provider/v1/provider';
import { PlugError, type CallBudget, type PortCtxIn, type PortCtxOut, type Representor } from '../registry';
import { isThenable } from '../registry/instance-gate';
import { CancelListeners } from '../grpc/cancelled';
import { asPlugError } from '../grpc/service-error';
import { GrpcServer } from '../grpc/server';
import { adaptUnary, type EdgeContext, type MalformedRequest, type UnaryHandler } from '../grpc/unary';
import { parseListen } from '../api/endpoint';
import { MAX_BATCH } from '../api/limits';
import { API_VERSIONS, PROVIDER_SERVICE, fromWireCtxIn, fromWireCtxOut, toWireCtxOut, toWireRepresentor } from '../api/wire';
import { PORT_STREAM_METHOD, servePortStream } from './port-stream';
import { Registration, type RegistrationOptions } from './registration';

/** A PreparePort answer: the contract's, plus an optional handle given back in finish and destroy. */
export type ProviderAnswer =
  | { readonly plug: true; readonly out?: PortCtxOut; readonly handle?: Uint8Array }
  | { readonly plug: false; readonly reason: string; readonly message: string };

/** The budget of a finish or destroy call, with the handle PreparePort answered. */
export interface PortCall extends CallBudget {
  /** Empty when PreparePort answered none, or the ctx is from an earlier session. */
  readonly handle: Buffer;
}

/**
 * A provider as plain callbacks: the provider contract of
 * src/registry/provider.ts, flattened (an out-of-process provider has one
 * instance at a time). Only `type` and `preparePort` are required. A
 * callback throws a PlugError to answer with its status and reason; anything
 * else it throws answers INTERNAL. See proto/vifplug/provider/v1 for when
 * vifplugd calls each one.
 */
export interface ProviderDefinition {
  readonly type: string;
  readonly maintainedIfaceOptions?: readonly string[];
  /** The provider's own version, for people. */
  readonly version?: string;
  /** A new session: forget every instance and ctx of an earlier one. */
  init?(): void | Promise<void>;
  destroy?(): void | Promise<void>;
  open?(instanceId: string): void | Promise<void>;
  close?(instanceId: string): void | Promise<void>;
  run?(call: CallBudget): boolean | Promise<boolean>;
  preparePort(ctxIn: PortCtxIn, call: CallBudget): ProviderAnswer | Promise<ProviderAnswer>;
  finishPort?(ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined, call: PortCall): void | Promise<void>;
  destroyPortCtx?(ctxIn: PortCtxIn, ctxOut: PortCtxOut, call: PortCall): void | Promise<void>;
  listRepresentors?(): readonly Representor[] | Promise<readonly Representor[]>;
}

export interface ServeOptions {
  /** Absolute path of the unix socket to serve on; a stale socket there is replaced, a live one refused. */
  readonly socket?: string;
  /** Or a TCP address ("HOST:PORT", port 0 picks one) with TLS credentials: vifplugd dials TCP providers only over TLS. */
  readonly tcp?: { readonly address: string; readonly credentials: ServerCredentials };
  /** Permission bits of the socket (default 0660: vifplugd runs as root or in the socket's group). */
  readonly socketMode?: number;
  /** Register with vifplugd, and again whenever it restarts (kubelet's device plugin model). */
  readonly register?: RegistrationOptions;
  /** Where failures the provider cannot answer go (default: nowhere). */
  readonly logger?: Logger;
}

/** A provider being served. */
export interface ServedProvider {
  /** What to give Register: unix:///path.sock, or HOST:PORT. */
  readonly endpoint: string;
  /** Tells vifplugd (through Watch) that what the provider can plug changed. */
  changed(): void;
  /** Resolves once registered with vifplugd (never, without `register`). */
  registered(): Promise<void>;
  /** Stops registering, serving and removes the socket. */
  close(): Promise<void>;
}

/**
 * Serves a provider on a unix socket: vifplug.provider.v1.Provider over the
 * callbacks, and grpc.health.v1.Health. With `register`, also registers it
 * with vifplugd once it serves.
 */
export async function serveProvider(definition: ProviderDefinition, options: ServeOptions): Promise<ServedProvider> {
  const { socket, tcp } = options;
  if ((socket === undefined) === (tcp === undefined)) throw new Error('serveProvider: give either socket or tcp');
  if (socket !== undefined && !socket.startsWith('/')) throw new Error(`serveProvider: socket "${socket}" must be an absolute path`);
  const maxBackoffMs = options.register?.maxBackoffMs;
  if (maxBackoffMs !== undefined && !(maxBackoffMs >= 0)) throw new Error(`serveProvider: register.maxBackoffMs must be 0 or more milliseconds, not ${maxBackoffMs}`);
  const logger = options.logger ?? pino({ level: 'silent' });
  const server = new GrpcServer({
    listen: [parseListen(socket !== undefined ? `unix://${socket}` : tcp!.address)],
    logger,
    socketMode: options.socketMode,
    ...(tcp === undefined ? {} : { tls: { credentials: () => tcp.credentials } }),
    healthServices: [PROVIDER_SERVICE],
  });
  const watch = new WatchStreams();
  server.addService({ ...wire.ProviderService, portStream: PORT_STREAM_METHOD }, providerImplementation(definition, server.edge, watch));
  server.onShutdown(() => watch.endAll());
  await server.start();
  const endpoint = server.endpoints[0]!.target;
  const registration = options.register === undefined ? undefined : new Registration(definition.type, endpoint, options.register, logger);
  registration?.start();

  let closing: Promise<void> | undefined;
  return {
    endpoint,
    changed: () => watch.bump(),
    registered: () => registration?.registered() ?? new Promise(() => undefined),
    close: () =>
      (closing ??= (async () => {
        registration?.stop();
        await server.shutdown();
      })()),
  };
}

/** The open Watch streams and the generation they report. */
class WatchStreams {
  private generation = 1;
  private readonly streams = new Set<ServerWritableStream<wire.WatchRequest, wire.WatchResponse>>();

  add(call: ServerWritableStream<wire.WatchRequest, wire.WatchResponse>): void {
    this.streams.add(call);
    call.write({ generation: this.generation });
    const forget = () => this.streams.delete(call);
    call.on('cancelled', forget);
    call.on('error', forget);
    call.on('finish', forget);
  }

  bump(): void {
    this.generation++;
    for (const call of this.streams) call.write({ generation: this.generation });
  }

  endAll(): void {
    for (const call of this.streams) call.end();
    this.streams.clear();
  }
}

/** The budget of a call, from its gRPC deadline and cancellation; the signal is made on first use. */
class Budget implements PortCall {
  private controller: AbortController | undefined;
  private cancels: CancelListeners | undefined;

  constructor(
    private readonly call: ServerUnaryCall<unknown, unknown>,
    readonly handle: Buffer = NO_HANDLE,
  ) {}

  get deadline(): number {
    const deadline = this.call.getDeadline();
    return deadline instanceof Date ? deadline.getTime() : deadline;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      this.onAbort(() => controller.abort());
    }
    return this.controller.signal;
  }

  onAbort(listener: () => void): () => void {
    this.cancels ??= new CancelListeners(this.call);
    return this.cancels.add(listener);
  }
}

function badRequest(what: string): PlugError {
  return new PlugError('INVALID_ARGUMENT', 'MALFORMED_REQUEST', `the request breaks the provider API: ${what}`);
}

function ctxInOf(req: { ctxIn?: wire.PortCtxIn }): PortCtxIn {
  const ctxIn = fromWireCtxIn(req.ctxIn);
  if (ctxIn === undefined) throw badRequest('ctx_in is missing or has no op_type');
  return ctxIn;
}

function providerImplementation(def: ProviderDefinition, edge: EdgeContext, watch: WatchStreams) {
  const unary = <Req, Res>(method: { path: string }, handler: UnaryHandler<Req, Res>) => adaptUnary(method.path, handler, edge);
  const s = wire.ProviderService;
  const unimplemented = (name: string) => new PlugError('UNIMPLEMENTED', 'NOT_IMPLEMENTED', `this provider does not implement ${name}`);
  return {
    getInfo: unary(s.getInfo, async (): Promise<wire.GetInfoResponse> => ({
      type: def.type,
      apiVersions: [...API_VERSIONS],
      maintainedIfaceOptions: [...(def.maintainedIfaceOptions ?? [])],
      capabilities: { listRepresentors: def.listRepresentors !== undefined, watch: true, preparePorts: true, portStream: true },
      providerVersion: def.version ?? '',
    })),
    init: unary(s.init, async () => {
      await def.init?.();
      return {};
    }),
    destroy: unary(s.destroy, async () => {
      await def.destroy?.();
      return {};
    }),
    open: unary(s.open, async (req: wire.OpenRequest) => {
      await def.open?.(req.instanceId);
      return {};
    }),
    close: unary(s.close, async (req: wire.CloseRequest) => {
      await def.close?.(req.instanceId);
      return {};
    }),
    run: unary(s.run, async (_req: wire.RunRequest, call) => ({ changed: (await def.run?.(new Budget(call))) === true })),
    preparePort: unary(s.preparePort, async (req: wire.PreparePortRequest, call) => wireAnswer(await def.preparePort(ctxInOf(req), new Budget(call)))),
    preparePorts: unary(s.preparePorts, async (req: wire.PreparePortsRequest, call): Promise<wire.PreparePortsResponse> => {
      if (req.ports.length > MAX_BATCH) throw badRequest(`${req.ports.length} ports; at most ${MAX_BATCH}`);
      const budget = new Budget(call);
      return { results: await Promise.all(req.ports.map((port) => portResult(def, port, budget))) };
    }),
    portStream: (call: ServerDuplexStream<wire.PortStreamRequest | MalformedRequest, Buffer>) =>
      servePortStream(call, (port, budget) => portResult(def, port, budget)),
    finishPort: unary(s.finishPort, async (req: wire.FinishPortRequest, call) => {
      await def.finishPort?.(ctxInOf(req), fromWireCtxOut(req.ctxOut), new Budget(call, req.handle));
      return {};
    }),
    destroyPortCtx: unary(s.destroyPortCtx, async (req: wire.DestroyPortCtxRequest, call) => {
      const ctxOut = fromWireCtxOut(req.ctxOut);
      if (ctxOut === undefined) throw badRequest('ctx_out is missing');
      await def.destroyPortCtx?.(ctxInOf(req), ctxOut, new Budget(call, req.handle));
      return {};
    }),
    listRepresentors: unary(s.listRepresentors, async () => {
      if (def.listRepresentors === undefined) throw unimplemented('ListRepresentors');
      return { representors: (await def.listRepresentors()).map(toWireRepresentor) };
    }),
    watch: (call: ServerWritableStream<wire.WatchRequest, wire.WatchResponse>) => watch.add(call),
  };
}

/** One port's outcome, as PreparePorts and PortStream answer it: its answer, or its error. */
function portResult(def: ProviderDefinition, port: wire.PortCtxIn | undefined, budget: CallBudget): wire.PortResult | Promise<wire.PortResult> {
  let answer;
  try {
    answer = def.preparePort(ctxInOf({ ctxIn: port }), budget);
  } catch (err) {
    return failedPort(err);
  }
  return isThenable(answer) ? answer.then(preparedPort, failedPort) : preparedPort(answer);
}

function preparedPort(answer: ProviderAnswer): wire.PortResult {
  try {
    return { result: { $case: 'prepared', value: wireAnswer(answer) } };
  } catch (err) {
    return failedPort(err);
  }
}

function failedPort(err: unknown): wire.PortResult {
  const error = asPlugError(err);
  return { result: { $case: 'error', value: { code: Code[error.status], reason: error.reason, message: error.message, metadata: new Map(Object.entries(error.metadata)) } } };
}

const NO_HANDLE = Buffer.alloc(0);

function wireAnswer(answer: ProviderAnswer): wire.PreparePortResponse {
  if (!answer.plug) return { plug: false, ctxOut: undefined, handle: NO_HANDLE, declineReason: answer.reason, declineMessage: answer.message };
  return {
    plug: true,
    ctxOut: toWireCtxOut(answer.out),
    handle: answer.handle === undefined ? NO_HANDLE : Buffer.from(answer.handle),
    declineReason: '',
    declineMessage: '',
  };
}
