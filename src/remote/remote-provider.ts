import { connectivityState, status as Code, type ChannelCredentials, type ClientReadableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health';
import type { GetInfoResponse, PortError, PortResult, PreparePortResponse, WatchResponse } from '../gen/vifplug/provider/v1/provider';
import {
  PlugError,
  SERVING,
  newId,
  type CallBudget,
  type PortCtxIn,
  type PortCtxOut,
  type PrepareResult,
  type ProviderContext,
  type ProviderHealth,
  type ProviderInstance,
  type RemoteProviderClass,
  type Representor,
} from '../registry';
import { MalformedAnswer, ProviderCallError, ProviderConnection, passedOn, type CallFailure } from './connection';
import type { ProviderEndpoint } from '../api/endpoint';
import { checkSocket, unreachable } from './endpoint';
import { PortStream, PortStreamBroken } from './port-stream';
import { MAX_BATCH } from '../api/limits';
import { API_VERSIONS, checkPrepareAnswer, clip, fromWireRepresentor, isReason, toWireCtxIn, toWireCtxOut } from '../api/wire';

export interface RemoteSettings {
  /** Deadline of the calls no controller waits for (GetInfo, Init, Open, Close, Destroy, probes). */
  readonly providerTimeoutMs: number;
  /** Health probes of a serving provider; the longest wait between attempts to reach one that is down. */
  readonly probeIntervalMs: number;
  /** Credentials for TCP endpoints; without them only unix sockets are dialled. */
  readonly tls?: ChannelCredentials;
  readonly logger: Logger;
}

const FIRST_RETRY_MS = 100;
const NO_HANDLE = Buffer.alloc(0);

/**
 * The class of a provider that lives in another process: every callback of
 * the contract is a call of vifplug.provider.v1.Provider, made with the
 * budget the instance gate gives it (deadline, cancellation).
 *
 * A session is one connection: GetInfo and the checks, Init, Open of the
 * instance if one is open. Whenever the connection drops, a probe fails or
 * the Watch stream breaks, the provider is down: its calls fail at once with
 * UNAVAILABLE / PROVIDER_UNAVAILABLE, and a new session is attempted with a
 * growing delay (up to the probe interval) until one succeeds. Nothing else
 * is affected: each provider has its own connection and its own timers.
 */
export class RemoteProvider implements RemoteProviderClass {
  readonly endpoint: string;
  private conn: ProviderConnection | undefined;
  /** Why the provider is down; undefined while it serves. */
  private down: PlugError | undefined;
  private info: GetInfoResponse | undefined;
  private instanceId: string | undefined;
  /** The open instance's way to tell watching controllers that the provider's view changed. */
  private context: ProviderContext | undefined;
  private attempt: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = FIRST_RETRY_MS;
  private stopped = false;
  private watch: ClientReadableStream<WatchResponse | MalformedAnswer> | undefined;
  private generation: number | undefined;
  /** A new session began: the next Run says that something changed. */
  private fresh = false;
  /** Ports waiting for the end of this turn of the event loop, by instance. */
  private readonly batches = new Map<string, PendingPort[]>();
  /** The session's PortStream, opened by the first PreparePort that needs it. */
  private portStream: PortStream | undefined;
  /** The provider answered PortStream UNIMPLEMENTED: PreparePort for the rest of the session. */
  private streamless = false;
  /** PreparePort handles, by the ctx_in they answered; they live as long as their ctx. */
  private readonly handles = new WeakMap<PortCtxIn, Buffer>();

  constructor(
    readonly type: string,
    private readonly address: ProviderEndpoint,
    private readonly settings: RemoteSettings,
  ) {
    this.endpoint = address.spec;
  }

  get maintainedIfaceOptions(): readonly string[] {
    return this.info?.maintainedIfaceOptions ?? [];
  }

  /** Whether the provider's GetInfo announced ListRepresentors. */
  get listsRepresentors(): boolean {
    return this.info?.capabilities?.listRepresentors === true;
  }

  /** Dials and checks the provider and starts its first session; on failure nothing is left behind. */
  async init(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  /** Ends the session; a provider that cannot be reached is let go without it. */
  async destroy(): Promise<void> {
    const conn = this.conn;
    if (conn !== undefined && this.down === undefined) {
      try {
        await conn.call('destroy', {}, this.deadline());
      } catch (err) {
        const failure = failureOf(err);
        if (failure.kind !== 'unimplemented' && failure.kind !== 'transport') throw this.error('Destroy', failure);
      }
    }
    this.stop();
  }

  health(): ProviderHealth {
    if (this.down === undefined) return SERVING;
    return { serving: false, reason: this.down.reason, message: this.down.message };
  }

  /** The provider registered again: start a new session now. */
  recheck(): Promise<void> {
    return this.connect();
  }

  async open(context?: ProviderContext): Promise<ProviderInstance> {
    const conn = this.serving();
    const instanceId = context?.instanceId ?? newId();
    // Set first, so that a session starting meanwhile opens it too (Open is idempotent).
    this.instanceId = instanceId;
    this.context = context;
    try {
      await conn.call('open', { instanceId }, this.deadline());
    } catch (err) {
      const failure = failureOf(err);
      if (failure.kind !== 'unimplemented') {
        this.instanceId = undefined;
        this.context = undefined;
        throw this.fail('Open', failure, conn);
      }
    }
    return new RemoteInstance(this, instanceId);
  }

  async listRepresentors(): Promise<readonly Representor[]> {
    const conn = this.serving();
    if (this.info?.capabilities?.listRepresentors !== true) throw listingUnsupported(this.type);
    try {
      const res = await conn.call('listRepresentors', {}, this.deadline());
      return res.representors.map(fromWireRepresentor);
    } catch (err) {
      const failure = failureOf(err);
      if (failure.kind === 'unimplemented') throw listingUnsupported(this.type);
      throw this.fail('ListRepresentors', failure, conn);
    }
  }

  // --- the instance's calls (RemoteInstance delegates here) ---

  async run(instanceId: string, budget: CallBudget | undefined): Promise<boolean> {
    const conn = this.serving();
    let changed = false;
    try {
      changed = (await conn.call('run', { instanceId }, this.deadline(budget), budget)).changed;
    } catch (err) {
      const failure = failureOf(err);
      if (failure.kind !== 'unimplemented') throw this.fail('Run', failure, conn);
    }
    const fresh = this.fresh;
    this.fresh = false;
    return changed || fresh;
  }

  /**
   * PreparePort. Ports asked about in the same turn of the event loop (the
   * ports of a PreparePorts, or concurrent callers) go to a provider that
   * announces PreparePorts in one call: the hop costs once per batch. A
   * port alone goes on the PortStream if the provider has one.
   */
  preparePort(instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    const conn = this.serving();
    if (this.info?.capabilities?.preparePorts !== true) return this.prepareAlone(conn, instanceId, ctxIn, budget);
    return new Promise((resolve, reject) => {
      let batch = this.batches.get(instanceId);
      if (batch === undefined) {
        batch = [];
        this.batches.set(instanceId, batch);
        queueMicrotask(() => this.flush(conn, instanceId));
      }
      batch.push({ ctxIn, budget, resolve, reject });
    });
  }

  private prepareAlone(conn: ProviderConnection, instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    if (budget === undefined || this.streamless || this.info?.capabilities?.portStream !== true) return this.prepareOne(conn, instanceId, ctxIn, budget);
    return this.prepareStreamed(conn, instanceId, ctxIn, budget);
  }

  private async prepareStreamed(conn: ProviderConnection, instanceId: string, ctxIn: PortCtxIn, budget: CallBudget): Promise<PrepareResult> {
    let result: PortResult;
    try {
      result = await this.openPortStream(conn).prepare({ instanceId, ctxIn: toWireCtxIn(ctxIn) }, this.deadline(budget), budget);
    } catch (err) {
      if (!(err instanceof PortStreamBroken)) throw this.fail('PortStream', failureOf(err), conn);
      const { by, failure } = err.end;
      // Nothing was served: the call is PreparePort's now.
      if (by === 'status' && failure.kind === 'unimplemented') return this.prepareOne(conn, instanceId, ctxIn, budget);
      // The connection dropped (the provider is down), or the provider broke the API.
      if ((by === 'status' && failure.kind === 'transport') || by === 'malformed') throw this.fail('PortStream', failure, conn);
      throw portStreamBroke(this.type, this.endpoint, failure);
    }
    return this.portResult('PortStream', ctxIn, result.result);
  }

  /** The session's PortStream, opened anew if there is none or it broke. */
  private openPortStream(conn: ProviderConnection): PortStream {
    if (this.portStream?.open === true) return this.portStream;
    const stream: PortStream = new PortStream(conn.grpc, ({ by, failure }) => {
      if (this.portStream === stream) this.portStream = undefined;
      if (this.conn !== conn || by === 'closed') return;
      if (failure.kind === 'unimplemented') this.streamless = true;
      else this.settings.logger.warn({ provider: this.type, endpoint: this.endpoint, failure }, `provider "${this.type}": its PortStream broke; the next call opens a new one`);
    });
    this.portStream = stream;
    return stream;
  }

  private closePortStream(): void {
    const stream = this.portStream;
    this.portStream = undefined;
    stream?.close();
  }

  private async prepareOne(conn: ProviderConnection, instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    let res;
    try {
      res = await conn.call('preparePort', { instanceId, ctxIn: toWireCtxIn(ctxIn) }, this.deadline(budget), budget);
    } catch (err) {
      throw this.fail('PreparePort', failureOf(err), conn);
    }
    return this.answer(ctxIn, res);
  }

  /** Sends the ports gathered for `instanceId`: one alone as PreparePort, more as PreparePorts of at most 1024. */
  private flush(conn: ProviderConnection, instanceId: string): void {
    const batch = this.batches.get(instanceId) ?? [];
    this.batches.delete(instanceId);
    if (batch.length === 1) {
      const [port] = batch;
      this.prepareAlone(conn, instanceId, port!.ctxIn, port!.budget).then(port!.resolve, port!.reject);
      return;
    }
    for (let i = 0; i < batch.length; i += MAX_BATCH) void this.prepareMany(conn, instanceId, batch.slice(i, i + MAX_BATCH));
  }

  private async prepareMany(conn: ProviderConnection, instanceId: string, ports: PendingPort[]): Promise<void> {
    // The call lives as long as the longest-lived caller wants it, and is
    // not cancelled: a port whose caller left earlier is answered late, and
    // the gate releases what it got.
    let deadline = 0;
    for (const port of ports) deadline = Math.max(deadline, this.deadline(port.budget));
    let results;
    try {
      results = (await conn.call('preparePorts', { instanceId, ports: ports.map((p) => toWireCtxIn(p.ctxIn)) }, deadline)).results;
    } catch (err) {
      const error = this.fail('PreparePorts', failureOf(err), conn);
      for (const port of ports) port.reject(error);
      return;
    }
    if (results.length !== ports.length) {
      const error = this.error('PreparePorts', { kind: 'bad', message: `answered ${results.length} results for ${ports.length} ports` });
      for (const port of ports) port.reject(error);
      return;
    }
    ports.forEach((port, i) => {
      try {
        port.resolve(this.portResult('PreparePorts', port.ctxIn, results[i]!.result));
      } catch (err) {
        port.reject(err);
      }
    });
  }

  /** One port's outcome in a PreparePorts or PortStream answer. */
  private portResult(method: string, ctxIn: PortCtxIn, result: PortResult['result']): PrepareResult {
    if (result?.$case === 'prepared') return this.answer(ctxIn, result.value);
    if (result?.$case === 'error') throw this.portError(method, result.value);
    throw this.error(method, { kind: 'bad', message: 'answered a port without a result' });
  }

  /** A checked PreparePort answer; its handle is kept with the ctx_in it answered. */
  private answer(ctxIn: PortCtxIn, res: PreparePortResponse): PrepareResult {
    const answer = checkPrepareAnswer(ctxIn.opType, res);
    if (typeof answer === 'string') throw this.error('PreparePort', { kind: 'bad', message: answer });
    if (!answer.plug) return answer;
    if (answer.handle.length > 0) this.handles.set(ctxIn, answer.handle);
    return { plug: true, out: answer.out };
  }

  /** One port's error in a PreparePorts or PortStream answer, judged as PreparePort's status would be. */
  private portError(method: string, e: PortError): PlugError {
    if (passedOn(e.code) === undefined || !isReason(e.reason)) {
      return this.error(method, { kind: 'bad', message: `answered a port error with code ${e.code} and reason "${clip(e.reason)}": ${clip(e.message, 512)}` });
    }
    return this.error(method, { kind: 'answered', code: e.code, reason: e.reason, message: e.message, metadata: e.metadata });
  }

  async finishPort(instanceId: string, ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined, budget: CallBudget | undefined): Promise<void> {
    const conn = this.serving();
    const request = { instanceId, ctxIn: toWireCtxIn(ctxIn), ctxOut: toWireCtxOut(ctxOut), handle: this.handles.get(ctxIn) ?? NO_HANDLE };
    try {
      await conn.call('finishPort', request, this.deadline(budget), budget);
    } catch (err) {
      const failure = failureOf(err);
      if (failure.kind !== 'unimplemented') throw this.fail('FinishPort', failure, conn);
    }
  }

  /**
   * While the provider is down there is nothing to tell: its next session
   * starts with Init, which forgets every ctx of the earlier one.
   */
  async destroyPortCtx(instanceId: string, ctxIn: PortCtxIn, ctxOut: PortCtxOut, budget: CallBudget | undefined): Promise<void> {
    const conn = this.conn;
    if (conn === undefined || this.down !== undefined) return;
    const request = { instanceId, ctxIn: toWireCtxIn(ctxIn), ctxOut: toWireCtxOut(ctxOut), handle: this.handles.get(ctxIn) ?? NO_HANDLE };
    try {
      await conn.call('destroyPortCtx', request, this.deadline(budget), budget);
    } catch (err) {
      const failure = failureOf(err);
      if (failure.kind === 'unimplemented') return;
      if (failure.kind === 'transport') return void this.lost(conn, failure.message);
      throw this.fail('DestroyPortCtx', failure, conn);
    }
  }

  async close(instanceId: string): Promise<void> {
    this.instanceId = undefined;
    this.context = undefined;
    const conn = this.conn;
    if (conn === undefined || this.down !== undefined) return;
    try {
      await conn.call('close', { instanceId }, this.deadline());
    } catch (err) {
      const failure = failureOf(err);
      if (failure.kind !== 'unimplemented' && failure.kind !== 'transport') throw this.fail('Close', failure, conn);
    }
  }

  // --- sessions ---

  /** Starts a new session, or joins the one being started. */
  private connect(): Promise<void> {
    this.attempt ??= this.session().finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  private async session(): Promise<void> {
    if (this.address.kind === 'unix') await checkSocket(this.address.path);
    const conn = new ProviderConnection(this.address, this.settings.tls);
    let info: GetInfoResponse;
    try {
      const health = await conn.health(this.deadline());
      if (health !== undefined && health !== HealthCheckResponse_ServingStatus.SERVING) throw notServing(this.endpoint, health);
      info = await conn.call('getInfo', {}, this.deadline());
      this.check(info);
      const apiVersion = API_VERSIONS.find((v) => info.apiVersions.includes(v))!;
      await optional(conn.call('init', { apiVersion }, this.deadline())).catch((err: unknown) => {
        throw initFailed(this.type, err instanceof ProviderCallError ? this.error('Init', err.failure) : err);
      });
      if (this.instanceId !== undefined) await optional(conn.call('open', { instanceId: this.instanceId }, this.deadline()));
    } catch (err) {
      conn.close();
      throw err instanceof ProviderCallError ? this.sessionError(err) : err;
    }
    if (this.stopped) {
      conn.close();
      throw unreachable(this.endpoint, 'the provider was unregistered meanwhile');
    }
    const previous = this.conn;
    this.closeWatch();
    this.closePortStream();
    this.streamless = false;
    this.conn = conn;
    this.info = info;
    previous?.close();
    if (this.down !== undefined) this.settings.logger.info({ provider: this.type, endpoint: this.endpoint }, `provider "${this.type}" is serving`);
    this.down = undefined;
    this.retryMs = FIRST_RETRY_MS;
    this.fresh = true;
    this.follow(conn, info);
    // A new session may see the world differently (the provider restarted).
    this.context?.viewChanged();
    this.schedule(this.settings.probeIntervalMs, () => this.probe(conn));
  }

  /** GetInfo must name our type and a version we speak. */
  private check(info: GetInfoResponse): void {
    if (info.type !== this.type) {
      throw new PlugError(
        'FAILED_PRECONDITION',
        'PROVIDER_TYPE_MISMATCH',
        `the provider at ${this.endpoint} serves type "${clip(info.type)}", not "${this.type}"; register it under its own type`,
        { metadata: { type: this.type, served_type: clip(info.type), endpoint: this.endpoint } },
      );
    }
    if (!API_VERSIONS.some((v) => info.apiVersions.includes(v))) {
      const offered = info.apiVersions.map((v) => clip(v, 16)).join(',') || '(none)';
      throw new PlugError(
        'FAILED_PRECONDITION',
        'PROVIDER_API_UNSUPPORTED',
        `the provider at ${this.endpoint} speaks provider API versions ${offered}; this vifplugd speaks ${API_VERSIONS.join(', ')}`,
        { metadata: { offered, supported: API_VERSIONS.join(','), endpoint: this.endpoint } },
      );
    }
  }

  /** Notices, as soon as grpc-js does, a connection that dropped; and follows the Watch stream. */
  private follow(conn: ProviderConnection, info: GetInfoResponse): void {
    const channel = conn.grpc.getChannel();
    const watchState = (state: connectivityState) => {
      channel.watchConnectivityState(state, Infinity, () => {
        if (this.conn !== conn) return;
        const now = channel.getConnectivityState(false);
        if (now === connectivityState.READY) watchState(now);
        else this.lost(conn, 'the connection to it closed');
      });
    };
    watchState(channel.getConnectivityState(false));
    if (info.capabilities?.watch !== true) return;
    const stream = conn.watch();
    this.watch = stream;
    this.generation = undefined;
    stream.on('data', (msg: WatchResponse | MalformedAnswer) => {
      if (this.watch !== stream || msg instanceof MalformedAnswer) return;
      const changed = this.generation !== undefined && msg.generation !== this.generation;
      this.generation = msg.generation;
      if (changed) this.context?.viewChanged();
    });
    const broken = (why: string) => {
      if (this.watch === stream && this.conn === conn) this.lost(conn, why);
    };
    stream.on('error', (err: Error & { code?: number }) => {
      const failure = failureOf(err);
      if (failure.kind !== 'cancelled' && failure.kind !== 'unimplemented') broken('its Watch stream broke');
    });
    stream.on('end', () => broken('its Watch stream ended'));
  }

  /** Periodic health probe of a serving provider. */
  private async probe(conn: ProviderConnection): Promise<void> {
    if (this.conn !== conn || this.down !== undefined || this.stopped) return;
    try {
      const health = await conn.health(this.deadline());
      if (health === undefined) this.check(await conn.call('getInfo', {}, this.deadline()));
      else if (health !== HealthCheckResponse_ServingStatus.SERVING) throw notServing(this.endpoint, health);
    } catch (err) {
      if (this.conn !== conn || this.down !== undefined) return;
      const reason = err instanceof ProviderCallError ? this.sessionError(err) : (err as PlugError);
      this.markDown(reason);
      return;
    }
    this.schedule(this.settings.probeIntervalMs, () => this.probe(conn));
  }

  /** The connection to a serving provider dropped. */
  private lost(conn: ProviderConnection, why: string): void {
    if (this.conn !== conn || this.down !== undefined || this.stopped) return;
    this.markDown(unreachable(this.endpoint, why));
  }

  /** Fails every call from now on and tries new sessions until one succeeds. */
  private markDown(reason: PlugError): void {
    this.down = reason;
    this.closeWatch();
    this.closePortStream();
    this.settings.logger.warn(
      { provider: this.type, endpoint: this.endpoint, reason: reason.reason },
      `provider "${this.type}" is down: ${reason.message}`,
    );
    this.schedule(0, () => this.reconnect());
  }

  private async reconnect(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.connect();
    } catch (err) {
      if (this.stopped) return;
      this.down = err instanceof PlugError ? err : unreachable(this.endpoint, String(err));
      this.retryMs = Math.min(this.retryMs * 2, this.settings.probeIntervalMs);
      this.schedule(this.retryMs, () => this.reconnect());
    }
  }

  private schedule(ms: number, task: () => Promise<void>): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void task(), ms);
    this.timer.unref();
  }

  private stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.closeWatch();
    this.closePortStream();
    this.conn?.close();
    this.conn = undefined;
  }

  private closeWatch(): void {
    const stream = this.watch;
    this.watch = undefined;
    stream?.cancel();
  }

  // --- errors ---

  /** The connection to call on, or UNAVAILABLE while the provider is down. */
  private serving(): ProviderConnection {
    if (this.down === undefined && this.conn !== undefined) return this.conn;
    const why = this.down ?? unreachable(this.endpoint, 'it was unregistered');
    return failFast(this.type, this.endpoint, why, this.retryMs);
  }

  private deadline(budget?: CallBudget): number {
    return budget?.deadline ?? Date.now() + this.settings.providerTimeoutMs;
  }

  /** What a failed call means to its caller; a transport failure also marks the provider down. */
  private fail(method: string, failure: CallFailure, conn: ProviderConnection): PlugError {
    if (failure.kind === 'transport') {
      this.lost(conn, failure.message);
      return unavailable(this.type, this.endpoint, this.down ?? unreachable(this.endpoint, failure.message), this.retryMs);
    }
    return this.error(method, failure);
  }

  private error(method: string, failure: CallFailure): PlugError {
    const type = this.type;
    switch (failure.kind) {
      case 'answered': {
        const metadata: Record<string, string> = { type };
        for (const [key, value] of [...failure.metadata].slice(0, 16)) if (!(key in metadata)) metadata[key] = clip(value, 256);
        return new PlugError(passedOn(failure.code)!, failure.reason, `provider "${type}": ${clip(failure.message, 900)}`, {
          metadata,
          retryAfterMs: failure.code === Code.UNAVAILABLE ? 1000 : undefined,
        });
      }
      case 'deadline':
        return new PlugError('DEADLINE_EXCEEDED', 'PROVIDER_TIMEOUT', `provider "${type}" did not answer ${method} in time`, {
          metadata: { type, operation: method },
        });
      case 'cancelled':
        return new PlugError('CANCELLED', 'CALLER_GONE', `the ${method} call to provider "${type}" was cancelled`);
      case 'unimplemented':
        return providerError(type, method, `does not implement ${method}, which the provider API requires`);
      case 'transport':
        return unavailable(type, this.endpoint, unreachable(this.endpoint, failure.message), this.retryMs);
      case 'bad':
        return providerError(type, method, failure.message);
    }
  }

  /** Why a session could not start, from a failed call. */
  private sessionError(err: ProviderCallError): PlugError {
    const f = err.failure;
    if (f.kind === 'transport') return unreachable(this.endpoint, f.message);
    if (f.kind === 'deadline') return unreachable(this.endpoint, `it did not answer within ${this.settings.providerTimeoutMs} ms`);
    if (f.kind === 'unimplemented') {
      return new PlugError(
        'FAILED_PRECONDITION',
        'PROVIDER_API_UNSUPPORTED',
        `the server at ${this.endpoint} does not serve vifplug.provider.v1.Provider (${clip(f.message, 200)})`,
        { metadata: { endpoint: this.endpoint, supported: API_VERSIONS.join(',') } },
      );
    }
    return this.error(err.method.slice(err.method.lastIndexOf('/') + 1), f);
  }
}

