/**
 * Keeps a remote provider served by one live session for as long as its
 * class is registered, the way kubelet's plugin manager keeps its desired
 * and actual state apart from the reconciler between them:
 * - desired: what the registry asked for (the class registered, the
 *   instance it opened), which every new session restores;
 * - actual: the current session, and why the provider is down if it is;
 * - reconciling: starting a session (joining one being started), probing
 *   the serving one, noticing a lost one, marking the provider down and
 *   trying again with a growing delay, up to the probe interval.
 *
 * While the provider is down its calls fail at once (serving()), and
 * nothing else is affected: each provider has its own keeper, connection
 * and timers. The keeper makes no call for a caller (remote-provider.ts and
 * preparer.ts do) and words no failure (provider-errors.ts); it only decides
 * what a failure does to the session.
 */
import { Backoff } from '../common/backoff';
import type { GetInfoResponse } from '../gen/vifplug/provider/v1/provider';
import { PlugError, SERVING, type ProviderContext, type ProviderHealth } from '../registry';
import { ProviderCallError, type CallFailure } from './call-failure';
import type { ProviderEndpoint } from '../api/endpoint';
import { unreachable } from './endpoint';
import { FIRST_RETRY_MS, ProviderErrors } from './provider-errors';
import { Session, type SessionEvents } from './session';
import type { RemoteSettings } from './settings';

/** The shortest a health probe waits for its answer. */
const MIN_PROBE_TIMEOUT_MS = 1000;

/** The instance the registry opened: every session opens it too. */
export interface OpenInstance {
  readonly id: string;
  /** The instance's way to tell watching controllers that the provider's view changed. */
  readonly context: ProviderContext | undefined;
}

export class SessionKeeper implements SessionEvents {
  readonly errors: ProviderErrors;

  // What the registry asked for (the desired state).
  private registered = true;
  private instance: OpenInstance | undefined;

  // What is (the actual state).
  /** The latest session that started; kept while the provider is down, until the next one replaces it. */
  private current: Session | undefined;
  /** Why the provider is down; undefined while it serves. */
  private down: PlugError | undefined;

  // Reconciling.
  private attempt: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The delays between attempts to start a session while the provider is down. */
  private readonly retry: Backoff;

  constructor(
    type: string,
    private readonly address: ProviderEndpoint,
    private readonly settings: RemoteSettings,
  ) {
    this.retry = new Backoff({ minMs: FIRST_RETRY_MS, maxMs: settings.probeIntervalMs });
    this.errors = new ProviderErrors(type, address.spec, settings.providerTimeoutMs, () => this.retry.currentMs);
  }

  // --- the desired state ---

  /**
   * The instance every session opens from now on (undefined: none). Set
   * before the instance's own Open is sent, so that a session starting
   * meanwhile opens it too (Open is idempotent).
   */
  setInstance(instance: OpenInstance | undefined): void {
    this.instance = instance;
  }

  /** The class is unregistered (or never was): no session, no timer from now on. */
  stop(): void {
    this.registered = false;
    clearTimeout(this.timer);
    this.current?.close();
  }

  // --- the actual state ---

  /** What the latest session's GetInfo announced. */
  get info(): GetInfoResponse | undefined {
    return this.current?.info;
  }

  health(): ProviderHealth {
    if (this.down === undefined) return SERVING;
    return { serving: false, reason: this.down.reason, message: this.down.message };
  }

  /** The session to call on, or UNAVAILABLE while the provider is down. */
  serving(): Session {
    const session = this.live();
    if (session !== undefined) return session;
    throw this.errors.unavailable(this.down ?? unreachable(this.errors.endpoint, 'it was unregistered'));
  }

  /** The session while the provider serves; undefined for calls that have nothing to tell a provider that is down. */
  live(): Session | undefined {
    return this.registered && this.down === undefined ? this.current : undefined;
  }

  /** Whether a session began since the last Run: a Run says so as a change. */
  takeFresh(): boolean {
    return this.current?.takeFresh() ?? false;
  }

