/**
 * One session with a remote provider: a connection, started by dialling and
 * checking the provider (Health, GetInfo and its checks, Init, Open of the
 * instance that is open), and what lives exactly as long as that connection:
 * what GetInfo announced, the prepare route it allows, the Watch stream and
 * the PortStream. A provider that restarts is a new session, so nothing of
 * an old one (a PortStream, a lesson about PortStream) leaks into it.
 *
 * A session reports and does not decide: a connection that drops or a Watch
 * that breaks is told to its SessionEvents (the session keeper), which alone
 * marks the provider down and starts the next session. It never retries.
 */
import { connectivityState, status as Code, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';

import { HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health';
import type { GetInfoResponse, WatchResponse } from '../gen/vifplug/provider/v1/provider';
import type { CallBudget } from '../registry';
import { MalformedAnswer, ProviderCallError, type CallFailure } from './call-failure';
import { ProviderConnection } from './connection';
import type { ProviderEndpoint } from '../api/endpoint';
import { checkSocket } from './endpoint';
import { PortStream } from './port-stream';
import { PrepareRoute } from './prepare-route';
import type { ProviderErrors } from './provider-errors';
import type { RemoteSettings } from './settings';
import { codeName } from '../api/status';
import { API_VERSIONS, clip } from '../api/wire';

/** What a session tells its keeper. */
export interface SessionEvents {
  /** The connection dropped, or the Watch stream broke or ended. */
  lost(session: Session, why: string): void;
  /** The provider's Watch says its view changed. */
  viewChanged(): void;
  /** The PortStream broke, for another reason than the provider not serving it. */
  portStreamBroke(failure: CallFailure): void;
  /** The provider announced Watch but answers it UNIMPLEMENTED: the session goes on without it (Run is polled). */
  watchUnimplemented(): void;
}

export class Session {
  readonly route: PrepareRoute;
  private watch: ClientReadableStream<WatchResponse | MalformedAnswer> | undefined;
  private generation: number | undefined;
  /** Opened by the first call that takes the stream route. */
  private portStream: PortStream | undefined;
  /** A new session may see the world differently (the provider restarted): its first Run says that something changed. */
  private fresh = true;
  private closed = false;

  private constructor(
    readonly conn: ProviderConnection,
    readonly info: GetInfoResponse,
    private readonly timeoutMs: number,
    private readonly events: SessionEvents,
  ) {
    this.route = new PrepareRoute(info.capabilities);
  }

  /**
   * Dials and checks the provider at `address`, and opens the instance
   * `openInstance()` names when the time comes (it may have changed while
   * the session was starting). On failure, closes what it opened and throws
   * the PlugError that says why.
   */
  static async start(
    address: ProviderEndpoint,
    settings: RemoteSettings,
    errors: ProviderErrors,
    openInstance: () => string | undefined,
    events: SessionEvents,
  ): Promise<Session> {
    if (address.kind === 'unix') await checkSocket(address.path);
    const conn = new ProviderConnection(address, settings.tls);
    const deadline = () => Date.now() + settings.providerTimeoutMs;
    let info: GetInfoResponse;
    try {
      const health = await conn.health(deadline());
      if (health !== undefined && health !== HealthCheckResponse_ServingStatus.SERVING) throw errors.notServing(health);
      info = await conn.call('getInfo', {}, deadline());
      checkInfo(info, errors);
      const apiVersion = API_VERSIONS.find((v) => info.apiVersions.includes(v))!;
      await optional(conn.call('init', { apiVersion }, deadline())).catch((err: unknown) => {
        throw errors.initFailed(err instanceof ProviderCallError ? errors.of('Init', err.failure) : err);
      });
      const instanceId = openInstance();
      if (instanceId !== undefined) await optional(conn.call('open', { instanceId }, deadline()));
    } catch (err) {
      conn.close();
      throw err instanceof ProviderCallError ? errors.ofSession(err) : err;
    }
    return new Session(conn, info, settings.providerTimeoutMs, events);
  }

  /** The deadline of a call: the caller's budget, or the provider timeout for calls no caller waits for. */
  deadline(budget?: CallBudget): number {
    return budget?.deadline ?? Date.now() + this.timeoutMs;
  }

  /**
   * A health probe: Health/Check of the provider service, or GetInfo and its
   * checks when the server serves no Health, each given `timeoutMs` (the
   * keeper bounds it by the probe interval, so that a provider that stopped
   * answering is seen within about two intervals, not at the call timeout).
   * Throws a PlugError, or the ProviderCallError of a call that failed.
   */
  async probe(errors: ProviderErrors, timeoutMs: number): Promise<void> {
    const health = await this.conn.health(Date.now() + timeoutMs);
    if (health === undefined) checkInfo(await this.conn.call('getInfo', {}, Date.now() + timeoutMs), errors);
    else if (health !== HealthCheckResponse_ServingStatus.SERVING) throw errors.notServing(health);
  }

  /** Whether the connection stands now (a failed call on it was answered by the provider, not by grpc-js). */
  connected(): boolean {
    return !this.closed && this.conn.grpc.getChannel().getConnectivityState(false) === connectivityState.READY;
  }

  /**
   * Whether `failure` is the connection dropping rather than the provider's
   * answer: an UNAVAILABLE without a reason (grpc-js's word for a lost
   * connection, or a provider's bare one) on a connection that no longer
   * stands.
   */
  dropped(failure: CallFailure): boolean {
    return failure.kind === 'unavailable' && !this.connected();
  }

  /** Whether this is the first Run of the session (and it is not any more). */
  takeFresh(): boolean {
    const fresh = this.fresh;
    this.fresh = false;
    return fresh;
  }

  /** Notices, as soon as grpc-js does, a connection that dropped; and follows the Watch stream. */
  follow(): void {
    const channel = this.conn.grpc.getChannel();
    const watchState = (state: connectivityState) => {
      channel.watchConnectivityState(state, Infinity, () => {
        if (this.closed) return;
        const now = channel.getConnectivityState(false);
        if (now === connectivityState.READY) watchState(now);
        else this.events.lost(this, 'the connection to it closed');
      });
    };
    watchState(channel.getConnectivityState(false));
    if (this.info.capabilities?.watch !== true) return;
    const stream = this.conn.watch();
    this.watch = stream;
    this.generation = undefined;
    stream.on('data', (msg: WatchResponse | MalformedAnswer) => {
      if (this.watch !== stream || msg instanceof MalformedAnswer) return;
      const changed = this.generation !== undefined && msg.generation !== this.generation;
      this.generation = msg.generation;
      if (changed) this.events.viewChanged();
    });
    const followed = () => this.watch === stream && !this.closed;
    // A Watch that breaks or ends breaks the session: controllers may have
    // missed a change, and a new session starts with a fresh view. Except
    // UNIMPLEMENTED, though announced: the provider has no Watch after all,
    // and the session goes on without it (Run is polled), as the API says
    // of every optional RPC. The cancel of quiesce() comes after the session
    // stopped following the stream.
    stream.on('error', (err: ServiceError) => {
      if (!followed()) return;
      if (err.code === Code.UNIMPLEMENTED) {
        this.watch = undefined;
        this.events.watchUnimplemented();
        return;
      }
      this.events.lost(this, `its Watch stream broke (${codeName(err.code)}: ${clip(err.details, 200)})`);
    });
    stream.on('end', () => {
      if (followed()) this.events.lost(this, 'its Watch stream ended');
    });
  }

  /** The session's PortStream, opened anew if there is none or it broke. */
  openPortStream(): PortStream {
    if (this.portStream?.open === true) return this.portStream;
    const stream: PortStream = new PortStream(this.conn.grpc, ({ by, failure }) => {
      if (this.portStream === stream) this.portStream = undefined;
      if (this.closed || by === 'closed') return;
      if (failure.kind === 'unimplemented') this.route.withoutStream();
      else this.events.portStreamBroke(failure);
    });
    this.portStream = stream;
    return stream;
  }

  /**
   * The provider is down: stops following it and fails the calls under way
   * on its PortStream. The connection stays open until the next session
   * replaces it, so that unary calls under way still get their answers.
   */
  quiesce(): void {
    const watch = this.watch;
    this.watch = undefined;
    watch?.cancel();
    const stream = this.portStream;
    this.portStream = undefined;
    stream?.close();
  }

  /** Ends the session for good. */
  close(): void {
    this.closed = true;
    this.quiesce();
    this.conn.close();
  }
}

/** GetInfo must name our type and a version we speak. */
function checkInfo(info: GetInfoResponse, errors: ProviderErrors): void {
  if (info.type !== errors.type) throw errors.typeMismatch(info.type);
  if (!API_VERSIONS.some((v) => info.apiVersions.includes(v))) throw errors.apiUnsupported(info.apiVersions);
}

/** An optional RPC: UNIMPLEMENTED means nothing to do. */
async function optional(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ProviderCallError && err.failure.kind === 'unimplemented')) throw err;
  }
}