interface PendingPort {
  readonly ctxIn: PortCtxIn;
  readonly budget: CallBudget | undefined;
  resolve(result: PrepareResult): void;
  reject(err: unknown): void;
}

/** The open instance of a remote class: the gate's callbacks, bound to the instance id. */
class RemoteInstance implements ProviderInstance {
  constructor(
    private readonly provider: RemoteProvider,
    private readonly id: string,
  ) {}

  run(budget?: CallBudget): Promise<boolean> {
    return this.provider.run(this.id, budget);
  }

  preparePort(ctxIn: PortCtxIn, budget?: CallBudget): Promise<PrepareResult> {
    return this.provider.preparePort(this.id, ctxIn, budget);
  }

  finishPort(ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined, budget?: CallBudget): Promise<void> {
    return this.provider.finishPort(this.id, ctxIn, ctxOut, budget);
  }

  destroyPortCtx(ctxIn: PortCtxIn, ctxOut: PortCtxOut, budget?: CallBudget): Promise<void> {
    return this.provider.destroyPortCtx(this.id, ctxIn, ctxOut, budget);
  }

  close(): Promise<void> {
    return this.provider.close(this.id);
  }
}

function failureOf(err: unknown): CallFailure {
  if (err instanceof ProviderCallError) return err.failure;
  return { kind: 'bad', message: String(err) };
}