  /**
   * What a failed call means to its caller. Only the connection failing
   * marks the provider down (an UNAVAILABLE without reason while the channel
   * is no longer READY; the session's connectivity watch usually saw it
   * first): one caller's answer, a bare UNAVAILABLE included, never fails
   * the other ports' calls.
   */
  callFailed(method: string, failure: CallFailure, session: Session): PlugError {
    if (failure.kind === 'unavailable' && session.dropped(failure)) {
      this.lost(session, failure.message);
      return this.errors.unavailable(this.down ?? unreachable(this.errors.endpoint, failure.message));
    }
    return this.errors.of(method, failure);
  }

  // --- what sessions tell (SessionEvents) ---

  /** The connection to a serving provider dropped. */
  lost(session: Session, why: string): void {
    if (this.current !== session || this.down !== undefined || !this.registered) return;
    this.markDown(unreachable(this.errors.endpoint, why));
  }

  viewChanged(): void {
    this.instance?.context?.viewChanged();
  }

  watchUnimplemented(): void {
    const { type, endpoint } = this.errors;
    this.settings.logger.warn({ provider: type, endpoint }, `provider "${type}" announced Watch but answers it UNIMPLEMENTED; its view is followed by Run alone this session`);
  }

  portStreamBroke(failure: CallFailure): void {
    const { type, endpoint } = this.errors;
    this.settings.logger.warn({ provider: type, endpoint, failure }, `provider "${type}": its PortStream broke; the next call opens a new one`);
  }

  // --- reconciling ---

  /** Starts a new session, or joins the one being started. */
  connect(): Promise<void> {
    this.attempt ??= this.startSession().finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  private async startSession(): Promise<void> {
    const session = await Session.start(this.address, this.settings, this.errors, () => this.instance?.id, this);
    if (!this.registered) {
      session.close();
      throw unreachable(this.errors.endpoint, 'the provider was unregistered meanwhile');
    }
    const previous = this.current;
    this.current = session;
    previous?.close();
    if (this.down !== undefined) this.settings.logger.info({ provider: this.errors.type, endpoint: this.errors.endpoint }, `provider "${this.errors.type}" is serving`);
    this.down = undefined;
    this.retry.reset();
    session.follow();
    // A new session may see the world differently (the provider restarted).
    this.viewChanged();
    this.schedule(this.settings.probeIntervalMs, () => this.probe(session));
  }

  /** Periodic health probe of a serving provider. */
  private async probe(session: Session): Promise<void> {
    if (this.current !== session || this.down !== undefined || !this.registered) return;
    const timeoutMs = this.probeTimeoutMs;
    try {
      await session.probe(this.errors, timeoutMs);
    } catch (err) {
      if (this.current !== session || this.down !== undefined) return;
      this.markDown(err instanceof ProviderCallError ? this.errors.ofSession(err, timeoutMs) : (err as PlugError));
      return;
    }
    this.schedule(this.settings.probeIntervalMs, () => this.probe(session));
  }

  /**
   * How long a probe waits for its answer: the probe interval (at least 1 s,
   * so that a busy machine is not taken for a hung provider; at most the
   * provider timeout). A provider that stops answering is thus down within
   * about two intervals, not at the call timeout.
   */
  private get probeTimeoutMs(): number {
    return Math.min(this.settings.providerTimeoutMs, Math.max(this.settings.probeIntervalMs, MIN_PROBE_TIMEOUT_MS));
  }

  /** Fails every call from now on and tries new sessions until one succeeds. */
  private markDown(reason: PlugError): void {
    this.down = reason;
    this.current?.quiesce();
    const { type, endpoint } = this.errors;
    this.settings.logger.warn({ provider: type, endpoint, reason: reason.reason }, `provider "${type}" is down: ${reason.message}`);
    this.schedule(0, () => this.reconnect());
  }

  private async reconnect(): Promise<void> {
    if (!this.registered) return;
    try {
      await this.connect();
    } catch (err) {
      if (!this.registered) return;
      this.down = err instanceof PlugError ? err : unreachable(this.errors.endpoint, String(err));
      this.schedule(this.retry.next(), () => this.reconnect());
    }
  }

  private schedule(ms: number, task: () => Promise<void>): void {
    if (!this.registered) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void task(), ms);
    this.timer.unref();
  }
}