/** An optional RPC: UNIMPLEMENTED means nothing to do. */
async function optional(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ProviderCallError && err.failure.kind === 'unimplemented')) throw err;
  }
}

function failFast(type: string, endpoint: string, why: PlugError, retryMs: number): never {
  throw unavailable(type, endpoint, why, retryMs);
}

function unavailable(type: string, endpoint: string, why: PlugError, retryMs: number): PlugError {
  return new PlugError('UNAVAILABLE', 'PROVIDER_UNAVAILABLE', `provider "${type}" at ${endpoint} is down (${why.reason}: ${why.message}); retry later`, {
    metadata: { type, endpoint, cause: why.reason },
    retryAfterMs: Math.max(retryMs, FIRST_RETRY_MS),
  });
}

/** The PortStream a call was under way on broke; the provider still serves, and the next call opens a new stream. */
function portStreamBroke(type: string, endpoint: string, failure: CallFailure): PlugError {
  const why = failure.kind === 'answered' ? `${failure.reason}: ${clip(failure.message, 200)}` : 'message' in failure ? failure.message : failure.kind;
  return new PlugError('UNAVAILABLE', 'PROVIDER_UNAVAILABLE', `provider "${type}" at ${endpoint}: its PortStream broke while the call was under way (${why}); retry`, {
    metadata: { type, endpoint, cause: 'PORT_STREAM_BROKEN' },
    retryAfterMs: FIRST_RETRY_MS,
  });
}

function notServing(endpoint: string, status: HealthCheckResponse_ServingStatus): PlugError {
  const name = HealthCheckResponse_ServingStatus[status] ?? String(status);
  return new PlugError('UNAVAILABLE', 'PROVIDER_NOT_SERVING', `the provider at ${endpoint} reports health ${name}`, {
    metadata: { endpoint },
    retryAfterMs: 1000,
  });
}

function initFailed(type: string, err: unknown): PlugError {
  const why = err instanceof PlugError ? err.message : String(err);
  return new PlugError('FAILED_PRECONDITION', 'PROVIDER_INIT_FAILED', `provider "${type}" failed to initialize and was not registered: ${why}`, {
    metadata: { type },
    cause: err,
  });
}

function providerError(type: string, method: string, what: string): PlugError {
  return new PlugError('INTERNAL', 'PROVIDER_ERROR', `provider "${type}" ${what} (in ${method}); this is a bug in the provider`, {
    metadata: { type, operation: method },
  });
}

function listingUnsupported(type: string): PlugError {
  return new PlugError('UNIMPLEMENTED', 'LISTING_UNSUPPORTED', `provider "${type}" plugs no hardware ports and has nothing to list`, {
    metadata: { type },
  });
}
